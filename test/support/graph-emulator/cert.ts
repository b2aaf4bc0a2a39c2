// A throw-away self-signed certificate for 127.0.0.1 and localhost, made with the openssl command
// line tool (present on Debian and macOS) when the emulator starts: no network, nothing kept.
// The certificate is its own CA (basicConstraints CA:TRUE), so clients can trust it directly via
// NODE_EXTRA_CA_CERTS or an https agent's `ca`.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

export interface KeyPair {
  key: string;
  cert: string;
}

export async function makeSelfSignedCertificate(): Promise<KeyPair> {
  const dir = await mkdtemp(path.join(tmpdir(), 'graph-emulator-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    // prettier-ignore
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=dbk Graph emulator',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  } catch (e) {
    throw new Error(`could not make the emulator's certificate with openssl: ${(e as Error).message}`, { cause: e });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
