// The chunk files of a listing of chunks/, gathered as the pages arrive: each chunk's id as 32
// bytes in one growing buffer (ready to be numbered by the dictionary in one go), its stored size
// and whether it is a fossil. Names that are not chunks are skipped (foreign files are never touched).

import type { Entry } from '../../backends/backend.js';
import { KEY_BYTES } from '../../cache/id-table.js';
import { chunkListingInto } from '../format/ids.js';

export class ListedChunks {
  /** chunk ids, KEY_BYTES each, in the order listed */
  private ids = Buffer.allocUnsafe(KEY_BYTES * 4096);
  private sizes = new Uint32Array(4096);
  private fossil = new Uint8Array(4096);
  /** chunk files gathered so far */
  count = 0;

  /** Takes one page of the listing: files of `folder` (below chunks/). A FoundFiles for listTree(). */
  readonly add = (folder: string, files: readonly Entry[]): void => {
    for (let i = 0; i < files.length; i++) {
      const e = files[i]!; // (an indexed loop: for…of over a million entries costs a third more here)
      if (this.count === this.sizes.length) this.grow();
      const kind = chunkListingInto(folder, e.name, this.ids, this.count * KEY_BYTES);
      if (kind === undefined) continue;
      this.sizes[this.count] = e.size;
      this.fossil[this.count] = kind === 'fossil' ? 1 : 0;
      this.count++;
    }
  };

  /** The ids of every chunk file gathered, back to back. */
  idBytes(): Buffer {
    return this.ids.subarray(0, this.count * KEY_BYTES);
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  isFossil(i: number): boolean {
    return this.fossil[i] === 1;
  }

  private grow(): void {
    const n = this.sizes.length * 2;
    const ids = Buffer.allocUnsafe(n * KEY_BYTES);
    this.ids.copy(ids);
    this.ids = ids;
    const sizes = new Uint32Array(n);
    sizes.set(this.sizes);
    this.sizes = sizes;
    const fossil = new Uint8Array(n);
    fossil.set(this.fossil);
    this.fossil = fossil;
  }
}
