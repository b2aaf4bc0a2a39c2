// Jobs: start a backup, a check or a prune (a dry run first, whose plan is confirmed before the
// real one), and follow every job live.

import { useState } from 'preact/hooks';
import { startJob } from './api';
import { showError } from './errors';
import { useJobs } from './job-events';
import { JobRow } from './job-row';
import { forgetOverview } from './overview-store';
import { PrunePlan } from './prune-plan';
import type { Job, JobRequest } from './types';

type PruneRequest = Extract<JobRequest, { kind: 'prune' }>;

export function JobsPage({ storage }: { storage: string }) {
  const { jobs, logs, add } = useJobs((job) => {
    if (job.state === 'done' && (job.kind === 'backup' || job.kind === 'prune')) forgetOverview(job.storage);
  });
  const [chunks, setChunks] = useState(false);
  const [files, setFiles] = useState(false);
  const [keep, setKeep] = useState('');
  const [exhaustive, setExhaustive] = useState(false);
  const [dryRun, setDryRun] = useState<{ jobId: string; request: PruneRequest }>();
  const [starting, setStarting] = useState(false);

  const start = async (request: JobRequest): Promise<Job | undefined> => {
    setStarting(true);
    try {
      const job = await startJob(request);
      add(job);
      return job;
    } catch (e) {
      showError(e);
      return undefined;
    } finally {
      setStarting(false);
    }
  };

  const planPrune = async (e: Event) => {
    e.preventDefault();
    const policies = keep.split(/[\s,]+/).filter(Boolean);
    const request: PruneRequest = { kind: 'prune', storage, keep: policies.length > 0 ? policies : undefined, exhaustive: exhaustive || undefined, dryRun: true };
    const job = await start(request);
    if (job) setDryRun({ jobId: job.id, request });
  };

  const confirmPrune = async () => {
    if (!dryRun) return;
    const job = await start({ ...dryRun.request, dryRun: false });
    if (job) setDryRun(undefined);
  };

  const dryRunJob = dryRun && jobs.find((j) => j.id === dryRun.jobId);
  const busy = starting || jobs.some((j) => j.storage === storage && j.state === 'running');
  const storages = new Set(jobs.map((j) => j.storage));

  return (
    <section class="page" aria-labelledby="jobs-title">
      <div class="page-head">
        <h1 id="jobs-title">Jobs</h1>
        <span class="muted">on storage {storage}</span>
      </div>
      <div class="launchers">
        <div class="launcher">
          <h2>Backup</h2>
          <p class="muted">A new revision of the repository's folder.</p>
          <button type="button" class="primary launch" onClick={() => start({ kind: 'backup', storage })} disabled={starting} data-testid="start-backup">
            Back up now
          </button>
        </div>
        <div class="launcher">
          <h2>Check</h2>
          <label class="check-label">
            <input type="checkbox" checked={chunks} onChange={(e) => setChunks(e.currentTarget.checked)} /> -chunks <span class="muted">read and verify every chunk</span>
          </label>
          <label class="check-label">
            <input type="checkbox" checked={files} onChange={(e) => setFiles(e.currentTarget.checked)} /> -files <span class="muted">verify every file's hash</span>
          </label>
          <button type="button" class="launch" onClick={() => start({ kind: 'check', storage, chunks: chunks || undefined, files: files || undefined })} disabled={starting} data-testid="start-check">
            Check
          </button>
        </div>
        <form class="launcher" onSubmit={planPrune}>
          <h2>Prune</h2>
          <label class="field">
            Keep policies <span class="muted">(n:m, e.g. 0:365 7:30 1:7)</span>
            <input type="text" value={keep} onInput={(e) => setKeep(e.currentTarget.value)} placeholder="0:365 7:30 1:7" spellcheck={false} data-testid="prune-keep" />
          </label>
          <label class="check-label">
            <input type="checkbox" checked={exhaustive} onChange={(e) => setExhaustive(e.currentTarget.checked)} /> -exhaustive <span class="muted">also remove unreferenced chunks</span>
          </label>
          <button type="submit" class="launch" disabled={starting} data-testid="start-prune">
            Prune… <span class="muted">(dry run first)</span>
          </button>
        </form>
      </div>
      {dryRunJob && <PrunePlan job={dryRunJob} onConfirm={confirmPrune} onDiscard={() => setDryRun(undefined)} />}
      <h2 class="section-title">Recent jobs {busy && <span class="badge state-running">a job is running on {storage}</span>}</h2>
      {jobs.length === 0 ? (
        <p class="empty">No jobs since the server started.</p>
      ) : (
        <ul class="jobs" data-testid="jobs">
          {jobs.map((job) => (
            <JobRow key={job.id} job={job} log={logs.get(job.id)} showStorage={storages.size > 1} onChange={add} />
          ))}
        </ul>
      )}
    </section>
  );
}
