// A backup killed mid-upload (SIGKILL, no chance to clean up) leaves only whole chunks behind, and
// the next run completes, reusing what was uploaded; the result restores byte for byte. A restore
// killed while writing a file leaves it marked unfinished, and the next restore completes it and
// removes the temporary files it left.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTempName } from '../backends/temp-names.js';
import { backup } from '../src/commands/backup.js';
import { restore } from '../src/commands/restore.js';
import { chunkHashOf, chunkIdOf } from '../src/crypto/keys.js';
import { decodeConfig } from '../src/format/config.js';
import { decodeObject, ObjectKind } from '../src/format/object.js';
import { UNFINISHED_MODE } from '../src/tree/unfinished-file.js';
import { chunkFiles, describeTree, joinRepo, makeRepo, put } from './support/engine.js';
import { tempDir } from './support/tmp.js';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

/**
 * Runs a backup in a child process over a storage slowed down to `delayMs` per chunk upload, so
 * the test can kill it half way. Built code from dist/ (npm test compiles it first).
 */
const CHILD = `
const [repoDir, dist, delayMs] = process.argv.slice(2);
const { pathToFileURL } = await import('node:url');
const load = (p) => import(pathToFileURL(dist + p).href);
const { registerScheme } = await load('backends/registry.js');
const { LocalBackend } = await load('backends/local/local.js');
class SlowLocal extends LocalBackend {
  async write(p, data) {
    if (p.startsWith('chunks/')) await new Promise((r) => setTimeout(r, Number(delayMs)));
    return super.write(p, data);
  }
}
registerScheme('file', async (url) => new SlowLocal(url));
const { backup } = await load('src/commands/backup.js');
await backup({ repoDir, threads: 2 });
console.log('finished');
`;

/** Every file under chunks/ that is not a temporary upload decodes, and its content hashes to its name. */
async function expectWholeChunks(storageDir: string): Promise<{ chunks: number; temps: number; bytes: number }> {
  const { keys } = await decodeConfig(fs.readFileSync(path.join(storageDir, 'config')));
  let chunks = 0;
  let temps = 0;
  let bytes = 0;
  for (const file of chunkFiles(storageDir)) {
    if (isTempName(path.basename(file))) {
      temps++;
      continue;
    }
    const data = fs.readFileSync(file);
    const plain = decodeObject(data, { kind: ObjectKind.CHUNK, maxLength: 1 << 30, what: file });
    const name = path.basename(path.dirname(file)) + path.basename(file);
    expect(chunkIdOf(keys.idKey, chunkHashOf(keys.hashKey, plain)), file).toBe(name);
    chunks++;
    bytes += data.length;
  }
  return { chunks, temps, bytes };
}

/** about a third of the ~380 chunks of the tree */
const KILL_AFTER_CHUNKS = 120;
const countChunks = (storageDir: string) => chunkFiles(storageDir).filter((f) => !isTempName(path.basename(f))).length;

