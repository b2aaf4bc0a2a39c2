// One snapshot id on the Overview: its revisions, last backup and age (stale after 7 days),
// stored bytes and chart.

import { age, dateTime, humanBytes, humanCount } from './format';
import { href } from './router';
import { SizeChart } from './size-chart';
import type { IdOverview } from './types';

const staleAfter = 7 * 24 * 3600 * 1000;

export function IdCard({ overview, now }: { overview: IdOverview; now: number }) {
  const { id, revisionCount, lastBackup, storedBytes, revisions } = overview;
  const stale = lastBackup === null || now - lastBackup > staleAfter;
  const latest = revisions.reduce((max, r) => Math.max(max, r.revision), 0);
  return (
    <article class={`card${stale ? ' stale' : ''}`} data-testid={`card-${id}`}>
      <header class="card-head">
        <h2>
          <a class="title-link" href={href({ page: 'revisions', id })}>
            {id}
          </a>
        </h2>
        {stale && <span class="badge warn">stale</span>}
      </header>
      <dl class="facts">
        <div>
          <dt>Revisions</dt>
          <dd>{humanCount(revisionCount)}</dd>
        </div>
        <div>
          <dt>Last backup</dt>
          <dd class={stale ? 'warn-text' : undefined} title={lastBackup === null ? undefined : dateTime(lastBackup)}>
            {lastBackup === null ? 'never' : age(lastBackup, now)}
          </dd>
        </div>
        <div>
          <dt>Stored</dt>
          <dd>{humanBytes(storedBytes)}</dd>
        </div>
      </dl>
      <SizeChart id={id} revisions={revisions} />
      <footer class="card-foot">
        <a href={href({ page: 'revisions', id })}>Revisions</a>
        {latest > 0 && <a href={href({ page: 'browse', id, revision: latest, path: '' })}>Browse latest (r{latest})</a>}
      </footer>
    </article>
  );
}
