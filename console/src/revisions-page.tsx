// The revisions of one snapshot id: a table (new bytes from the overview, when it is known), two
// of them picked to compare, each linking to Browse.

import { useEffect, useState } from 'preact/hooks';
import { getRevisions } from './api';
import { DiffView } from './diff-view';
import { showError } from './errors';
import { age, dateTime, humanBytes, humanCount } from './format';
import { useOverview } from './overview-store';
import { href } from './router';
import type { Revision } from './types';

export function RevisionsPage({ storage, id }: { storage: string; id: string }) {
  const [revisions, setRevisions] = useState<Revision[]>();
  const [picked, setPicked] = useState<number[]>([]);
  const [compared, setCompared] = useState<[number, number]>();
  const { ready } = useOverview(storage);
  const stats = new Map(ready?.ids.find((i) => i.id === id)?.revisions.map((r) => [r.revision, r]));

  useEffect(() => {
    getRevisions(storage, id).then(setRevisions, showError);
  }, [storage, id]);

  const pick = (revision: number, on: boolean) => {
    // keeps the last two picked
    setPicked((current) => (on ? [...current.filter((r) => r !== revision), revision].slice(-2) : current.filter((r) => r !== revision)));
  };
  const compare = () => {
    const [a, b] = [...picked].sort((x, y) => x - y);
    if (a !== undefined && b !== undefined) setCompared([a, b]);
  };
  const newest = revisions ? [...revisions].reverse() : undefined;

  return (
    <section class="page" aria-labelledby="revisions-title">
      <div class="page-head">
        <h1 id="revisions-title">
          <a href="#/overview">Overview</a> / {id}
        </h1>
        <span class="muted">{revisions ? `${humanCount(revisions.length)} revisions` : '\u00a0'}</span>
        <button type="button" class="push-end" onClick={compare} disabled={picked.length !== 2} data-testid="compare">
          {picked.length === 2 ? `Compare r${Math.min(...picked)} → r${Math.max(...picked)}` : 'Pick two to compare'}
        </button>
      </div>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th class="check">
                <span class="sr-only">Compare</span>
              </th>
              <th class="num">Revision</th>
              <th>Time</th>
              <th>Tag</th>
              <th class="num">Files</th>
              <th class="num">Size</th>
              <th class="num">New bytes</th>
              <th>
                <span class="sr-only">Browse</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {newest?.map((r) => (
              <tr key={r.revision} data-testid={`revision-row-${r.revision}`} class={picked.includes(r.revision) ? 'picked' : undefined}>
                <td class="check">
                  <input type="checkbox" checked={picked.includes(r.revision)} onChange={(e) => pick(r.revision, e.currentTarget.checked)} aria-label={`Compare revision ${r.revision}`} />
                </td>
                <td class="num">
                  <a href={href({ page: 'browse', id, revision: r.revision, path: '' })}>r{r.revision}</a>
                </td>
                <td title={`${dateTime(r.startTime)} – ${dateTime(r.endTime)}`}>
                  {dateTime(r.startTime)} <span class="muted">({age(r.startTime)})</span>
                </td>
                <td>{r.tag}</td>
                <td class="num">{humanCount(r.files)}</td>
                <td class="num">{humanBytes(r.fileBytes)}</td>
                <td class="num">{stats.has(r.revision) ? humanBytes(stats.get(r.revision)?.newBytes ?? 0) : '—'}</td>
                <td>
                  <a href={href({ page: 'browse', id, revision: r.revision, path: '' })} data-testid={`browse-${r.revision}`}>
                    Browse
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!revisions && <p class="empty">Loading…</p>}
        {revisions?.length === 0 && <p class="empty">No revisions.</p>}
      </div>
      {compared && <DiffView key={compared.join('-')} storage={storage} id={id} from={compared[0]} to={compared[1]} />}
    </section>
  );
}
