// A job's progress as server-sent events (text/event-stream): `progress` and `log` while it runs,
// `end` once, then the stream closes. A comment every 15 s keeps proxies from closing a quiet one.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JobEvent, Jobs } from './jobs.js';

const KEEPALIVE_MS = 15_000;

export function streamJobEvents(req: IncomingMessage, res: ServerResponse, jobs: Jobs, id: string): Promise<void> {
  jobs.get(id); // 404 before the stream starts
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': dbk job events\n\n');
  return new Promise((resolve) => {
    const keepalive = setInterval(() => res.write(': still here\n\n'), KEEPALIVE_MS);
    let unsubscribe = () => {};
    const finish = () => {
      clearInterval(keepalive);
      unsubscribe();
      resolve();
    };
    req.on('close', finish);
    unsubscribe = jobs.subscribe(id, (e: JobEvent) => {
      const data = e.type === 'log' ? { line: e.line } : e.job;
      res.write(`event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      if (e.type === 'end') {
        res.end();
        finish();
      }
    });
  });
}
