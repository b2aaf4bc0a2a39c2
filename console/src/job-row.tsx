// One job in the list: kind, storage, state, progress (space kept for it on every row), summary
// or error, its log lines, and Cancel while it runs.

import { useState } from 'preact/hooks';
import { cancelJob } from './api';
import { showError } from './errors';
import { age, dateTime, duration } from './format';
import { ProgressBar } from './progress-bar';
import type { Job } from './types';

const kindNames: Record<string, string> = { backup: 'Backup', check: 'Check', prune: 'Prune', restore: 'Restore' };

interface Props {
  job: Job;
  log: string[] | undefined;
  showStorage: boolean;
  onChange: (job: Job) => void;
}

export function JobRow({ job, log, showStorage, onChange }: Props) {
  const [cancelling, setCancelling] = useState(false);
  const cancel = async () => {
    setCancelling(true);
    try {
      onChange(await cancelJob(job.id));
    } catch (e) {
      showError(e);
      setCancelling(false);
    }
  };
  const { progress } = job;
  const took = job.endedAt ? duration(job.endedAt - job.startedAt) : undefined;
  return (
    <li class={`card job job-${job.state}`} data-testid={`job-${job.kind}`} data-job-id={job.id} data-state={job.state}>
      <div class="job-head">
        <span class="job-kind">
          {kindNames[job.kind] ?? job.kind}
          {job.request.kind === 'prune' && job.request.dryRun && <span class="muted"> (dry run)</span>}
        </span>
        {showStorage && <span class="muted">on {job.storage}</span>}
        <span class={`badge state-${job.state}`} data-testid="job-state">
          {job.state}
        </span>
        <span class="muted job-time" title={dateTime(job.startedAt)}>
          started {age(job.startedAt)}
          {took ? ` · took ${took}` : ''}
        </span>
        {job.state === 'running' && (
          <button type="button" class="push-end" onClick={cancel} disabled={cancelling} data-testid="job-cancel">
            {cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </div>
      <div class="job-progress">
        {progress ? (
          <ProgressBar done={progress.done} total={progress.total ?? (job.state === 'done' ? progress.done : undefined)} unit={progress.unit} label={progress.phase} testid="job-progress" />
        ) : (
          <div class="progress" data-testid="job-progress">
            <progress aria-label="progress" max={1} value={job.state === 'running' ? undefined : 1} />
            <span class="progress-text muted">{job.state === 'running' ? 'starting…' : ''}</span>
          </div>
        )}
      </div>
      {job.summary && (
        <p class="job-summary" data-testid="job-summary">
          {job.summary}
        </p>
      )}
      {job.error && (
        <p class="job-error" data-testid="job-error">
          {job.error}
        </p>
      )}
      {log && log.length > 0 && (
        <details class="job-log">
          <summary>Log ({log.length} lines)</summary>
          <pre>{log.join('\n')}</pre>
        </details>
      )}
    </li>
  );
}
