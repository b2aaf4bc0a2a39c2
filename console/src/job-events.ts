// The jobs the Jobs page shows: the server's list every 2 s (so jobs started elsewhere appear), and
// for each running job an EventSource with its progress, log lines and end.

import { useEffect, useRef, useState } from 'preact/hooks';
import { getJobs, jobEventsUrl } from './api';
import { showError } from './errors';
import type { Job } from './types';

const maxLogLines = 500;
const listEvery = 2000;

export interface JobsState {
  jobs: Job[];
  logs: ReadonlyMap<string, string[]>;
  /** a job this page just started or changed (before the next list arrives) */
  add: (job: Job) => void;
}

/** `next` unless it would take an ended job back to running (a list older than the end event) */
function newer(current: Job | undefined, next: Job): boolean {
  return !current || current.state === 'running' || next.state !== 'running';
}

export function useJobs(onEnd: (job: Job) => void): JobsState {
  const [jobs, setJobs] = useState<ReadonlyMap<string, Job>>(new Map());
  const [logs, setLogs] = useState<ReadonlyMap<string, string[]>>(new Map());
  const sources = useRef(new Map<string, EventSource>());
  const ended = useRef(onEnd);
  ended.current = onEnd;

  const add = (job: Job) => {
    setJobs((current) => {
      if (!newer(current.get(job.id), job)) return current;
      const next = new Map(current);
      next.set(job.id, job);
      return next;
    });
  };

  // the server's list, now and every 2 s
  useEffect(() => {
    let stopped = false;
    let failedBefore = false;
    const list = async () => {
      try {
        const listed = await getJobs();
        failedBefore = false;
        if (stopped) return;
        setJobs((current) => {
          const next = new Map<string, Job>();
          for (const job of listed) {
            const known = current.get(job.id);
            // a running job with an open stream has fresher progress than the list
            const keep = known && (!newer(known, job) || (job.state === 'running' && sources.current.has(job.id)));
            next.set(job.id, keep ? known : job);
          }
          for (const [id, job] of current) if (!next.has(id) && Date.now() - job.startedAt < 10_000) next.set(id, job); // just started, not listed yet
          return next;
        });
      } catch (e) {
        if (!failedBefore) showError(e);
        failedBefore = true;
      }
    };
    void list();
    const timer = setInterval(list, listEvery);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  // a stream per running job; onEnd for each job seen running and then ended
  const running = useRef(new Set<string>());
  useEffect(() => {
    for (const job of jobs.values()) {
      if (job.state === 'running') running.current.add(job.id);
      else if (running.current.delete(job.id)) ended.current(job);
    }
    for (const job of jobs.values()) {
      if (job.state !== 'running' || sources.current.has(job.id)) continue;
      const source = new EventSource(jobEventsUrl(job.id));
      sources.current.set(job.id, source);
      const close = () => {
        source.close();
        sources.current.delete(job.id);
      };
      source.addEventListener('progress', (e) => add(JSON.parse((e as MessageEvent).data) as Job));
      source.addEventListener('log', (e) => {
        const { line } = JSON.parse((e as MessageEvent).data) as { line: string };
        setLogs((current) => {
          const next = new Map(current);
          next.set(job.id, [...(current.get(job.id) ?? []), line].slice(-maxLogLines));
          return next;
        });
      });
      source.addEventListener('end', (e) => {
        const final = JSON.parse((e as MessageEvent).data) as Job;
        add(final);
        close();
      });
      // the stream is gone for good (the server refused it): the list keeps the job up to date
      source.addEventListener('error', () => {
        if (source.readyState === EventSource.CLOSED) close();
      });
    }
  }, [jobs]);

  useEffect(
    () => () => {
      for (const source of sources.current.values()) source.close();
      sources.current.clear();
    },
    [],
  );

  const sorted = [...jobs.values()].sort((a, b) => b.startedAt - a.startedAt);
  return { jobs: sorted, logs, add };
}
