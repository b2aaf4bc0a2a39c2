// The S3 backend: URLs and settings, how S3's answers map to dbk's errors, and the conformance
// suite against a real S3 server (moto_server) on loopback, with and without conditional writes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendContext } from '../../backends/backend.js';
import { s3Config, s3Location } from '../../backends/s3/config.js';
import { toDbkError } from '../../backends/s3/errors.js';
import { S3Backend } from '../../backends/s3/s3.js';
import { DbkError } from '../../src/errors.js';
import { makeSettings } from '../../src/settings.js';
import { describeBackendConformance } from '../conformance/backend-suite.js';
import { catchError } from '../support/engine.js';
import { MOTO_KEYS, type Moto, motoUnavailable, startMoto } from '../support/moto.js';

describe('s3 URLs and settings', () => {
  it('reads AWS and other endpoints, buckets and prefixes', () => {
    expect(s3Location('s3://my-bucket/backups/dbk/')).toEqual({ bucket: 'my-bucket', prefix: 'backups/dbk/', location: 's3://my-bucket/backups/dbk' });
    expect(s3Location('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '', location: 's3://my-bucket' });
    expect(s3Location('s3+https://s3.eu-central-003.backblazeb2.com/dbk-b2/laptop')).toEqual({
      bucket: 'dbk-b2',
      prefix: 'laptop/',
      endpoint: 'https://s3.eu-central-003.backblazeb2.com',
      location: 's3+https://s3.eu-central-003.backblazeb2.com/dbk-b2/laptop',
    });
    expect(s3Location('s3+http://127.0.0.1:9000/minio-bucket')).toMatchObject({ bucket: 'minio-bucket', prefix: '', endpoint: 'http://127.0.0.1:9000' });
  });

  it('refuses bad URLs with a one-line reason, and keys in the URL without repeating them', () => {
    for (const url of ['s3://', 's3://UPPER/x', 's3+https:///b/x', 's3://bucket/../x', 's3+https://host']) {
      expect(() => s3Location(url)).toThrow(DbkError);
    }
    const e = catchError(() => s3Location('s3://AKIAEXAMPLE:s3cr3tKey@bucket/x'));
    expect(e).toMatchObject({ code: 'USAGE' });
    expect((e as Error).message).not.toContain('s3cr3tKey');
    expect((e as Error).message).not.toContain('AKIAEXAMPLE');
  });

  it('takes keys and region from the settings, refuses half a key pair and archive classes', () => {
    const settings = (s: Record<string, string>) => makeSettings('cloud', s, {});
    expect(s3Config('s3+http://h:1/bucket', settings(MOTO_KEYS), '/r')).toMatchObject({
      region: 'us-east-1',
      credentials: { accessKeyId: MOTO_KEYS.s3_access_key_id, secretAccessKey: MOTO_KEYS.s3_secret_access_key },
      conditionalWrites: true,
    });
    expect(catchError(() => s3Config('s3://bucket', settings({ s3_access_key_id: 'k' }), '/r'))).toMatchObject({ code: 'CONFIG' });
    expect(catchError(() => s3Config('s3://bucket', settings({ s3_storage_class: 'deep_archive' }), '/r'))).toMatchObject({ code: 'CONFIG' });
    const env = makeSettings('cloud', {}, { DBK_CLOUD_S3_CONDITIONAL_WRITES: 'false', DBK_CLOUD_S3_REGION: 'eu-west-3' });
    expect(s3Config('s3://bucket', env, '/r')).toMatchObject({ region: 'eu-west-3', conditionalWrites: false });
  });
});

describe('s3 answers as dbk errors', () => {
  const answer = (name: string, status?: number, extra: object = {}) => Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra });
  const code = (e: unknown) => toDbkError(e, 'write x', 'x', 's3://b').code;

  it('maps missing, taken, throttled, dropped and refused', () => {
    expect(code(answer('NoSuchKey', 404))).toBe('NOT_FOUND');
    expect(code(answer('NotFound', 404))).toBe('NOT_FOUND');
    expect(code(answer('PreconditionFailed', 412))).toBe('ALREADY_EXISTS');
    expect(code(answer('SlowDown', 503))).toBe('TRANSIENT');
    expect(code(answer('InternalError', 500))).toBe('TRANSIENT');
    expect(code(answer('Error', undefined, { code: 'ECONNRESET' }))).toBe('TRANSIENT');
    expect(code(answer('TimeoutError'))).toBe('TRANSIENT');
    expect(code(answer('NoSuchBucket', 404))).toBe('PERMANENT'); // a missing bucket is not a missing file
    const denied = toDbkError(answer('AccessDenied', 403), 'write x', 'x', 's3://b');
    expect(denied).toMatchObject({ code: 'PERMANENT', temporary: false });
    expect(denied.hint).toMatch(/policy/);
    expect(code(answer('CredentialsProviderError'))).toBe('PERMANENT');
  });
});

const unavailable = motoUnavailable();

describe.skipIf(unavailable)('s3 against moto_server', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterAll(async () => moto?.close());

  const ctx = { threads: 8 } satisfies Pick<BackendContext, 'threads'>;
  const open = async (settings: Record<string, string> = {}) => {
    const bucket = await moto.newBucket();
    const prefix = 'some/prefix/';
    const url = `s3+http://${moto.endpoint.slice('http://'.length)}/${bucket}/${prefix}`;
    return { bucket, prefix, backend: new S3Backend(s3Config(url, makeSettings('s3test', { ...MOTO_KEYS, ...settings }, {}), '/'), ctx) };
  };

  describeBackendConformance(
    's3 (moto_server)',
    async () => {
      const { bucket, prefix, backend } = await open();
      return { backend, putRaw: (p, data) => moto.putObject(bucket, `${prefix}${p}`, data), interrupt: async () => moto.dropConnections() };
    },
    { timeout: 120_000 },
  );

  // without conditional writes a create is a HEAD and a PUT: write-once holds one client at a
  // time (two racing creates may both land, which is why it is not the default)
  it('without conditional writes, a create onto an existing name still fails ALREADY_EXISTS and keeps the bytes', async () => {
    const { backend } = await open({ s3_conditional_writes: 'false' });
    try {
      await backend.write('d/f', Buffer.from('first'));
      await expect(backend.write('d/f', Buffer.from('second'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await backend.write('d/g', Buffer.from('other'));
      await expect(backend.rename('d/f', 'd/g')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await backend.read('d/f')).toString()).toBe('first');
      expect((await backend.read('d/g')).toString()).toBe('other');
    } finally {
      await backend.close();
    }
  });

  it('a bucket that does not exist is a one-line PERMANENT error with a hint', async () => {
    const url = `s3+http://${moto.endpoint.slice('http://'.length)}/no-such-bucket-here/x`;
    const backend = new S3Backend(s3Config(url, makeSettings('s3test', MOTO_KEYS, {}), '/'), ctx);
    try {
      const e = await backend.write('f', Buffer.from('x')).catch((err: unknown) => err);
      expect(e).toMatchObject({ code: 'PERMANENT' });
      expect((e as DbkError).hint).toMatch(/create the bucket/);
      expect((e as Error).message).not.toContain('\n');
    } finally {
      await backend.close();
    }
  });
});
