// Files on a storage written to hurt every client that reads them, met by the CLI: each costs a
// one-line error, well under a second and far under 256 MB, where they cost gigabytes and
// seconds to hours before. Peak memory is read from /proc while the process runs (Linux).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CompressStream, compress } from 'zstd-napi';
import { backup } from '../../src/commands/backup.js';
import { ObjectKind } from '../../src/format/object.js';
import { revisionPath } from '../../src/format/revision.js';
import { makeRepo, PASSWORD, put, type TestRepo, withRepository } from '../support/engine.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const linux = process.platform === 'linux';

/** Runs dbk, sampling its peak resident memory (VmHWM) every few milliseconds. */
function measured(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string; ms: number; peakMb: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DBK_PASSWORD: PASSWORD } });
    let stderr = '';
    let peakKb = 0;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited between two samples
      }
    }, 3);
    child.on('exit', (code) => {
      clearInterval(sample);
      resolve({ code, stderr, ms: Date.now() - started, peakMb: peakKb / 1024 });
    });
  });
}

function expectRefusedCheaply(r: { code: number | null; stderr: string; ms: number; peakMb: number }, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(2);
  expect(r.stderr).toMatch(message);
  expect(r.ms).toBeLessThan(5000); // mostly node starting; the refusal itself is milliseconds
  expect(r.peakMb).toBeLessThan(256);
}

/** A zstd frame that does not say how long its content is, as a streaming compressor writes it. */
async function unsizedZeros(bytes: number): Promise<Buffer> {
  const stream = new CompressStream({ compressionLevel: 1 });
  const out: Buffer[] = [];
  stream.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise((resolve) => stream.on('end', resolve));
  const piece = Buffer.alloc(16 << 20);
  for (let done = 0; done < bytes; done += piece.length) stream.write(piece);
  stream.end();
  await ended;
  return Buffer.concat(out);
}

/** Revision 2 of a repository replaced by `payload` as a plain object's compressed body. */
function plantRevision(repo: TestRepo, payload: Buffer): void {
  const body = Buffer.concat([Buffer.from([0x44, 0x42, 0x4b, 1, ObjectKind.REVISION, 1 | 4]), payload]);
  fs.writeFileSync(path.join(repo.storageDir, ...revisionPath('test', 2).split('/')), Buffer.concat([body, createHash('sha256').update(body).digest()]));
}

describe.skipIf(!linux)('hostile files on a storage', () => {
  it('a revision of a 1-byte frame and an unsized frame of 3 GB of zeros (92 KB on disk): refused, no 6 GB', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'a\n');
    await backup(repo.open);
    const first = compress(Buffer.from('{')); // declares its size: 1 byte
    const bomb = await unsizedZeros(3 << 30);
    expect(bomb.length).toBeLessThan(200_000);
    plantRevision(repo, Buffer.concat([first, bomb]));
    expectRefusedCheaply(await measured(repo.repoDir, ['list', '-files', '-r', '2']), /snapshots\/test\/2: \d+ bytes after the compressed frame/);
  }, 60_000);

  it('a revision naming one metadata chunk 200,000 times (13 MB that would read as 50 GB): refused before reading', async () => {
    const repo = await makeRepo();
    put(repo.repoDir, 'a.txt', 'a\n');
    await backup(repo.open);
    await withRepository(repo, async (r) => {
      const good = await r.loadRevision('test', 1);
      const files = new Array(200_000).fill(good.sequences.files[0]!);
      // declaring the honest file list's length, and the largest any may have
      for (const [n, declared] of [
        [2, good.fileListBytes!],
        [3, 1 << 30],
      ] as const) {
        const forged = { ...good, revision: n, fileListBytes: declared, sequences: { ...good.sequences, files } };
        await r.saveRevision(forged);
      }
    });
    for (const n of ['2', '3']) {
      expectRefusedCheaply(await measured(repo.repoDir, ['list', '-files', '-r', n]), /200000 metadata chunks for at most \d+ bytes/);
    }
  }, 60_000);

  it('a config asking for scrypt logN 22, r 8, p 255 (hours at 4 GB), or logN 24, r 255: refused before the key derivation', async () => {
    const repo = await makeRepo({ encrypt: true });
    const config = path.join(repo.storageDir, 'config');
    const good = fs.readFileSync(config);
    for (const [logN, r, p] of [
      [22, 8, 255],
      [24, 255, 1],
    ]) {
      const bad = Buffer.from(good);
      bad.set([logN!, r!, p!], 6);
      fs.chmodSync(config, 0o644);
      fs.writeFileSync(config, bad);
      expectRefusedCheaply(await measured(repo.repoDir, ['list']), /asks for a key derivation .* beyond what dbk allows/);
    }
  });

  it('a config asking for chunks of up to 1 GiB (a 3 GiB restore ring): refused', async () => {
    const repo = await makeRepo();
    const config = path.join(repo.storageDir, 'config');
    const good = fs.readFileSync(config);
    const json = JSON.parse(good.subarray(6, good.length - 32).toString());
    json.chunkSizes = { average: 1 << 28, minimum: 1 << 26, maximum: 1 << 30 };
    const body = Buffer.concat([good.subarray(0, 6), Buffer.from(JSON.stringify(json))]);
    fs.chmodSync(config, 0o644);
    fs.writeFileSync(config, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    expectRefusedCheaply(await measured(repo.repoDir, ['restore', '-r', '1']), /config: bad chunkSizes/);
  });
});