describe('interrupted backup', () => {
  it('killed with SIGKILL mid-upload, then run again: completes and restores byte for byte', async () => {
    const repo = await makeRepo();
    for (let i = 0; i < 12; i++) put(repo.repoDir, `data/file-${i}.bin`, randomBytes(2 << 20));
    put(repo.repoDir, 'notes.txt', 'small file after the large ones\n');
    const expected = describeTree(repo.repoDir);

    const script = path.join(tempDir('dbk-child-'), 'slow-backup.mjs');
    fs.writeFileSync(script, CHILD);
    const child = spawn(process.execPath, [script, repo.repoDir, DIST, '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    const deadline = Date.now() + 30_000;
    while (countChunks(repo.storageDir) < KILL_AFTER_CHUNKS) {
      if (child.exitCode !== null) throw new Error(`the backup ended before it could be interrupted: ${output}`);
      if (Date.now() > deadline) throw new Error(`no chunks appeared: ${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(output).not.toContain('finished');

    const revisions = path.join(repo.storageDir, 'snapshots', 'test');
    expect(fs.existsSync(revisions) ? fs.readdirSync(revisions) : []).toEqual([]);
    const before = await expectWholeChunks(repo.storageDir);
    expect(before.chunks).toBeGreaterThanOrEqual(KILL_AFTER_CHUNKS);

    // chunks the killed run recorded as uploaded are all there
    const incomplete = path.join(repo.repoDir, '.dbk/cache/default/incomplete-test');
    const recorded = fs.existsSync(incomplete) ? fs.readFileSync(incomplete, 'utf8').split('\n').filter(Boolean) : [];
    expect(recorded.length).toBeGreaterThan(0);
    for (const id of recorded) expect(fs.existsSync(path.join(repo.storageDir, 'chunks', id.slice(0, 2), id.slice(2))), id).toBe(true);

    const second = await backup(repo.open);
    expect(second.revision).toBe(1);
    expect(second.problems).toEqual([]);
    const after = await expectWholeChunks(repo.storageDir);
    // what the killed run stored was not sent again
    expect(second.uploadedBytes).toBeLessThanOrEqual(after.bytes - before.bytes);
    expect(second.newChunks).toBeLessThanOrEqual(second.chunks - recorded.length);
    expect(fs.existsSync(incomplete)).toBe(false);

    const target = await joinRepo(repo);
    const r = await restore({ ...target.open, revision: 1 });
    expect(r.broken).toEqual([]);
    expect(describeTree(target.repoDir)).toEqual(expected);
  });
});

describe('interrupted restore', () => {
  /** A backed-up tree and a second repository on its storage, to restore into. */
  async function backedUpAndTarget() {
    const repo = await makeRepo();
    for (let i = 0; i < 8; i++) put(repo.repoDir, `data/f${i}.bin`, randomBytes(50_000 + i));
    put(repo.repoDir, 'notes.txt', 'as backed up\n');
    await backup(repo.open);
    return { source: repo, expected: describeTree(repo.repoDir), target: await joinRepo(repo) };
  }

  // the mark is the sticky bit, which only Linux lets anyone set on a file
  for (const hash of [false, true]) {
    it.skipIf(process.platform !== 'linux')(`completes the files a killed restore left unfinished, instead of keeping them as changed${hash ? ' (-hash)' : ''}`, async () => {
      const { source, expected, target } = await backedUpAndTarget();
      // what the file writer leaves when it is killed between two writes of a file: part of the
      // content under the file's own name, in the mode it creates files with (file-writer-worker.ts);
      // and, killed after the last write, all of the content with mode and mtime not yet set
      put(target.repoDir, 'data/f3.bin', randomBytes(20_000), { mode: UNFINISHED_MODE });
      put(target.repoDir, 'data/f5.bin', fs.readFileSync(path.join(source.repoDir, 'data/f5.bin')), { mode: UNFINISHED_MODE });
      const r = await restore({ ...target.open, revision: 1, hash });
      expect(r.keptFiles).toEqual([]);
      expect(r.broken).toEqual([]);
      expect(describeTree(target.repoDir)).toEqual(expected);
    });
  }

  it.skipIf(process.platform !== 'linux')('removes the temporary files of a restore that did not finish, and only after one', async () => {
    const { expected, target } = await backedUpAndTarget();
    const leftover = path.join(target.repoDir, 'data', '.dbk-restore-0123456789abcdef');
    const marker = path.join(target.repoDir, '.dbk', 'restore-unfinished');
    put(target.repoDir, 'data/.dbk-restore-0123456789abcdef', randomBytes(70_000), { mode: UNFINISHED_MODE });
    // no restore was interrupted: nothing is looked for
    await restore({ ...target.open, revision: 1 });
    expect(fs.existsSync(leftover)).toBe(true);
    expect(fs.existsSync(marker)).toBe(false);
    // one was (it left its marker): what it left goes, a look-alike of the user's stays
    fs.writeFileSync(marker, '');
    put(target.repoDir, 'data/.dbk-restore-notours', 'a file of the user');
    const r = await restore({ ...target.open, revision: 1 });
    expect(r.keptFiles).toEqual([]);
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.existsSync(marker)).toBe(false);
    const { 'data/.dbk-restore-notours': notOurs, ...restored } = describeTree(target.repoDir);
    expect(notOurs).toBeDefined();
    expect(restored).toEqual(expected);
  });

  it.skipIf(process.platform !== 'linux')('keeps a changed file whose backed-up mode is the mark itself', async () => {
    const { source, target } = await backedUpAndTarget();
    put(source.repoDir, 'marked.txt', 'backed up in mode 1600\n', { mode: UNFINISHED_MODE });
    await backup(source.open);
    put(target.repoDir, 'marked.txt', 'changed by the user\n', { mode: UNFINISHED_MODE });
    const r = await restore({ ...target.open, revision: 2 });
    expect(r.keptFiles).toEqual(['marked.txt']);
    expect(fs.readFileSync(path.join(target.repoDir, 'marked.txt'), 'utf8')).toBe('changed by the user\n');
  });

  it('still keeps a file the user changed, without -overwrite', async () => {
    const { expected, target } = await backedUpAndTarget();
    put(target.repoDir, 'notes.txt', 'changed by the user\n', { mode: 0o600 });
    const r = await restore({ ...target.open, revision: 1 });
    expect(r.keptFiles).toEqual(['notes.txt']);
    expect(fs.readFileSync(path.join(target.repoDir, 'notes.txt'), 'utf8')).toBe('changed by the user\n');
    const { 'notes.txt': _kept, ...rest } = describeTree(target.repoDir);
    const { 'notes.txt': _original, ...restExpected } = expected;
    expect(rest).toEqual(restExpected);
  });
});
