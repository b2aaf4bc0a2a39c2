// A real S3 server for tests and benchmarks: moto_server (moto 5.2, on the machine image) on
// 127.0.0.1 on a free port, reached through a TCP relay of our own so that a test can drop every
// connection at once, as a network failure would. Each storage gets its own bucket, so tests
// share one server. Nothing here depends on vitest.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';

export const MOTO_PATH = process.env.DBK_TEST_MOTO ?? 'moto_server';

/** Keys moto accepts (it checks no signature), for the settings of a test storage. */
export const MOTO_KEYS = { s3_access_key_id: 'dbk-test-key', s3_secret_access_key: 'dbk-test-secret', s3_region: 'us-east-1' };

/**
 * Why moto_server cannot run here, or undefined when it can. Under CI a missing server is an
 * error, so a CI run can never pass by skipping the S3 tests.
 */
export function motoUnavailable(): string | undefined {
  try {
    execFileSync(MOTO_PATH, ['--help'], { stdio: 'ignore', timeout: 30_000 });
    return undefined;
  } catch {
    const why = `${MOTO_PATH} not found: install moto[server] (pip install 'moto[server]==5.2.*') to run the S3 tests`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(why);
    console.warn(`skipping S3 tests: ${why}`);
    return why;
  }
}

export interface Moto {
  /** http://127.0.0.1:PORT of the relay in front of the server */
  endpoint: string;
  /** Makes a new, empty bucket; returns its name. */
  newBucket(): Promise<string>;
  /** Puts an object past dbk, as another program would. */
  putObject(bucket: string, key: string, data: Uint8Array): Promise<void>;
  /** Every key a bucket holds below a prefix, as the server lists them. */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  /** Drops every open connection, as a network failure would; the server keeps its data. */
  dropConnections(): void;
  /** Stops the relay and the server. */
  close(): Promise<void>;
}

let buckets = 0;

export async function startMoto(): Promise<Moto> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // see backends/s3/s3.ts
  const port = await freePort();
  const child = spawn(MOTO_PATH, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (log = (log + s).slice(-4000)));
  try {
    await waitForPort(port, child, () => log);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const relay = await startRelay(port);
  const endpoint = `http://127.0.0.1:${relay.port}`;
  const admin = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: MOTO_KEYS.s3_region,
    credentials: { accessKeyId: MOTO_KEYS.s3_access_key_id, secretAccessKey: MOTO_KEYS.s3_secret_access_key },
  });
  return {
    endpoint,
    async newBucket() {
      const name = `dbk-test-${process.pid}-${++buckets}`;
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async putObject(bucket, key, data) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    },
    async listKeys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of out.Contents ?? []) keys.push(o.Key ?? '');
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    dropConnections: () => relay.dropAll(),
    async close() {
      admin.destroy();
      await relay.close();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}):\n${log()}`);
    if (await connects(port)) return;
    if (Date.now() - started > 30_000) throw new Error(`moto_server did not listen on ${port} within 30 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A TCP relay on 127.0.0.1 to `port` whose connections can all be cut at once. */
async function startRelay(port: number): Promise<{ port: number; dropAll(): void; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropAll = () => {
    for (const s of open) s.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    dropAll,
    close: () =>
      new Promise((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
