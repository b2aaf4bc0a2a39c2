// The recursive listing around the storage contract: the folder-by-folder walk for backends
// without a native listTree, and the retry wrapper around those with one. Both hand files on as
// they are found, so after a failure they must neither keep calling the consumer nor hand a
// file on twice.

import { describe, expect, it } from 'vitest';
import type { Backend, Entry, FoundFiles, ListTreeOptions } from '../../backends/backend.js';
import { collectTree, listTree } from '../../backends/list-tree.js';
import { MemoryBackend } from '../../backends/memory/memory.js';
import { withRetry } from '../../backends/retry.js';
import { DbkError } from '../../src/errors.js';

const transient = () => new DbkError('TRANSIENT', 'connection reset');

async function memoryWith(paths: string[]): Promise<MemoryBackend> {
  const b = new MemoryBackend();
  for (const p of paths) await b.write(p, Buffer.from(p));
  return b;
}

describe('listTree over list()', () => {
  it('hands on each folder as it is listed: its path relative to the listed folder, the names within it', async () => {
    const b = await memoryWith(['c/00/a', 'c/00/b', 'c/01/d/e', 'c/top', 'elsewhere/x']);
    const pages: string[] = [];
    await listTree(b, 'c', { threads: 2 }, (folder, files) =>
      pages.push(
        `${folder}: ${files
          .map((f) => f.name)
          .sort()
          .join(' ')}`,
      ),
    );
    expect(pages.sort()).toEqual(['00: a b', '01/d: e', ': top']);
    expect((await collectTree(b, 'c', { threads: 2 })).map((e) => e.name).sort()).toEqual(['00/a', '00/b', '01/d/e', 'top']);
  });

  it('stops listing after a failure and never calls the consumer once it has failed', async () => {
    const b = await memoryWith(Array.from({ length: 64 }, (_, i) => `c/${String(i).padStart(2, '0')}/f`));
    let lists = 0;
    const failing: Backend = Object.assign(Object.create(b) as Backend, {
      list: async (dir: string): Promise<Entry[]> => {
        if (++lists === 5) throw transient();
        return b.list(dir);
      },
    });
    let settled = false;
    let lateCalls = 0;
    const outcome = listTree(failing, 'c', { threads: 1 }, () => {
      if (settled) lateCalls++;
    }).finally(() => (settled = true));
    await expect(outcome).rejects.toThrow('connection reset');
    await new Promise((r) => setTimeout(r, 20));
    expect(lateCalls).toBe(0);
    expect(lists).toBeLessThan(10); // one folder at a time: the walk stopped soon after the failure
  });
});

describe('withRetry around a native listTree', () => {
  /** A backend whose listTree fails `failures` times, each time after handing on `before` files. */
  function flaky(failures: number, before: number): Backend & { calls: number } {
    const inner = new MemoryBackend();
    const files: Entry[] = Array.from({ length: 3 }, (_, i) => ({ name: String(i), size: i, dir: false }));
    const backend = Object.assign(inner, {
      calls: 0,
      async listTree(_dir: string, _o: ListTreeOptions, found: FoundFiles): Promise<void> {
        backend.calls++;
        if (backend.calls <= failures) {
          if (before > 0) found('00', files.slice(0, before));
          throw transient();
        }
        found('00', files);
      },
    });
    return backend;
  }

  it('starts a listing again when it failed before handing anything on', async () => {
    const inner = flaky(2, 0);
    const listed = await collectTree(withRetry(inner, { baseDelayMs: 1 }), 'chunks', { threads: 4 });
    expect(listed.map((e) => e.name)).toEqual(['00/0', '00/1', '00/2']);
    expect(inner.calls).toBe(3);
  });

  it('gives a listing up once it has handed files on, rather than hand them on twice', async () => {
    const inner = flaky(1, 2);
    const seen: string[] = [];
    const outcome = listTree(withRetry(inner, { baseDelayMs: 1 }), 'chunks', { threads: 4 }, (folder, files) => seen.push(...files.map((f) => `${folder}/${f.name}`)));
    await expect(outcome).rejects.toMatchObject({ code: 'TRANSIENT' });
    expect(inner.calls).toBe(1);
    expect(seen).toEqual(['00/0', '00/1']);
  });
});
