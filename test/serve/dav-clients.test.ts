// `dbk serve`'s read-only WebDAV (/dav/) through clients that are not ours: rclone copies whole
// revisions (the newest with a Bearer token and with Basic auth, and an older one after a change)
// byte for byte; the `webdav` npm client lists, stats and reads byte ranges; and plain HTTP
// requests probe the protocol's edges: infinite depth, methods that would write, no or a wrong
// token, paths that try to leave their folder, and things that do not exist.
// Symlinks and special files are deliberately not served: the copies are compared with the
// source's regular files and folders.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthType, createClient, type FileStat, type WebDAVClient } from 'webdav';
import { backup } from '../../src/commands/backup.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { DBK_DIR } from '../../src/storage/preferences.js';
import { KiB, makeRepo, put, seededBytes, stampMtimes, type TestRepo, withRepository } from '../support/engine.js';
import { mustRclone, rcloneUnavailable } from '../support/rclone.js';
import { tempDir } from '../support/tmp.js';

const MiB = 1024 * KiB;
const STORAGE = 'default';
const ID = 'test';
const BIG = 'media/multi chunk.bin';
const BIG_SIZE = 3 * MiB + 777;
const unavailable = rcloneUnavailable();

interface Node {
  type: 'file' | 'dir';
  size: number;
  sha256?: string;
  /** a file's modification time in whole seconds: what WebDAV's getlastmodified carries */
  mtimeS?: number;
}

/** The regular files and folders below `root` (the repository's .dbk/ left out): what /dav/ serves of it. */
function servedTree(root: string): Record<string, Node> {
  const out: Record<string, Node> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === DBK_DIR) continue;
      const st = fs.lstatSync(path.join(root, r));
      if (st.isDirectory()) {
        out[r] = { type: 'dir', size: 0 };
        walk(r);
      } else if (st.isFile()) {
        const sha256 = createHash('sha256')
          .update(fs.readFileSync(path.join(root, r)))
          .digest('hex');
        out[r] = { type: 'file', size: st.size, sha256, mtimeS: Math.floor(st.mtimeMs / 1000) };
      }
    }
  };
  walk('');
  return out;
}

/** A few folders, three and more deep; files of 0, 1, a few KiB and a few MiB (one of many chunks); names with spaces, unicode, %, #, ? and XML's specials; a symlink and a fifo, which are not served. */
function buildTree(root: string): void {
  put(root, 'empty', '');
  put(root, 'one', 'x');
  put(root, 'notes/héllo wörld ✓.txt', 'unicode name\n'.repeat(300));
  put(root, 'notes/100% sure #1?.txt', seededBytes(3 * KiB + 5, 'percent'));
  put(root, `notes/a+b=c&d;e'f"<g>.txt`, 'XML and URL specials\n');
  put(root, 'deep/level 1/level 2/level 3/file.bin', seededBytes(5 * KiB, 'deep'));
  put(root, 'deep/level 1/日本語/ファイル 名.txt', '日本語のファイル\n');
  put(root, BIG, seededBytes(BIG_SIZE, 'big'));
  put(root, 'media/copy of multi chunk.bin', seededBytes(BIG_SIZE, 'big'));
  put(root, 'media/small.bin', seededBytes(4 * KiB, 'small'));
  fs.mkdirSync(path.join(root, 'empty folder'));
  fs.symlinkSync('notes', path.join(root, 'link to notes'));
  try {
    execFileSync('mkfifo', [path.join(root, 'deep/pipe')]);
  } catch {
    // no mkfifo: the symlink alone stands for what is not served
  }
  stampMtimes(root);
}

/** The second revision: a file changed, one gone, one new, and the big file's last 100 KiB rewritten. */
function changeTree(root: string): void {
  put(root, 'notes/héllo wörld ✓.txt', 'changed\n');
  fs.rmSync(path.join(root, 'one'));
  put(root, 'deep/level 1/new.txt', 'new in revision 2\n');
  const big = Buffer.from(fs.readFileSync(path.join(root, BIG)));
  seededBytes(100 * KiB, 'tail').copy(big, big.length - 100 * KiB);
  put(root, BIG, big);
}

