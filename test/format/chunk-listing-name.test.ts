// Reading chunk ids back from a listing of chunks/: what check and prune do for every chunk file.

import { describe, expect, it } from 'vitest';
import { type ChunkId, chunkListingInto, chunkPath, fossilPath } from '../../src/format/ids.js';

const id = `ab${'0123456789abcdef'.repeat(4).slice(2)}` as ChunkId;

/** Splits a storage path chunks/<folder>/<name> as a listing hands it on. */
function listed(storagePath: string): [string, string] {
  const [, folder, name] = storagePath.split('/') as [string, string, string];
  return [folder, name];
}

describe('chunkListingInto', () => {
  it('reads chunk and fossil names back into the 32 bytes of the id', () => {
    const out = Buffer.alloc(40, 0xee);
    expect(chunkListingInto(...listed(chunkPath(id)), out, 4)).toBe('chunk');
    expect(out.subarray(4, 36).toString('hex')).toBe(id);
    expect(out[3]).toBe(0xee);
    expect(out[36]).toBe(0xee);
    out.fill(0);
    expect(chunkListingInto(...listed(fossilPath(id)), out, 0)).toBe('fossil');
    expect(out.subarray(0, 32).toString('hex')).toBe(id);
  });

  it('refuses names that are not chunks, so foreign files are never taken for one', () => {
    const [folder, name] = listed(chunkPath(id));
    const out = Buffer.alloc(32);
    for (const [f, n] of [
      [folder, name.toUpperCase()], // ids are lower-case hex
      [folder, name.slice(1)],
      [folder, `${name}0`],
      [folder, `${name}.tmp`],
      [folder, `${name.slice(0, 61)}g`],
      [folder, `${name.slice(0, 30)}é${name.slice(31)}`],
      ['a', name],
      ['abc', name],
      ['zz', name],
      ['', `${folder}${name}`],
    ]) {
      expect(chunkListingInto(f!, n!, out, 0), `${f}/${n}`).toBeUndefined();
    }
  });
});
