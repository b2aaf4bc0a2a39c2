// dbk password and dbk info: a new password opens the storage and the old one no longer does,
// other clients carry on with the new one, a change cut short at any step leaves a config that one
// of the two passwords opens (and the next change completes it); info tells a storage's config and
// ids without a repository.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.js';
import { LocalBackend } from '../../backends/local/local.js';
import { backup } from '../../src/commands/backup.js';
import { info } from '../../src/commands/info.js';
import { changePassword } from '../../src/commands/password.js';
import { restore } from '../../src/commands/restore.js';
import { newKdfParams } from '../../src/crypto/keys.js';
import { decodeConfig, encodeConfig } from '../../src/format/config.js';
import { readConfigFile, replaceConfigFile } from '../../src/storage/config-file.js';
import { Repository } from '../../src/storage/repository.js';
import { asking, describeTree, joinRepo, makeRepo, PASSWORD, put, seededBytes } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const NEW = 'a new and longer passphrase';

describe('dbk password', () => {
  it('re-seals the config: the new password opens it, the old does not, and another client carries on with the new one', async () => {
    const repo = await makeRepo({ encrypt: true });
    const other = await joinRepo(repo);
    put(repo.repoDir, 'a.bin', seededBytes(300_000, 'a'));
    await backup(repo.open);
    process.env.DBK_NEW_PASSWORD = NEW;
    try {
      const r = await changePassword({ repoDir: repo.repoDir, askPassword: asking(PASSWORD), kdfLogN: 14 });
      expect(r.kdf).toMatchObject({ algorithm: 'scrypt', logN: 14 });
    } finally {
      delete process.env.DBK_NEW_PASSWORD;
    }
    await expect(Repository.open({ repoDir: repo.repoDir, askPassword: asking(PASSWORD) })).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    put(repo.repoDir, 'b.txt', 'after the change\n');
    expect((await backup({ ...repo.open, askPassword: asking(NEW) })).revision).toBe(2);
    await restore({ ...other.open, askPassword: asking(NEW), revision: 2 });
    expect(describeTree(other.repoDir)).toEqual(describeTree(repo.repoDir));
  });

  it('refuses a plain storage, an out-of-range strength and mismatched new passwords', async () => {
    const plain = await makeRepo();
    await expect(changePassword({ repoDir: plain.repoDir })).rejects.toMatchObject({ code: 'CONFIG' });
    const sealed = await makeRepo({ encrypt: true });
    await expect(changePassword({ repoDir: sealed.repoDir, kdfLogN: 30 })).rejects.toMatchObject({ code: 'USAGE' });
    const answers = [PASSWORD, 'one', 'two'];
    await expect(changePassword({ repoDir: sealed.repoDir, kdfLogN: 14, askPassword: async () => answers.shift()! })).rejects.toMatchObject({ code: 'USAGE' });
    expect((await Repository.open({ ...sealed.open })).config.encrypted).toBe(true); // unchanged
  });

  it('a change cut short after any step leaves a config one of the passwords opens, and the next change completes', async () => {
    for (let failAt = 1; failAt <= 3; failAt++) {
      const storage = path.join(tempDir('dbk-config-swap-'), 'storage');
      const local = new LocalBackend(storage, { fsync: false });
      const kdf = () => newKdfParams(10);
      const { config } = await (async () => {
        const repo = await joinRepo({ storageDir: storage, encrypted: true });
        const r = await Repository.open(repo.open);
        await r.close();
        return r;
      })();
      const sealed = (password: string) => encodeConfig(config, { password, kdf: kdf() });
      await expect(replaceConfigFile(failingAfter(local, failAt), await sealed(NEW))).rejects.toThrow('cut short');
      const left = (await readConfigFile(local))!;
      const opened = await decodeConfig(left, PASSWORD).catch(() => decodeConfig(left, NEW));
      expect(opened.keys.idKey).toEqual(config.keys.idKey);
      await replaceConfigFile(local, await sealed('third'));
      expect((await decodeConfig((await readConfigFile(local))!, 'third')).keys.idKey).toEqual(config.keys.idKey);
      // a config.new beside the config was renamed aside, never deleted
      const configs = (await local.list('')).map((e) => e.name).filter((n) => n.startsWith('config'));
      expect(configs.filter((n) => !/^config\.new\.\d+$/.test(n))).toEqual(['config']);
      expect(configs.length).toBe(failAt === 2 ? 2 : 1);
    }
  });

  it('through the CLI, with DBK_NEW_PASSWORD', async () => {
    const repo = await makeRepo({ encrypt: true });
    const dbk = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: repo.repoDir, encoding: 'utf8', env: { ...process.env, ...env } });
    const changed = dbk({ DBK_PASSWORD: PASSWORD, DBK_NEW_PASSWORD: NEW }, 'password', '-kdf-strength', '14');
    expect(changed.status, changed.stderr).toBe(0);
    expect(changed.stdout).toMatch(/password of storage 'default' .* changed/);
    const old = dbk({ DBK_PASSWORD: PASSWORD }, 'list');
    expect(old.status).toBe(1);
    expect(old.stderr.trim().split('\n')[0]).toMatch(/wrong password/);
    expect(dbk({ DBK_PASSWORD: NEW }, 'list').status).toBe(0);
  });
});

