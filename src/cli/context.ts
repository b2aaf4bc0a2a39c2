// What every CLI command shares: finding the repository, the logger (-v, -d), the password
// prompt, the progress line, size and revision parsing, and output as text or --json.

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { DbkError, ExitCode, usage } from '../errors.js';
import { bytesOfName, displayName } from '../format/names.js';
import { formatBytes } from '../human-size.js';
import type { Logger } from '../log.js';
import { findRepository } from '../storage/preferences.js';

export interface GlobalFlags {
  verbose?: boolean;
  debug?: boolean;
}

export function globalFlags(cmd: Command): GlobalFlags {
  return cmd.optsWithGlobals() as GlobalFlags;
}

/**
 * Aborted on the first Ctrl-C (or SIGTERM): commands stop between steps and clean up after
 * themselves (a backup removes its announcement, a restore its temporary files). A second one
 * ends the process at once.
 */
export const interruption = new AbortController();

export function catchInterruptions(): void {
  const stop = () => {
    if (interruption.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    interruption.abort(new DbkError('ABORTED', 'interrupted'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export function stderrLogger(flags: GlobalFlags): Logger {
  return {
    info: (m) => (flags.verbose || flags.debug) && process.stderr.write(`${m}\n`),
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
    debug: (m) => flags.debug && process.stderr.write(`debug: ${m}\n`),
  } as Logger;
}

export function repoDir(): string {
  const dir = findRepository(process.cwd());
  if (!dir) throw new DbkError('CONFIG', 'not inside a dbk repository (no .dbk/preferences here or above)', { hint: "run 'dbk init SNAPSHOT_ID STORAGE_URL' first" });
  return dir;
}

/** Asks for a password on the terminal without echo; undefined when there is no terminal. */
export function terminalPrompt(): ((prompt: string) => Promise<string>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return (prompt) =>
    new Promise((resolve, reject) => {
      const stdin = process.stdin;
      process.stderr.write(prompt);
      stdin.setRawMode(true);
      stdin.resume();
      let text = '';
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            done();
            resolve(text);
            return;
          }
          if (ch === '\u0003') {
            done();
            reject(new DbkError('ABORTED', 'interrupted'));
            return;
          }
          text = ch === '\u007f' ? text.slice(0, -1) : text + ch;
        }
      };
      const done = () => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
      };
      stdin.on('data', onData);
    });
}

const UNITS: Record<string, number> = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** "4M", "64K", "1048576" → bytes */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw usage(`not a size: ${text} (use e.g. 4M, 512K)`);
  return Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
}

export function parseInteger(text: string): number {
  if (!/^\d+$/.test(text)) throw usage(`not a number: ${text}`);
  return Number(text);
}

/** "5", "5-9" → revision numbers; repeatable options accumulate */
export function collectRevisions(text: string, prev: number[] = []): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw usage(`not a revision or range: ${text}`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (to < from) throw usage(`empty revision range: ${text}`);
  for (let n = from; n <= to; n++) prev.push(n);
  return prev;
}

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * JSON output. Buffers (hashes) as hex. A name that is not UTF-8 cannot be a JSON string: it is
 * given in its displayed form (`\xff`, see displayName()), and beside a `path` or `target` field
 * a `pathBase64` or `targetBase64` field carries its exact bytes.
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonValue, 2)}\n`);
}

/** One value as printJson() would write it, on one line: for output that is streamed. */
export const jsonLine = (value: unknown): string => JSON.stringify(value, jsonValue);

/** Writes to standard output, waiting while the pipe is full: a listing of millions is never held in its buffer. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** A JSON array printed as its items come, one a line. */
export async function printJsonArray<T>(items: AsyncIterable<T>, itemText: (item: T) => Promise<string> | string = jsonLine): Promise<void> {
  let first = true;
  await writeOut('[');
  for await (const item of items) {
    await writeOut(first ? '\n' : ',\n');
    await writeOut(await itemText(item)); // which may write part of the item itself
    first = false;
  }
  await writeOut(first ? ']\n' : '\n]\n');
}

function jsonValue(this: Record<string, unknown>, key: string, v: unknown): unknown {
  const raw = this[key]; // before toJSON(): a Buffer is still one
  if (Buffer.isBuffer(raw)) return raw.toString('hex');
  if (typeof v === 'string') return v.isWellFormed() ? v : displayName(v);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  const exact: Record<string, string> = {};
  for (const field of ['path', 'target']) {
    const name = o[field];
    if (typeof name === 'string' && !name.isWellFormed()) exact[`${field}Base64`] = bytesOfName(name).toString('base64');
  }
  return Object.keys(exact).length > 0 ? { ...o, ...exact } : v;
}

/** A progress line on a terminal (files, bytes, speed, ETA); nothing in a pipe or with --json. */
export function progressLine(enabled: boolean): { update(p: { files: number; totalFiles: number; bytes: number; totalBytes: number }): void; stop(): void } {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | {files}/{totalFiles} files | {done}/{all} | {speed}/s | ETA {eta_formatted}',
    hideCursor: true,
    etaBuffer: 50,
    fps: 5,
  });
  const start = Date.now();
  let started = false;
  return {
    update(p) {
      const speed = formatBytes(Math.round(p.bytes / Math.max(0.001, (Date.now() - start) / 1000)));
      const payload = { files: p.files, totalFiles: p.totalFiles, done: formatBytes(p.bytes), all: formatBytes(p.totalBytes), speed };
      if (!started) {
        bar.start(Math.max(1, p.totalBytes), p.bytes, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(1, p.totalBytes)); // a backup's total grows while the scan goes on
        bar.update(p.bytes, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A command that finished but wants a non-zero exit (some files skipped, chunks missing). */
export function finishWith(code: number): void {
  if (code !== 0) process.exitCode = code;
}
