// How a restore marks a file while it writes it: the writer creates it with the sticky bit and
// owner read-write (a mode no file of a user has in practice, and which means nothing for a
// regular file on Linux), and sets the file's own mode only once all of it is written. A restore
// killed mid-write leaves the file so marked, and the next restore replaces it, as it would
// replace nothing, instead of keeping it as a user's changed file.

import type { Stats } from 'node:fs';

export const UNFINISHED_MODE = 0o1600;

/**
 * A file a restore began and did not finish (even when all its content is there: the mode is set
 * last). Not when the file restored there should have this mode itself: then it may be finished
 * and since changed by the user.
 */
export const isUnfinishedRestore = (st: Stats, restoring?: { mode: number }): boolean =>
  st.isFile() && (st.mode & 0o7777) === UNFINISHED_MODE && (restoring === undefined || (restoring.mode & 0o7777) !== UNFINISHED_MODE);
