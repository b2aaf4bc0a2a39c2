// Real dbk processes for the torture harness: started as `dbk` on the PATH runs (the node options
// of the CLI's #! line), each with its own environment (clock offset, injected faults), and
// killed with SIGKILL or held with SIGSTOP at any moment.

import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliNodeOptions } from '../support/cli-node-options.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** the built CLI, whether this runs built (dist/test/torture) or from source under vitest */
const CLI = path.resolve(here, here.split(path.sep).includes('dist') ? '../../src/cli/main.js' : '../../dist/src/cli/main.js');
const NODE_OPTIONS_OF_CLI = cliNodeOptions(CLI);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every process still running: none may outlive the harness (a held one would stay stopped forever). */
const alive = new Set<ChildProcess>();
const killAll = () => {
  for (const child of alive) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
};
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

export class DbkProcess {
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private done = false;
  /** stopped with SIGSTOP and not continued yet */
  held = false;
  /** SIGKILL was sent while it ran */
  killed = false;

  constructor(
    readonly what: string,
    cwd: string,
    readonly args: string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [...NODE_OPTIONS_OF_CLI, CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    alive.add(this.child);
    let stdout = '';
    let stderr = '';
    this.child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.done = true;
        alive.delete(this.child);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGKILL now; true when it was still running (a kill that counts). */
  kill(): boolean {
    if (this.done) return false;
    this.killed = true;
    if (this.held) this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    return true;
  }

  /** SIGSTOP now; true when it was still running. */
  hold(): boolean {
    if (this.done) return false;
    this.held = true;
    this.child.kill('SIGSTOP');
    return true;
  }

  resume(): void {
    if (!this.held) return;
    this.held = false;
    if (!this.done) this.child.kill('SIGCONT');
  }

  /** Waits for the exit, killing it after `ms` (a hang); `timedOut` says whether it had to. */
  async finish(ms: number): Promise<Exit & { timedOut: boolean }> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = this.kill();
    }, ms);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, timedOut };
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
