// Opens one authenticated SSH connection: key file, agent or password, the server's host key
// checked against .dbk/known_hosts, and every way of failing turned into a DbkError that says
// whether trying again can help (a refused or dropped connection) or not (wrong credentials).

import type { AgentAuthMethod, AuthMethod, Client, ConnectConfig, KeyboardInteractiveAuthMethod, PasswordAuthMethod, PublicKeyAuthMethod, ServerHostKeyAlgorithm } from 'ssh2';
import ssh2 from 'ssh2';
import { DbkError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { SftpConfig } from './config.js';
import { fingerprint, hostId, type KnownHosts, keyType } from './known-hosts.js';

/** How long a connection attempt may take, and how often an idle connection is checked. */
const READY_TIMEOUT_MS = 20_000;
const KEEPALIVE_INTERVAL_MS = 10_000;
const KEEPALIVE_COUNT_MAX = 3;

/** Signature algorithms that prove an RSA host key; other key types name their one algorithm. */
const RSA_ALGORITHMS: ServerHostKeyAlgorithm[] = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const HOST_KEY_ALGORITHMS = new Set<string>(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', ...RSA_ALGORITHMS]);

export async function connect(config: SftpConfig, knownHosts: KnownHosts, log: Logger): Promise<Client> {
  const host = hostId(config.host, config.port);
  const client = new ssh2.Client();
  let refusedKey: DbkError | undefined;
  const hostVerifier = (key: Buffer): boolean => {
    try {
      const verdict = knownHosts.verify(host, key);
      if (verdict.trusted) {
        if (verdict.pinnedNow) log.info(`trusting ${host} on first use: ${keyType(key)} ${fingerprint(key)}, pinned in ${knownHosts.file}`);
        return true;
      }
      refusedKey = knownHosts.changedKeyError(host, key, verdict.pinned);
    } catch (e) {
      refusedKey = new DbkError('CONFIG', `cannot check the host key of ${host} against ${knownHosts.file}: ${(e as Error).message}`, { cause: e });
    }
    return false;
  };
  const options: ConnectConfig = {
    host: config.host,
    port: config.port,
    username: config.user,
    readyTimeout: READY_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier,
    algorithms: { serverHostKey: preferPinned(knownHosts.pinned(host)) },
    authHandler: authMethods(config),
  };
  return new Promise<Client>((resolve, reject) => {
    const onError = (e: Error & { level?: string; code?: string }) => {
      client.end();
      reject(refusedKey ?? connectError(config, e));
    };
    client.once('error', onError);
    client.once('ready', () => {
      client.off('error', onError);
      resolve(client);
    });
    try {
      client.connect(options);
    } catch (e) {
      onError(e as Error);
    }
  });
}

/** The ways to log in that the settings allow, in the order tried. */
function authMethods({ user: username, auth }: SftpConfig): AuthMethod[] {
  const methods: (PublicKeyAuthMethod | AgentAuthMethod | PasswordAuthMethod | KeyboardInteractiveAuthMethod)[] = [];
  if (auth.privateKey) methods.push({ type: 'publickey', username, key: auth.privateKey });
  if (auth.agent) methods.push({ type: 'agent', username, agent: auth.agent });
  const { password } = auth;
  if (password !== undefined) {
    methods.push({ type: 'password', username, password });
    // servers that take passwords only through PAM ask for them as keyboard-interactive prompts
    methods.push({ type: 'keyboard-interactive', username, prompt: (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => password)) });
  }
  return methods;
}

/**
 * Asks for the pinned key's type first, so that a server with several host keys proves the one
 * we know rather than one we would have to call a change.
 */
function preferPinned(pinned: string[]): Record<'remove' | 'prepend' | 'append', ServerHostKeyAlgorithm[]> {
  const algorithms = pinned
    .map((p) => p.split(' ')[0] ?? '')
    .flatMap((type) => (type === 'ssh-rsa' ? RSA_ALGORITHMS : [type]))
    .filter((a): a is ServerHostKeyAlgorithm => HOST_KEY_ALGORITHMS.has(a));
  // ssh2 applies these in order: take them out of the default list, then put them in front
  return { remove: algorithms, prepend: [...algorithms].reverse(), append: [] };
}

function connectError(config: SftpConfig, e: Error & { level?: string; code?: string }): DbkError {
  const where = `${config.user}@${config.host}:${config.port}`;
  const message = `cannot connect to ${where}: ${e.message}`;
  if (e.level === 'client-authentication') {
    return new DbkError('PERMANENT', `${where} refused the login: ${e.message}`, {
      cause: e,
      hint: 'check the user name in the storage URL and the storage settings ssh_key_file, ssh_passphrase or ssh_password, or the keys in your ssh-agent',
    });
  }
  if (e.level === 'client-dns' && e.code !== 'EAI_AGAIN') {
    return new DbkError('PERMANENT', message, { cause: e, hint: 'check the host name in the storage URL' });
  }
  if (e.level === 'handshake') {
    return new DbkError('PERMANENT', message, { cause: e, hint: 'the server offers no key exchange, cipher or host key type that dbk supports' });
  }
  // refused, reset, timed out, dropped mid-handshake: the server may be back in a moment
  return new DbkError('TRANSIENT', message, { cause: e });
}
