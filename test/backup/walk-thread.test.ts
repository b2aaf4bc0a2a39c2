// A backup walks the tree on a thread of its own: it must take exactly what the walk on the main
// thread takes (names that are not UTF-8, extended attributes as Buffers, the filters, the
// problems and the skipped entries), and a backup that leaves early stops it.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { walkInThread } from '../../src/backup/walk-thread.js';
import { Filters } from '../../src/tree/filters.js';
import { Accounts, nativeMissing, writeXattr } from '../../src/tree/native-fs.js';
import { type ScannedEntry, type ScanReport, scanTree } from '../../src/tree/scanner.js';
import { tempDir } from '../support/tmp.js';

async function all(batches: AsyncIterable<ScannedEntry[]>): Promise<ScannedEntry[]> {
  const out: ScannedEntry[] = [];
  for await (const batch of batches) out.push(...batch);
  return out;
}

describe('walkInThread', () => {
  const root = tempDir();
  fs.mkdirSync(path.join(root, '.dbk'));
  fs.writeFileSync(path.join(root, '.dbk', 'filters'), '-*.tmp\n');
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(root, `f${i % 3}-${i}.${i % 10 === 0 ? 'tmp' : 'txt'}`), `${i}`);
  fs.mkdirSync(path.join(root, 'sub', 'deep'), { recursive: true });
  fs.writeFileSync(Buffer.from(`${root}/sub/bad\xff\xfename`, 'latin1'), 'not UTF-8');
  fs.symlinkSync('../f0-0.tmp', path.join(root, 'sub', 'link'));
  if (!nativeMissing) writeXattr(path.join(root, 'sub', 'deep'), 'user.note', Buffer.from('hello'));
  const socket = net.createServer().listen(path.join(root, 'sub', 'sock'));

  it('takes what the walk on the main thread takes, in the same order, with the same report', async () => {
    const inThread: ScanReport = { problems: [], skipped: [] };
    const onMain: ScanReport = { problems: [], skipped: [] };
    const entries = await all(walkInThread(root, root, { xattrs: true }, inThread));
    const expected = await all(scanTree(root, Filters.load(root), { xattrs: true, accounts: new Accounts() }, onMain));
    socket.close();
    expect(entries.length).toBeGreaterThan(2700);
    expect(entries).toEqual(expected);
    expect(inThread).toEqual(onMain);
    expect(inThread.skipped.map((s) => s.path)).toEqual(['sub/sock']);
    if (!nativeMissing) {
      const deep = entries.find((e) => e.path === 'sub/deep')!;
      expect(Buffer.isBuffer(deep.xattrs?.[0]?.value)).toBe(true);
      expect(deep.xattrs?.[0]?.value.toString()).toBe('hello');
    }
  });

  it('stops the thread when the backup leaves after the first batch', async () => {
    for await (const batch of walkInThread(root, root, { xattrs: false }, { problems: [], skipped: [] })) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
  });

  it('fails as the filters file does where it does not parse, before any thread starts', () => {
    const other = tempDir();
    fs.mkdirSync(path.join(other, '.dbk'));
    fs.writeFileSync(path.join(other, '.dbk', 'filters'), 'no sign here\n');
    const walk = walkInThread(other, other, { xattrs: false }, { problems: [], skipped: [] });
    return expect(walk.next()).rejects.toThrow(/filters/);
  });
});
