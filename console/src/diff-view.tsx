// What changed between two revisions: added, removed and changed paths with their sizes.

import { useEffect, useState } from 'preact/hooks';
import { getDiff } from './api';
import { showError } from './errors';
import { humanBytes, humanCount } from './format';
import type { Diff, DiffItem } from './types';

const marks: Record<DiffItem['change'], string> = { added: '+', removed: '−', changed: '~' };

export function DiffView({ storage, id, from, to }: { storage: string; id: string; from: number; to: number }) {
  const [diff, setDiff] = useState<Diff>();
  useEffect(() => {
    getDiff(storage, id, from, to).then(setDiff, showError);
  }, [storage, id, from, to]);

  const count = (change: DiffItem['change']) => diff?.items.filter((i) => i.change === change).length ?? 0;
  return (
    <section class="diff" aria-labelledby="diff-title" data-testid="diff">
      <h2 id="diff-title">
        r{from} → r{to}
      </h2>
      {!diff && <p class="muted">Comparing…</p>}
      {diff && (
        <>
          <p class="muted">
            {humanCount(count('added'))} added · {humanCount(count('removed'))} removed · {humanCount(count('changed'))} changed
            {diff.truncated && ' · the list was cut short'}
          </p>
          {diff.items.length === 0 ? (
            <p class="empty">No differences.</p>
          ) : (
            <ul class="diff-list">
              {diff.items.map((item) => (
                <li key={`${item.change}:${item.path}`} class={`diff-${item.change}`} data-testid={`diff-${item.change}`}>
                  <span class="diff-mark" title={item.change}>
                    {marks[item.change]}
                  </span>
                  <span class="diff-path">
                    {item.path}
                    {item.type === 'dir' ? '/' : ''}
                  </span>
                  <span class="diff-size">
                    {item.change === 'changed' && item.sizeBefore !== undefined && item.sizeAfter !== undefined
                      ? `${humanBytes(item.sizeBefore)} → ${humanBytes(item.sizeAfter)}`
                      : item.change === 'removed' && item.sizeBefore !== undefined
                        ? humanBytes(item.sizeBefore)
                        : item.sizeAfter !== undefined
                          ? humanBytes(item.sizeAfter)
                          : ''}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
