// Overview: a card per snapshot id of the storage, with its chart; a progress bar in the heading
// while the server computes the overview.

import { age, humanBytes, plural } from './format';
import { IdCard } from './id-card';
import { refreshOverview, useOverview } from './overview-store';
import { ProgressBar } from './progress-bar';

export function OverviewPage({ storage }: { storage: string }) {
  const { ready, computing } = useOverview(storage);
  const totalStored = ready?.ids.reduce((sum, id) => sum + id.storedBytes, 0) ?? 0;
  const now = Math.max(ready?.computedAt ?? 0, Date.now());
  return (
    <section class="page" aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Overview</h1>
        <span class="muted head-status">
          {computing ? (
            <ProgressBar done={computing.done} total={computing.total} label={`Computing the overview: ${computing.phase}`} testid="overview-progress" />
          ) : ready ? (
            `${plural(ready.ids.length, 'snapshot id')} · ${humanBytes(totalStored)} stored · computed ${age(ready.computedAt)}`
          ) : (
            '\u00a0'
          )}
        </span>
        <button type="button" class="push-end" onClick={() => refreshOverview(storage)} disabled={!!computing}>
          Refresh
        </button>
      </div>
      {ready && ready.ids.length === 0 && <p class="empty">No backups on this storage yet: run one from Jobs.</p>}
      <div class="cards">
        {ready?.ids.map((id) => (
          <IdCard key={id.id} overview={id} now={now} />
        ))}
      </div>
    </section>
  );
}
