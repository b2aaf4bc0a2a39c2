// Runs the fuzzer: seeded cases for every decoder (targets.ts), each decoded once. A case passes
// when its decoder returns or throws a DbkError. What it measures: cases that escaped (any other
// error), the slowest case of each target, and the process's peak resident memory.

import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';
import { seededRandom } from '../../src/seeded-random.js';
import { allTargets } from './targets.js';

export interface TargetResult {
  name: string;
  cases: number;
  /** decoded (valid, or damaged harmlessly) */
  decoded: number;
  /** a case that threw something other than a DbkError, with the input as hex */
  escapes: { error: string; input: string }[];
  slowestMs: number;
  seconds: number;
}

export interface FuzzResult {
  targets: TargetResult[];
  peakRssMb: number;
  seconds: number;
}

export async function runFuzz(o: { cases: number; seed: number; onTarget?: (t: TargetResult) => void }): Promise<FuzzResult> {
  const started = Date.now();
  const work = fs.mkdtempSync(path.join(tmpdir(), 'dbk-fuzz-'));
  const targets = await allTargets(work);
  const results: TargetResult[] = [];
  let peak = process.memoryUsage.rss();
  try {
    for (const [i, t] of targets.entries()) {
      const rnd = seededRandom(o.seed * 100 + i);
      const begun = Date.now();
      const r: TargetResult = { name: t.name, cases: 0, decoded: 0, escapes: [], slowestMs: 0, seconds: 0 };
      for (let c = 0; c < o.cases; c++) {
        const input = t.make(rnd);
        const caseBegun = process.hrtime.bigint();
        try {
          await t.decode(input);
          r.decoded++;
        } catch (e) {
          if (!(e instanceof DbkError) && r.escapes.length < 20) r.escapes.push({ error: String((e as Error)?.stack ?? e), input: input.subarray(0, 4096).toString('hex') });
        }
        r.slowestMs = Math.max(r.slowestMs, Number(process.hrtime.bigint() - caseBegun) / 1e6);
        r.cases++;
        if (c % 64 === 0) peak = Math.max(peak, process.memoryUsage.rss());
      }
      r.seconds = (Date.now() - begun) / 1000;
      results.push(r);
      o.onTarget?.(r);
    }
  } finally {
    for (const t of targets) await t.close?.();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { targets: results, peakRssMb: Math.max(peak, process.memoryUsage.rss()) / 1e6, seconds: (Date.now() - started) / 1000 };
}
