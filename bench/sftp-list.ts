// The listing half of bench/sftp.ts, in its own process so that /usr/bin/time sees its wall time
// and peak RSS alone: opens a storage with openBackend() and lists its chunks/ with listTree(), as
// check and prune do. Prints one JSON line: files found, seconds to open, seconds to list.
// usage: node dist/bench/sftp-list.js STORAGE_URL THREADS REPO_DIR
//   REPO_DIR holds .dbk/known_hosts for an sftp:// storage; credentials come from the environment
//   (DBK_SSH_KEY_FILE for the storage `default`).

import { listTree } from '../backends/list-tree.js';
import { openBackend } from '../backends/registry.js';
import { ListedChunks } from '../src/catalog/listed-chunks.js';
import { silentLogger } from '../src/log.js';
import { makeSettings } from '../src/settings.js';

const [url, threadsArg, repoDir] = process.argv.slice(2);
const threads = Number(threadsArg);
if (!url || !repoDir || !(threads >= 1)) {
  console.error('usage: node dist/bench/sftp-list.js STORAGE_URL THREADS REPO_DIR');
  process.exit(2);
}

const seconds = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e9;

const opening = process.hrtime.bigint();
const backend = await openBackend(url, { settings: makeSettings('default'), repoDir, threads, log: silentLogger });
const open_s = seconds(opening);
const listing = process.hrtime.bigint();
const listed = new ListedChunks(); // what check and prune keep of a listing
await listTree(backend, 'chunks', { threads }, listed.add);
const list_s = seconds(listing);
await backend.close();
console.log(JSON.stringify({ files: listed.count, open_s, list_s }));
