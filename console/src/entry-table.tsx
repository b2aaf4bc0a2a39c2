// The folder table of Browse: only the rows in view are rendered (fixed row height, spacer rows
// above and below), and their pages are fetched as they scroll in. Keyboard: arrows, Page Up/Down,
// Home/End move the cursor row, Enter opens it, Space ticks it, Backspace goes up a folder.

import type { JSX, TargetedKeyboardEvent, TargetedMouseEvent } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { FolderPages } from './folder-pages';
import { dateTime, humanBytes, modeString, owner } from './format';
import type { Entry } from './types';

const rowHeight = 30;
const overscan = 10;

interface Props {
  folder: FolderPages;
  /** the name of the entry to put the cursor on once loaded (the folder we came up from) */
  initialName?: string;
  selected: ReadonlySet<string>;
  onSelect: (entry: Entry, on: boolean) => void;
  /** a folder was opened */
  onOpen: (entry: Entry) => void;
  /** the cursor moved onto an entry, or a file was opened */
  onShow: (entry: Entry) => void;
  onUp: () => void;
  folderHref: (entry: Entry) => string;
}

export function EntryTable({ folder, initialName, selected, onSelect, onOpen, onShow, onUp, folderHref }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const table = useRef<HTMLTableElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(600);
  const [cursor, setCursor] = useState(-1);
  const placed = useRef(false);
  const total = folder.total ?? 0;

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total - 1, Math.ceil((scrollTop + viewHeight) / rowHeight) + overscan);

  // keeps the cursor row in view
  const moveTo = (index: number, show = true) => {
    const count = folder.total ?? 0;
    if (count === 0) return setCursor(-1);
    const clamped = Math.max(0, Math.min(count - 1, index));
    setCursor(clamped);
    const element = scroller.current;
    if (!element) return;
    const header = table.current?.tHead?.offsetHeight ?? 0;
    const top = clamped * rowHeight;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + rowHeight + header > element.scrollTop + element.clientHeight) element.scrollTop = top + rowHeight + header - element.clientHeight;
    const entry = folder.entry(clamped);
    if (show && entry && entry.type !== 'dir') onShow(entry);
  };

  useEffect(() => folder.ensure(first, last), [folder.ensure, first, last]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setViewHeight(element.clientHeight));
    observer.observe(element);
    table.current?.focus({ preventScroll: true });
    return () => observer.disconnect();
  }, []);

  // the cursor starts on the folder we came up from, else on the first entry
  useEffect(() => {
    if (placed.current || folder.total === undefined) return;
    placed.current = true;
    const index = initialName ? folder.indexOf(initialName) : -1;
    moveTo(index >= 0 ? index : folder.total > 0 ? 0 : -1, false);
  }, [folder.version]);

  const open = (index: number) => {
    const entry = folder.entry(index);
    if (!entry) return;
    if (entry.type === 'dir') onOpen(entry);
    else onShow(entry);
  };

  const onKeyDown = (e: TargetedKeyboardEvent<HTMLTableElement>) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const page = Math.max(1, Math.floor(viewHeight / rowHeight) - 2);
    const onTable = e.target === e.currentTarget;
    const keys: Record<string, () => void> = {
      ArrowDown: () => moveTo(cursor + 1),
      ArrowUp: () => moveTo(cursor - 1),
      PageDown: () => moveTo(cursor + page),
      PageUp: () => moveTo(cursor - page),
      Home: () => moveTo(0),
      End: () => moveTo(total - 1),
      Backspace: onUp,
    };
    if (onTable) {
      keys.Enter = () => open(cursor);
      keys[' '] = () => {
        const entry = folder.entry(cursor);
        if (entry) onSelect(entry, !selected.has(entry.path));
      };
    }
    const action = keys[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  };

  // a click anywhere on a row puts the cursor there
  const onClick = (e: TargetedMouseEvent<HTMLTableElement>) => {
    const row = (e.target as HTMLElement).closest('tr[data-index]');
    if (row) setCursor(Number(row.getAttribute('data-index')));
  };

  useLayoutEffect(() => {
    // when the folder shrinks below the scroll position (a new folder), start at the top
    const element = scroller.current;
    if (element && element.scrollTop > total * rowHeight) element.scrollTop = 0;
  }, [total]);

  const rows: JSX.Element[] = [];
  for (let i = first; i <= last; i++) {
    const entry = folder.entry(i);
    if (!entry) {
      rows.push(
        <tr key={`loading-${i}`} data-index={i} id={`entry-row-${i}`} class={i === cursor ? 'cursor' : undefined}>
          <td colSpan={6} class="muted">
            …
          </td>
        </tr>,
      );
      continue;
    }
    const checked = selected.has(entry.path);
    rows.push(
      <tr key={entry.path} data-index={i} id={`entry-row-${i}`} data-testid={`entry-${entry.name}`} data-type={entry.type} class={i === cursor ? 'cursor' : undefined} aria-selected={i === cursor}>
        <td class="check">
          {/* onClick, not onChange: the table's click re-renders before the change event, and would undo the tick */}
          <input type="checkbox" tabIndex={-1} checked={checked} onClick={(ev) => onSelect(entry, ev.currentTarget.checked)} aria-label={`Select ${entry.name}`} />
        </td>
        <td class="name">
          {entry.type === 'dir' ? (
            <a href={folderHref(entry)} tabIndex={-1} class="dir-link">
              {entry.name}/
            </a>
          ) : (
            <button type="button" tabIndex={-1} class="link-button file-link" onClick={() => onShow(entry)}>
              {entry.name}
              {entry.type === 'symlink' && entry.target !== undefined ? <span class="muted"> → {entry.target}</span> : null}
            </button>
          )}
        </td>
        <td class="num">{entry.type === 'file' ? humanBytes(entry.size) : ''}</td>
        <td class="num" title={dateTime(entry.mtime)}>
          {dateTime(entry.mtime, false)}
        </td>
        <td class="mono">{modeString(entry.mode, entry.type)}</td>
        <td class="owner">{owner(entry)}</td>
      </tr>,
    );
  }

  return (
    <div class="entries-scroll" ref={scroller} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      <table
        class="data entries"
        ref={table}
        tabIndex={0}
        // biome-ignore lint/a11y/noNoninteractiveElementToInteractiveRole: ARIA in HTML allows a table to be a grid, which this one is: arrows move the cursor row, Enter opens it
        role="grid"
        aria-label="Folder entries"
        aria-rowcount={total}
        aria-activedescendant={cursor >= 0 ? `entry-row-${cursor}` : undefined}
        onKeyDown={onKeyDown}
        onClick={onClick}
        data-testid="entries"
      >
        <colgroup>
          <col class="col-check" />
          <col />
          <col class="col-size" />
          <col class="col-time" />
          <col class="col-mode" />
          <col class="col-owner" />
        </colgroup>
        <thead>
          <tr>
            <th class="check">
              <span class="sr-only">Selected</span>
            </th>
            <th>Name</th>
            <th class="num">Size</th>
            <th class="num">Modified</th>
            <th>Mode</th>
            <th>Owner</th>
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr class="spacer" style={{ height: `${first * rowHeight}px` }} />}
          {rows}
          {last < total - 1 && <tr class="spacer" style={{ height: `${(total - 1 - last) * rowHeight}px` }} />}
        </tbody>
      </table>
      {folder.total === 0 && <p class="empty">This folder is empty.</p>}
      {folder.total === undefined && <p class="empty">Loading…</p>}
    </div>
  );
}