/** A request sent exactly as written: fetch would resolve '..' in the path before sending it. */
function rawRequest(method: string, target: string, port: number, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dbk serve: WebDAV through other clients', () => {
  let repo: TestRepo;
  let server: RunningServer;
  let davUrl: string;
  let port: number;
  let auth: { authorization: string };
  /** the tree and the big file's bytes of revisions 1 and 2 */
  let trees: Record<number, Record<string, Node>>;
  let big: Record<number, Buffer>;

  beforeAll(async () => {
    repo = await makeRepo({ encrypt: true });
    buildTree(repo.repoDir);
    trees = { 1: servedTree(repo.repoDir) };
    big = { 1: fs.readFileSync(path.join(repo.repoDir, BIG)) };
    expect(trees[1]!['empty folder']).toEqual({ type: 'dir', size: 0 });
    expect(fs.lstatSync(path.join(repo.repoDir, 'link to notes')).isSymbolicLink()).toBe(true);
    expect(trees[1]!['link to notes']).toBeUndefined();
    expect((await backup(repo.open)).revision).toBe(1);
    changeTree(repo.repoDir);
    trees[2] = servedTree(repo.repoDir);
    big[2] = fs.readFileSync(path.join(repo.repoDir, BIG));
    expect((await backup(repo.open)).revision).toBe(2);
    server = await startServer({ ...repo.open, listen: '127.0.0.1:0' });
    davUrl = `${server.baseUrl}dav`;
    port = Number(new URL(server.baseUrl).port);
    auth = { authorization: `Bearer ${server.token}` };
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.skipIf(unavailable)('rclone', () => {
    /** `rclone copy` of a whole revision into a new folder; Basic auth takes the token obscured, as rclone wants its passwords. */
    const copy = async (revision: number, login: 'bearer' | 'basic') => {
      const home = tempDir('dbk-rclone-home-');
      const into = path.join(tempDir('dbk-rclone-copy-'), 'copy');
      const credentials = login === 'bearer' ? ['--webdav-bearer-token', server.token] : ['--webdav-user', 'x', '--webdav-pass', (await mustRclone(['obscure', server.token], { home })).trim()];
      const source = `:webdav:/${STORAGE}/${ID}/${revision}`;
      await mustRclone(['copy', source, into, '--webdav-url', davUrl, '--webdav-vendor', 'other', ...credentials, '--create-empty-src-dirs', '--retries', '1', '--low-level-retries', '2'], { home });
      return servedTree(into);
    };

    it('copies the newest revision byte for byte with a Bearer token', async () => {
      expect(await copy(2, 'bearer')).toEqual(trees[2]);
    });

    it('copies it with Basic auth, the token as the password', async () => {
      expect(await copy(2, 'basic')).toEqual(trees[2]);
    });

    it('copies the older revision as it was before the change', async () => {
      const old = await copy(1, 'bearer');
      expect(old).toEqual(trees[1]);
      expect(old).not.toEqual(trees[2]);
    });
  });

  describe('the webdav npm client', () => {
    let client: WebDAVClient;
    let tokenClient: WebDAVClient;
    beforeAll(() => {
      client = createClient(davUrl, { authType: AuthType.Password, username: 'anyone', password: server.token });
      tokenClient = createClient(davUrl, { headers: auth });
    });
    const rev = (r: number, p = '') => `/${STORAGE}/${ID}/${r}${p === '' ? '' : `/${p}`}`;
    const slice = async (r: number, p: string, start: number, end: number) => {
      const stream = client.createReadStream(rev(r, p), { range: { start, end } });
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      return Buffer.concat(parts);
    };

    it('lists folders with names, types, sizes and modification times', async () => {
      for (const r of [1, 2]) {
        for (const folder of ['', 'notes', 'deep/level 1', 'media', 'empty folder']) {
          const listed = (await client.getDirectoryContents(rev(r, folder))) as FileStat[];
          const expected = Object.entries(trees[r]!)
            .filter(([p]) => path.posix.dirname(p) === (folder === '' ? '.' : folder))
            .map(([p, n]) => ({ name: path.posix.basename(p), type: n.type === 'dir' ? 'directory' : 'file', size: n.size, ...(n.mtimeS === undefined ? {} : { mtime: n.mtimeS * 1000 }) }));
          const got = listed.map((s) => ({ name: s.basename, type: s.type, size: s.size, ...(s.type === 'file' ? { mtime: Date.parse(s.lastmod) } : {}) }));
          expect(
            got.sort((a, b) => a.name.localeCompare(b.name)),
            `${r}:${folder}`,
          ).toEqual(expected.sort((a, b) => a.name.localeCompare(b.name)));
          for (const s of listed) expect(s.filename).toBe(rev(r, folder === '' ? s.basename : `${folder}/${s.basename}`));
        }
      }
      // and the levels above a revision: storages, snapshot ids, revisions
      expect(((await tokenClient.getDirectoryContents('/')) as FileStat[]).map((s) => s.basename)).toEqual([STORAGE]);
      expect(((await tokenClient.getDirectoryContents(`/${STORAGE}`)) as FileStat[]).map((s) => s.basename)).toEqual([ID]);
      expect(((await tokenClient.getDirectoryContents(`/${STORAGE}/${ID}`)) as FileStat[]).map((s) => [s.basename, s.type])).toEqual([
        ['1', 'directory'],
        ['2', 'directory'],
      ]);
    });

    it('stats files and folders', async () => {
      const file = (await client.stat(rev(2, 'notes/100% sure #1?.txt'))) as FileStat;
      expect(file).toMatchObject({ type: 'file', basename: '100% sure #1?.txt', size: 3 * KiB + 5, etag: trees[2]!['notes/100% sure #1?.txt']!.sha256 });
      expect(Date.parse(file.lastmod)).toBe(trees[2]!['notes/100% sure #1?.txt']!.mtimeS! * 1000);
      expect(await client.stat(rev(1, 'deep/level 1/level 2'))).toMatchObject({ type: 'directory', basename: 'level 2' });
      expect(await client.exists(rev(2, 'one'))).toBe(false);
      expect(await client.exists(rev(1, 'one'))).toBe(true);
      expect(await client.exists(rev(2, 'link to notes'))).toBe(false); // symlinks and fifos are not served
      expect(await client.exists(rev(2, 'deep/pipe'))).toBe(false);
    });

    it('reads whole files and byte ranges, each the slice of the source', async () => {
      const whole = (await client.getFileContents(rev(2, 'notes/a+b=c&d;e\'f"<g>.txt'))) as Buffer;
      expect(whole.toString()).toBe('XML and URL specials\n');
      expect(((await client.getFileContents(rev(2, 'empty'))) as Buffer).length).toBe(0);
      // where the first chunk of the big file ends, inside the file
      const boundary = await withRepository(repo, async (r) => {
        const revision = await r.loadRevision(ID, 2);
        const [entries, lengths] = await Promise.all([r.readFileList(revision), r.readChunkLengths(revision)]);
        const range = entries.find((e) => e.path === BIG)!.range!;
        expect(range.endChunk - range.startChunk).toBeGreaterThan(10);
        return lengths[range.startChunk]! - range.startOffset;
      });
      const ranges: [number, string, number, number][] = [
        [2, BIG, 0, 0], // the first byte
        [2, BIG, BIG_SIZE - MiB, BIG_SIZE - 1], // the last MiB
        [1, BIG, BIG_SIZE - MiB, BIG_SIZE - 1], // the same of the older revision
        [2, BIG, boundary - 1000, boundary + 999], // across a chunk boundary
        [2, BIG, boundary, boundary], // the first byte of the second chunk
        [2, BIG, 1234, BIG_SIZE - 4321], // nearly all of it
      ];
      for (const [r, p, start, end] of ranges) expect((await slice(r, p, start, end)).equals(big[r]!.subarray(start, end + 1)), `${r}:${start}-${end}`).toBe(true);
      const small = fs.readFileSync(path.join(repo.repoDir, 'media/small.bin'));
      expect((await slice(2, 'media/small.bin', 100, 199)).equals(small.subarray(100, 200))).toBe(true);
      // a suffix range, which the client has no option for
      const suffix = await fetch(`${davUrl}${encodeURI(rev(2, BIG))}`, { headers: { ...auth, range: 'bytes=-5000' } });
      expect(suffix.status).toBe(206);
      expect(suffix.headers.get('content-range')).toBe(`bytes ${BIG_SIZE - 5000}-${BIG_SIZE - 1}/${BIG_SIZE}`);
      expect(Buffer.from(await suffix.arrayBuffer()).equals(big[2]!.subarray(BIG_SIZE - 5000))).toBe(true);
    });

    it('answers 416 for a range beyond the end', async () => {
      const r = await fetch(`${davUrl}${encodeURI(rev(2, BIG))}`, { headers: { ...auth, range: `bytes=${BIG_SIZE}-${BIG_SIZE + 10}` } });
      expect(r.status).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${BIG_SIZE}`);
      await r.arrayBuffer();
      await expect(slice(2, 'one', 5, 10).catch(() => 'refused')).resolves.toBe('refused');
    });

    it('HEAD gives the length and an ETag of the content: equal content, equal tags in both revisions', async () => {
      const head = async (r: number, p: string) => {
        const res = await fetch(`${davUrl}${encodeURI(rev(r, p))}`, { method: 'HEAD', headers: auth });
        expect(res.status, `${r}:${p}`).toBe(200);
        expect(await res.text()).toBe('');
        return { length: Number(res.headers.get('content-length')), etag: res.headers.get('etag') };
      };
      const copy1 = await head(1, 'media/copy of multi chunk.bin');
      const copy2 = await head(2, 'media/copy of multi chunk.bin');
      const big1 = await head(1, BIG);
      const big2 = await head(2, BIG);
      expect(copy1).toEqual({ length: BIG_SIZE, etag: `"${trees[1]!['media/copy of multi chunk.bin']!.sha256}"` });
      expect(copy2).toEqual(copy1);
      expect(big1).toEqual(copy1); // the same bytes under another name
      expect(big2.length).toBe(BIG_SIZE);
      expect(big2.etag).not.toBe(big1.etag);
      expect(await head(2, 'empty')).toEqual({ length: 0, etag: `"${createHash('sha256').digest('hex')}"` });
    });
  });

  describe('protocol edges', () => {
    const at = (p: string) => `${davUrl}/${STORAGE}/${ID}/${p}`;

    it('refuses PROPFIND of infinite depth with 403', async () => {
      for (const depth of ['infinity', undefined]) {
        const r = await fetch(at('2/'), { method: 'PROPFIND', headers: { ...auth, ...(depth ? { depth } : {}) } });
        expect(r.status, String(depth)).toBe(403);
        expect(await r.text()).toContain('propfind-finite-depth');
      }
      const r = await fetch(at('2/'), { method: 'PROPFIND', headers: { ...auth, depth: '0' } });
      expect(r.status).toBe(207);
      expect((await r.text()).match(/<D:response>/g)).toHaveLength(1);
    });

    it('answers OPTIONS with DAV class 1 and what is allowed', async () => {
      const r = await fetch(at('2/'), { method: 'OPTIONS', headers: auth });
      expect(r.status).toBe(200);
      expect(r.headers.get('dav')).toBe('1');
      expect(r.headers.get('allow')).toBe('OPTIONS, GET, HEAD, PROPFIND');
    });

    it('refuses every method that would change something with 405', async () => {
      for (const method of ['PUT', 'DELETE', 'MKCOL', 'MOVE', 'COPY', 'PROPPATCH', 'LOCK', 'POST']) {
        const r = await fetch(at('2/one-more.txt'), { method, headers: { ...auth, destination: at('2/elsewhere') }, ...(method === 'PUT' || method === 'POST' ? { body: 'data' } : {}) });
        expect(r.status, method).toBe(405);
        expect(r.headers.get('allow'), method).toBe('OPTIONS, GET, HEAD, PROPFIND');
        await r.arrayBuffer();
      }
      for (const method of ['PUT', 'DELETE']) {
        const r = await fetch(at('2/empty'), { method, headers: auth, ...(method === 'PUT' ? { body: 'data' } : {}) });
        expect(r.status, method).toBe(405);
        await r.arrayBuffer();
      }
      expect(fs.existsSync(path.join(repo.repoDir, 'empty'))).toBe(true);
    });

    it('answers 401 with WWW-Authenticate without the token, and 401 with a wrong one', async () => {
      const wrong = `${server.token.slice(0, -1)}${server.token.endsWith('A') ? 'B' : 'A'}`;
      const basic = (password: string) => `Basic ${Buffer.from(`x:${password}`).toString('base64')}`;
      for (const authorization of [undefined, `Bearer ${wrong}`, basic(wrong), 'Bearer ', basic(''), `Digest ${server.token}`]) {
        for (const method of ['PROPFIND', 'GET']) {
          const r = await fetch(at(method === 'GET' ? '2/one' : '2/'), { method, headers: { depth: '1', ...(authorization ? { authorization } : {}) } });
          expect(r.status, `${method} ${authorization}`).toBe(401);
          expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="dbk"/);
          await r.arrayBuffer();
        }
      }
      const ok = await fetch(at('1/one'), { headers: { authorization: basic(server.token) } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('x');
    });

    it("refuses '..', '.' and an encoded slash in the path with 400", async () => {
      const base = `/dav/${STORAGE}/${ID}`;
      for (const target of [
        `${base}/2/notes/../empty`,
        `${base}/2/../1/one`,
        `${base}/2/notes/%2e%2e/empty`,
        `${base}/2/./empty`,
        `${base}/2/deep%2Flevel%201`,
        `${base}/2/deep/level%201%2F..%2F..%2Fempty`,
        `/dav/${STORAGE}%2F${ID}/2/empty`,
      ]) {
        for (const method of ['GET', 'PROPFIND']) {
          const r = await rawRequest(method, target, port, { ...auth, depth: '1' });
          expect(r.status, `${method} ${target}`).toBe(400);
        }
      }
    });

    it('answers 404 for a path not in the revision, a revision or snapshot id that does not exist, and a storage that is not served', async () => {
      const paths = ['2/one', '2/notes/nothing.txt', '2/nothing/at/all', '1/deep/level 1/new.txt', '3/empty', '3/', '999999/', '0/empty'];
      for (const p of paths) {
        // GET of a folder is 405 whether it exists or not: PROPFIND alone asks after folders
        for (const method of p.endsWith('/') ? ['PROPFIND'] : ['GET', 'HEAD', 'PROPFIND']) {
          const r = await fetch(at(p), { method, headers: { ...auth, depth: '1' } });
          expect(r.status, `${method} ${p}`).toBe(404);
          await r.arrayBuffer();
        }
      }
      for (const url of [`${davUrl}/${STORAGE}/nobody/1/`, `${davUrl}/elsewhere/${ID}/1/`]) {
        const r = await fetch(url, { method: 'PROPFIND', headers: { ...auth, depth: '1' } });
        expect(r.status, url).toBe(404);
        await r.arrayBuffer();
      }
    });
  });
});
