// dbk's small native module (native/dbk_fs.c, built by `npm install` with node-gyp), loaded once
// in each thread that uses it: the file system calls Node does not offer or offers at a cost
// (tree/native-fs.ts wraps them), the chunker's hot loop (chunking/fastcdc.ts), AES-GCM in
// place (format/object.ts) and the SHA-256 of a chunk's files (crypto/chunk-hashes.ts).
// Everything that calls it works without it, more slowly or keeping less: see nativeMissing in
// native-fs.ts.

import { createRequire } from 'node:module';

export interface NativeModule {
  futimens(fd: number, seconds: number, nanoseconds: number): void;
  lutimens(path: string | Buffer, seconds: number, nanoseconds: number): void;
  /** missing from a module built before it was added */
  giveOwner?(fd: number, uid: number, gid: number): void;
  mknod(path: string | Buffer, mode: number, device: number): void;
  /** these three are missing from a module built before they were added */
  lstat?(path: string | Buffer, out: Float64Array): void;
  /** `xattrs` is ignored by a module built before it was added */
  readStart?(path: string | Buffer, into: Uint8Array, offset: number, length: number, expected: number, out: Float64Array, xattrs?: boolean): void;
  closeFile?(fd: number): void;
  /** the chunker's hot loop (src/chunking/fastcdc.ts); missing from a module built before it was added */
  gearScan?(data: Uint8Array, start: number, end: number, mask: number, gear: Int32Array, state: Int32Array): number;
  /**
   * AES-256-GCM over `data` itself (src/format/object.ts): encrypting writes `tag` and returns
   * true; decrypting returns whether `tag` matched. Missing from a module built before it was added.
   */
  aesGcm?(encrypt: boolean, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array, tag: Uint8Array): boolean;
  /**
   * The SHA-256 of data[start, start + length) for each pair of `ranges`, 32 bytes each into `out`
   * (src/crypto/chunk-hashes.ts). Missing from a module built before it was added.
   */
  sha256Ranges?(data: Uint8Array, ranges: Uint32Array, out: Uint8Array): void;
  xattrs(target: number | string | Buffer): [Buffer, Buffer][];
  setXattr(target: number | string | Buffer, name: Buffer, value: Buffer): void;
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
  userId(name: Buffer): number | undefined;
  groupId(name: Buffer): number | undefined;
}

function load(): NativeModule | undefined {
  const require = createRequire(import.meta.url);
  // from src (the tests) and from dist/src
  for (const candidate of ['../build/Release/dbk_fs.node', '../../build/Release/dbk_fs.node']) {
    try {
      return require(candidate) as NativeModule;
    } catch {
      // the next place
    }
  }
  return undefined;
}

export const native = load();
