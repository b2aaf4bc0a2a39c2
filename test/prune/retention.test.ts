import { describe, expect, it } from 'vitest';
import { isDbkError } from '../../src/errors.js';
import { DAY_MS, type KeepPolicy, parseKeepPolicy, planRetention, type RetentionRevision } from '../../src/prune/retention.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0);
/** One revision per entry of `ages` (days before NOW, oldest first), numbered from 1. */
const revisionsAged = (ages: number[], tag = ''): RetentionRevision[] => ages.map((age, i) => ({ revision: i + 1, startTime: NOW - age * DAY_MS, tag }));
const daily = (days: number) => revisionsAged(Array.from({ length: days }, (_, i) => days - 1 - i));
const keep = (...texts: string[]): KeepPolicy[] => texts.map(parseKeepPolicy);
const deletedAges = (revs: RetentionRevision[], policies: KeepPolicy[], exclusive = false) => {
  const plan = planRetention(revs, { keep: policies, now: NOW, exclusive });
  const byRevision = new Map(revs.map((r) => [r.revision, Math.round((NOW - r.startTime) / DAY_MS)]));
  return new Set(plan.delete.map((d) => byRevision.get(d.revision)));
};
const keptAges = (revs: RetentionRevision[], policies: KeepPolicy[]) => {
  const gone = deletedAges(revs, policies);
  return revs.map((r) => Math.round((NOW - r.startTime) / DAY_MS)).filter((a) => !gone.has(a));
};

describe('retention', () => {
  it('the reference schedule over 400 daily revisions', () => {
    const kept = keptAges(daily(400), keep('0:360', '30:90', '7:30', '1:7'));
    expect(kept).toEqual([
      359,
      329,
      299,
      269,
      239,
      209,
      179,
      149,
      119, // one per 30 days beyond 90
      89,
      82,
      75,
      68,
      61,
      54,
      47,
      40,
      33, // one per 7 days beyond 30
      ...Array.from({ length: 23 }, (_, i) => 29 - i), // one per day beyond 7
      6,
      5,
      4,
      3,
      2,
      1,
      0, // younger than every policy
    ]);
  });

  it('takes policies in any order', () => {
    const revs = daily(400);
    const inOrder = deletedAges(revs, keep('0:360', '30:90', '7:30', '1:7'));
    for (const order of [
      ['1:7', '7:30', '30:90', '0:360'],
      ['7:30', '0:360', '1:7', '30:90'],
    ]) {
      expect(deletedAges(revs, keep(...order))).toEqual(inOrder);
    }
  });

  it('n = 0 deletes everything at least m days old, and nothing younger', () => {
    expect([...deletedAges(daily(20), keep('0:10'))].sort((a, b) => a! - b!)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
  });

  it('ages are whole days: a backup a few minutes earlier each day is still one per day', () => {
    const revs = Array.from({ length: 10 }, (_, i) => ({
      revision: i + 1,
      startTime: NOW - (20 - i) * DAY_MS + i * 6 * 60_000 - 3 * 3600_000, // 6 minutes earlier each day
      tag: '',
    }));
    expect(planRetention(revs, { keep: keep('1:7'), now: NOW }).delete).toEqual([]);
  });

  it('keeps the first revision of a range, then one at least n days after the last kept', () => {
    // under -keep 3:30: 40 kept (first), 39 deleted (1 day after 40), 37 kept (3 days), 34 kept, 33 deleted, 31 kept
    const revs = revisionsAged([40, 39, 37, 34, 33, 31, 0]);
    expect(keptAges(revs, keep('3:30'))).toEqual([40, 37, 34, 31, 0]);
  });

  it('deletes -r revisions and -t tags, alongside the policies', () => {
    const revs = [...revisionsAged([5, 4, 3, 2, 1, 0])];
    revs[1] = { ...revs[1]!, tag: 'nightly' };
    const plan = planRetention(revs, { revisions: [3, 5], tags: ['nightly'], now: NOW });
    expect(plan.delete).toEqual([
      { revision: 2, reason: 'tagged nightly' },
      { revision: 3, reason: 'selected with -r' },
      { revision: 5, reason: 'selected with -r' },
    ]);
    expect(plan.spared).toEqual([]);
  });

  it('never deletes the newest revision, except one named with -r or -t under -exclusive; a policy never does', () => {
    const revs = revisionsAged([400, 380]);
    const plan = planRetention(revs, { keep: keep('0:360'), revisions: [2], now: NOW });
    expect(plan.delete.map((d) => d.revision)).toEqual([1]);
    expect(plan.spared).toEqual([{ revision: 2, reason: 'selected with -r, but it is the newest revision' }]);
    const policyOnly = planRetention(revs, { keep: keep('0:360'), now: NOW, exclusive: true });
    expect(policyOnly.delete.map((d) => d.revision)).toEqual([1]);
    expect(policyOnly.spared.map((d) => d.revision)).toEqual([2]);
    expect(planRetention(revs, { keep: keep('0:360'), revisions: [2], now: NOW, exclusive: true }).delete.map((d) => d.revision)).toEqual([1, 2]);
  });

  it('walks revisions in number order whatever order they come in', () => {
    const reversed = daily(50).reverse();
    expect(deletedAges(reversed, keep('7:10'))).toEqual(deletedAges(daily(50), keep('7:10')));
    expect(deletedAges(reversed, keep('7:10')).size).toBe(34); // ages 10–49 keep 49, 42, 35, 28, 21, 14
  });

  it('names the policy in each reason', () => {
    const plan = planRetention(revisionsAged([400, 100, 99, 0]), { keep: keep('0:360', '30:90'), now: NOW });
    expect(plan.delete).toEqual([
      { revision: 1, reason: '-keep 0:360: older than 360 days' },
      { revision: 3, reason: '-keep 30:90: 1 day after the last kept revision' },
    ]);
  });

  it('rejects malformed policies', () => {
    for (const bad of ['7', '7:', 'a:b', '-1:5', '1:2:3']) {
      let error: unknown;
      try {
        parseKeepPolicy(bad);
      } catch (e) {
        error = e;
      }
      expect(isDbkError(error, 'USAGE')).toBe(true);
    }
  });
});
