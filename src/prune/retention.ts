// Which revisions of one snapshot id a prune deletes: pure planning from -keep n:m policies, -r
// revision numbers and -t tags, with the rules users of this family of tools know:
//   - revisions are walked oldest first; ages are whole days before `now`, from the start time;
//   - a policy n:m covers revisions at least m days old, up to the next older policy; within it
//     the first revision is kept, and a later one is deleted while it is fewer than n days after
//     the last one kept; n = 0 deletes every revision it covers;
//   - policies may come in any order (they are sorted here, oldest age first);
//   - the newest revision is never deleted by a policy; with -exclusive it may be by -r or -t.

import { DAY_MS } from '../clock.js';
import { usage } from '../errors.js';

export { DAY_MS } from '../clock.js';

export interface KeepPolicy {
  /** keep one revision every `interval` days (0: keep none) … */
  interval: number;
  /** … among revisions at least `age` days old */
  age: number;
}

/** "n:m" → a policy. */
export function parseKeepPolicy(text: string): KeepPolicy {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw usage(`not a retention policy: ${text} (use n:m, e.g. -keep 7:30 for one revision every 7 days beyond 30 days)`);
  return { interval: Number(m[1]), age: Number(m[2]) };
}

export interface RetentionRevision {
  revision: number;
  /** milliseconds since the epoch */
  startTime: number;
  tag: string;
}

export interface RetentionRules {
  keep?: readonly KeepPolicy[];
  /** delete these revision numbers */
  revisions?: readonly number[];
  /** delete revisions with one of these tags */
  tags?: readonly string[];
  /** the newest revision may be deleted too, when -r or -t names it */
  exclusive?: boolean;
  /** milliseconds since the epoch */
  now: number;
}

export interface RetentionVerdict {
  revision: number;
  reason: string;
}

export interface RetentionPlan {
  delete: RetentionVerdict[];
  /** revisions the rules chose but that are kept anyway (the newest, without -exclusive) */
  spared: RetentionVerdict[];
}

export const ageInDays = (startTime: number, now: number) => Math.floor((now - startTime) / DAY_MS);

/** Plans deletions among the revisions of one snapshot id. */
export function planRetention(revisions: readonly RetentionRevision[], rules: RetentionRules): RetentionPlan {
  const sorted = [...revisions].sort((a, b) => a.revision - b.revision);
  const chosen = new Map<number, { reason: string; named: boolean }>();
  const explicit = new Set(rules.revisions ?? []);
  const tags = new Set(rules.tags ?? []);
  for (const r of sorted) {
    if (explicit.has(r.revision)) chosen.set(r.revision, { reason: 'selected with -r', named: true });
    else if (r.tag !== '' && tags.has(r.tag)) chosen.set(r.revision, { reason: `tagged ${r.tag}`, named: true });
  }
  for (const [revision, reason] of applyPolicies(sorted, rules.keep ?? [], rules.now)) {
    if (!chosen.has(revision)) chosen.set(revision, { reason, named: false });
  }
  const newest = sorted[sorted.length - 1]?.revision;
  const plan: RetentionPlan = { delete: [], spared: [] };
  for (const r of sorted) {
    const c = chosen.get(r.revision);
    if (c === undefined) continue;
    if (r.revision === newest && !(rules.exclusive && c.named)) plan.spared.push({ revision: r.revision, reason: `${c.reason}, but it is the newest revision` });
    else plan.delete.push({ revision: r.revision, reason: c.reason });
  }
  return plan;
}

/** Revisions the -keep policies delete, with the policy that deletes each. */
function applyPolicies(sorted: readonly RetentionRevision[], keep: readonly KeepPolicy[], now: number): Map<number, string> {
  const policies = [...keep].sort((a, b) => b.age - a.age);
  const out = new Map<number, string>();
  let p = 0;
  let lastKeptAge: number | undefined;
  for (const r of sorted) {
    const age = ageInDays(r.startTime, now);
    while (p < policies.length && age < policies[p]!.age) {
      p++;
      lastKeptAge = undefined; // a new policy's range starts by keeping its first revision
    }
    const policy = policies[p];
    if (!policy) break; // this and every later revision are younger than all policies
    const name = `-keep ${policy.interval}:${policy.age}`;
    if (policy.interval === 0) out.set(r.revision, `${name}: older than ${policy.age} days`);
    else if (lastKeptAge !== undefined && lastKeptAge - age < policy.interval) {
      const days = lastKeptAge - age;
      out.set(r.revision, `${name}: ${days} day${days === 1 ? '' : 's'} after the last kept revision`);
    } else lastKeptAge = age;
  }
  return out;
}
