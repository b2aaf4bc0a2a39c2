// A one-line progress display for commands that go through phases (check, prune): the phase and
// how far it is, rewritten in place on a terminal, silent in pipes and with --json.

export interface PhaseProgress {
  update(phase: string, done: number, total?: number): void;
  stop(): void;
}

export function phaseProgress(enabled: boolean): PhaseProgress {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  let last = 0;
  let shown = false;
  return {
    update(phase, done, total) {
      const now = Date.now();
      if (now - last < 200 && done !== total) return;
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[K${phase}: ${done}${total === undefined ? '' : `/${total}`}`);
    },
    stop() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
