// "Restore selected…": asks for the target folder (inside the repository folder, as the server
// restores nowhere else), starts a restore job and goes to Jobs.

import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { startJob } from './api';
import { showError } from './errors';
import { navigate } from './router';

interface Props {
  storage: string;
  id: string;
  revision: number;
  /** the paths to restore; none for the whole revision */
  paths: string[];
  /** the repository folder, which the target is relative to */
  repository: string;
  onClose: () => void;
}

export function RestoreDialog({ storage, id, revision, paths, repository, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [target, setTarget] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [busy, setBusy] = useState(false);

  // open (and focus the target field) before the first paint, so no keystroke lands elsewhere
  useLayoutEffect(() => {
    dialog.current?.showModal();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await startJob({ kind: 'restore', storage, id, revision, paths, target: target.trim(), overwrite });
      onClose();
      navigate({ page: 'jobs' });
    } catch (error) {
      showError(error);
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} class="dialog" onClose={onClose} aria-labelledby="restore-title" data-testid="restore-dialog">
      <form onSubmit={submit}>
        <h2 id="restore-title">
          Restore from {id} r{revision}
        </h2>
        <p class="muted">{paths.length === 0 ? 'Everything in the revision.' : paths.length <= 5 ? paths.join(', ') : `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more`}</p>
        <label class="field">
          Target folder, inside the repository folder
          <input type="text" value={target} onInput={(e) => setTarget(e.currentTarget.value.replace(/^\/+/, ''))} placeholder="restored/2024-06-01" spellcheck={false} data-testid="restore-target" />
          <span class="muted">{target.trim() === '' ? 'Empty: into the repository folder itself, in place.' : `Into ${repository}/${target.trim()}`}</span>
        </label>
        <label class="check-label">
          <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.currentTarget.checked)} /> Overwrite files that differ
        </label>
        <div class="dialog-buttons">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy} data-testid="restore-start">
            Restore
          </button>
        </div>
      </form>
    </dialog>
  );
}
