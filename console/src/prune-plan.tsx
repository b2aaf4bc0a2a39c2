// A prune dry run's outcome: its plan, as the CLI prints it, and the button that runs it for real.

import type { Job } from './types';

interface Props {
  job: Job;
  onConfirm: () => void;
  onDiscard: () => void;
}

export function PrunePlan({ job, onConfirm, onDiscard }: Props) {
  const plan: string[] = Array.isArray(job.result?.plan) ? job.result.plan : [];
  return (
    <section class="card prune-plan-box" aria-labelledby="plan-title">
      <h2 id="plan-title">Prune plan (dry run)</h2>
      {job.state === 'running' && <p class="muted">Working out what the prune would remove…</p>}
      {job.state === 'failed' && <p class="job-error">The dry run failed: {job.error}</p>}
      {job.state === 'cancelled' && <p class="muted">The dry run was cancelled.</p>}
      {job.state === 'done' && (
        <>
          {job.summary && <p>{job.summary}</p>}
          <pre class="plan" data-testid="prune-plan">
            {plan.length > 0 ? plan.join('\n') : 'Nothing to prune.'}
          </pre>
        </>
      )}
      <div class="dialog-buttons">
        <button type="button" onClick={onDiscard}>
          {job.state === 'done' ? 'Discard' : 'Close'}
        </button>
        {job.state === 'done' && (
          <button type="button" class="primary danger" onClick={onConfirm} data-testid="prune-confirm">
            Run this prune
          </button>
        )}
      </div>
    </section>
  );
}
