// What an sftp:// storage needs to connect: the parsed URL and the credentials found through the
// one settings lookup. Secrets stay in SftpAuth and never reach `location` or a message.
//
//   sftp://user@host[:port]/path    `path` relative to the login folder
//   sftp://user@host[:port]//path   `/path`, absolute

import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import type { ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';
import { DbkError, usage } from '../../src/errors.js';
import { type Settings, settingEnvNames } from '../../src/settings.js';

export interface SftpAddress {
  host: string;
  port: number;
  user: string;
  /** folder on the server holding the storage: absolute, or relative to the login folder ('' is the login folder) */
  root: string;
}

export interface SftpAuth {
  /** decrypted once here: decrypting an OpenSSH key takes a second of CPU, too much for every connection */
  privateKey?: ParsedKey;
  password?: string;
  /** ssh-agent socket */
  agent?: string;
}

export interface SftpConfig extends SftpAddress {
  auth: SftpAuth;
  /** for messages: sftp://user@host:port/path, never a secret */
  location: string;
}

export function parseSftpUrl(url: string): SftpAddress {
  const notSftp = () => {
    const shown = url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@'); // never repeat a password
    return usage(`not an SFTP URL: ${shown} (expected sftp://user@host[:port]/path)`);
  };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw notSftp();
  }
  if (u.protocol !== 'sftp:' || u.hostname === '') throw notSftp();
  if (u.password !== '') {
    throw usage('an SFTP URL must not contain a password: give it as the storage setting ssh_password (e.g. DBK_<STORAGE>_SSH_PASSWORD)');
  }
  // '/path' is relative to the login folder, '//path' absolute, as in duplicacy
  const pathname = decodeURIComponent(u.pathname);
  const root = pathname.startsWith('//') ? `/${pathname.slice(2).replace(/\/+$/, '')}` : pathname.slice(1).replace(/\/+$/, '');
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port === '' ? 22 : Number(u.port),
    user: u.username === '' ? userInfo().username : decodeURIComponent(u.username),
    root,
  };
}

export function sftpConfig(url: string, settings: Settings, env: NodeJS.ProcessEnv = process.env): SftpConfig {
  const address = parseSftpUrl(url);
  const hostPart = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    ...address,
    auth: sftpAuth(settings, env),
    location: `sftp://${address.user}@${hostPart}:${address.port}/${address.root}`,
  };
}

function sftpAuth(settings: Settings, env: NodeJS.ProcessEnv): SftpAuth {
  const auth: SftpAuth = {};
  const keyFile = settings.get('ssh_key_file');
  const passphrase = settings.get('ssh_passphrase');
  const password = settings.get('ssh_password');
  const envName = (key: string) => settingEnvNames(settings.storageName, key)[0];
  if (keyFile !== undefined) auth.privateKey = readKey(keyFile.replace(/^~(?=\/|$)/, homedir()), passphrase, envName);
  if (password !== undefined) auth.password = password;
  if (env.SSH_AUTH_SOCK) auth.agent = env.SSH_AUTH_SOCK;
  if (!auth.privateKey && auth.password === undefined && !auth.agent) {
    throw new DbkError('CONFIG', `no SSH credentials for storage '${settings.storageName}'`, {
      hint: `set ${envName('ssh_key_file')} (and ${envName('ssh_passphrase')} if the key has one), run an ssh-agent (SSH_AUTH_SOCK), or set ${envName('ssh_password')}`,
    });
  }
  return auth;
}

function readKey(file: string, passphrase: string | undefined, envName: (key: string) => string | undefined): ParsedKey {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (e) {
    throw new DbkError('CONFIG', `cannot read the SSH key file ${file}: ${(e as Error).message}`, {
      hint: `check the storage setting ssh_key_file (${envName('ssh_key_file')})`,
    });
  }
  const parsed = ssh2.utils.parseKey(text, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || key === undefined) {
    const why = key?.message ?? 'no key found';
    throw new DbkError('CONFIG', `cannot use the SSH key file ${file}: ${why}`, {
      hint: /passphrase|decrypt/i.test(why) ? `give the key's passphrase as the storage setting ssh_passphrase (${envName('ssh_passphrase')})` : 'ssh_key_file must name an OpenSSH or PEM private key',
    });
  }
  if (!key.isPrivateKey()) {
    throw new DbkError('CONFIG', `the SSH key file ${file} holds a public key`, { hint: 'ssh_key_file must name the private key (without .pub)' });
  }
  return key;
}