describe('dbk info', () => {
  it("tells a storage's format, its sealed sizes only with the password, and its ids with their revisions", async () => {
    const repo = await makeRepo({ encrypt: true, snapshotId: 'laptop' });
    put(repo.repoDir, 'a.txt', 'a\n');
    await backup(repo.open);
    await backup(repo.open);
    const blind = await info({ storageUrl: repo.storageDir, repoDir: tempDir('dbk-info-') });
    expect(blind).toMatchObject({ encrypted: true, formatVersion: 1, kdf: { algorithm: 'scrypt' }, snapshotIds: [{ id: 'laptop', revisions: 2, first: 1, last: 2 }] });
    expect(blind.chunking).toBeUndefined();
    const seen = await info({ storageUrl: repo.storageDir, repoDir: tempDir('dbk-info-'), askPassword: asking(PASSWORD) });
    expect(seen.chunking).toMatchObject({ chunkSizes: { average: 64 * 1024 }, compressionLevel: 1 });
  });

  it('through the CLI, outside any repository, as text and --json; a folder that is no storage is a one-line error', () => {
    const somewhere = tempDir('dbk-info-cwd-');
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'info', ...args], { cwd: somewhere, encoding: 'utf8', env: { ...process.env, DBK_PASSWORD: '' } });
    const missing = run(tempDir('dbk-not-a-storage-'));
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim().split('\n')[0]).toMatch(/no dbk storage/);
    return (async () => {
      const repo = await makeRepo();
      await backup(repo.open);
      const text = run(repo.storageDir);
      expect(text.status, text.stderr).toBe(0);
      expect(text.stdout).toMatch(/not encrypted/);
      expect(text.stdout).toMatch(/zstd level 1/);
      const json = JSON.parse(run(repo.storageDir, '--json').stdout);
      expect(json.snapshotIds).toEqual([{ id: expect.any(String), revisions: 1, first: 1, last: 1 }]);
    })();
  });
});

/** A storage whose changes fail after the first `n - 1` succeed: a process killed between steps. */
function failingAfter(inner: Backend, n: number): Backend {
  let changes = 0;
  const change =
    <A extends unknown[]>(fn: (...a: A) => Promise<void>) =>
    async (...a: A) => {
      if (++changes >= n) throw new Error('cut short');
      return fn(...a);
    };
  return {
    ...inner,
    location: inner.location,
    list: (d) => inner.list(d),
    read: (p) => inner.read(p),
    stat: (p) => inner.stat(p),
    mkdir: (p) => inner.mkdir(p),
    close: () => inner.close(),
    write: change((p: string, d: Uint8Array) => inner.write(p, d)),
    rename: change((a: string, b: string) => inner.rename(a, b)),
    delete: change((p: string) => inner.delete(p)),
  };
}
