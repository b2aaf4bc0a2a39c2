// Collections for worker threads that make big buffers and few JS objects. V8 frees an
// ArrayBuffer's memory only when it collects, and it collects when its young generation fills or
// external memory has grown by about 64 MB: a codec worker, whose big allocations are the chunk it
// is handed and Node's cipher's output (the native module's works in place), carried up to 64 MB
// of spent buffers, as much as the rest of a backup's buffers together. Such a worker counts the
// bytes it leaves behind and runs a young collection every few megabytes; of a heap this small
// that costs well under a millisecond (a full collection cost ten, and half a second of a 10 s
// backup).
//
// The collector is reached the way V8 offers it to code that sets flags at run time: --expose-gc,
// then a new context, whose global `gc` it is.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' }) => void;
let collect: Collect | undefined;

function collector(): Collect {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

export class GarbageBudget {
  private spent = 0;

  constructor(private readonly limit = 8 << 20) {}

  /** Counts `bytes` of buffers left behind; collects the young generation once they add up to the limit. */
  leave(bytes: number): void {
    this.spent += bytes;
    if (this.spent < this.limit) return;
    this.spent = 0;
    collector()({ type: 'minor' });
  }
}
