// What an s3:// storage is configured with: bucket, key prefix and endpoint from the URL, and the
// s3_* storage keys, read once through the settings lookup and checked, so the rest of the
// backend gets plain values.
//
//   s3://BUCKET[/prefix]                 AWS S3, in the region of s3_region (or AWS_REGION, or the profile's)
//   s3+https://HOST[:PORT]/BUCKET[/prefix]  any other S3-compatible server, path-style addressing
//   s3+http://HOST[:PORT]/BUCKET[/prefix]   the same without TLS (a server on this machine or LAN)
//
//   s3_access_key_id, s3_secret_access_key, s3_session_token
//                           the keys; when unset, the AWS SDK's usual chain (AWS_ACCESS_KEY_ID and
//                           AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, SSO, instance roles)
//   s3_region               region to sign for (default: AWS_REGION, the profile's, or us-east-1 off AWS)
//   s3_storage_class        storage class of new objects, e.g. STANDARD_IA (default: the bucket's)
//   s3_conditional_writes   true (default): creates send If-None-Match: *, which AWS, MinIO, R2, B2
//                           and Ceph honour; false: a HEAD before each create, for servers that do not
//   s3_ca_file              extra CA certificates (PEM) to trust, e.g. a MinIO with its own CA

import * as path from 'node:path';
import { DbkError } from '../../src/errors.js';
import { boolSetting, type Settings } from '../../src/settings.js';

export interface S3Config {
  bucket: string;
  /** key prefix of every object, '' or ending in '/' */
  prefix: string;
  /** undefined: AWS's own endpoint for the region */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  storageClass?: string;
  conditionalWrites: boolean;
  caFile?: string;
  /** the URL without anything secret, for messages */
  location: string;
}

/** Classes whose objects must be restored before they can be read: a chunk there could not be read back. */
const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

export function s3Config(url: string, settings: Settings, repoDir: string): S3Config {
  const where = s3Location(url);
  const accessKeyId = settings.get('s3_access_key_id');
  const secretAccessKey = settings.get('s3_secret_access_key');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new DbkError('CONFIG', `${where.location}: s3_access_key_id and s3_secret_access_key go together`, {
      hint: 'set both keys, or neither to use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE',
    });
  }
  const sessionToken = settings.get('s3_session_token');
  const region = settings.get('s3_region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (where.endpoint ? 'us-east-1' : undefined);
  const storageClass = settings.get('s3_storage_class')?.trim().toUpperCase();
  if (storageClass && ARCHIVE_CLASSES.has(storageClass)) {
    throw new DbkError('CONFIG', `s3_storage_class ${storageClass} keeps objects offline, and every chunk must be readable at once`, {
      hint: 'use STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING or GLACIER_IR',
    });
  }
  const caFile = settings.get('s3_ca_file');
  return {
    ...where,
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } } : {}),
    ...(storageClass ? { storageClass } : {}),
    conditionalWrites: boolSetting(settings, 's3_conditional_writes', true),
    ...(caFile ? { caFile: path.resolve(repoDir, caFile) } : {}),
  };
}

/** Bucket, prefix and endpoint of an S3 URL, checked. */
export function s3Location(url: string): Pick<S3Config, 'bucket' | 'prefix' | 'endpoint' | 'location'> {
  const m = /^(s3|s3\+https|s3\+http):\/\/([^/]*)(\/.*)?$/i.exec(url);
  if (!m) throw bad(url, 'expected s3://BUCKET/prefix or s3+https://HOST[:PORT]/BUCKET/prefix');
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  if (authority.includes('@')) throw bad(url, 'keys never go in the URL: set s3_access_key_id and s3_secret_access_key');
  let segments = (m[3] ?? '').split('/').filter((s) => s !== '');
  let endpoint: string | undefined;
  let bucket: string;
  if (scheme === 's3') {
    bucket = authority;
  } else {
    if (authority === '') throw bad(url, 'no host');
    endpoint = `${scheme.slice(3)}://${authority}`;
    try {
      new URL(endpoint);
    } catch {
      throw bad(url, `${authority} is not a host[:port]`);
    }
    bucket = segments[0] ?? '';
    segments = segments.slice(1);
  }
  if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(bucket)) throw bad(url, `'${bucket}' is not a bucket name (3–63 lower-case letters, digits, dots and dashes)`);
  if (segments.some((s) => s === '.' || s === '..')) throw bad(url, 'the prefix may not contain . or ..');
  const prefix = segments.length === 0 ? '' : `${segments.join('/')}/`;
  const location = `${scheme}://${endpoint ? `${authority}/` : ''}${bucket}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}`;
  return { bucket, prefix, ...(endpoint ? { endpoint } : {}), location };
}

/** The message names the URL without whatever stood before an '@', which may be a key. */
const bad = (url: string, why: string) => new DbkError('USAGE', `not an S3 storage URL: ${url.replace(/\/\/[^/]*@/, '//…@')} (${why})`);
