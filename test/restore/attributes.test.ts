// Owners come back by name where this system has the name, by id otherwise or when told.

import { describe, expect, it } from 'vitest';
import type { FileEntry } from '../../src/format/file-list.js';
import { RestoredAttributes } from '../../src/restore/attributes.js';
import { Accounts } from '../../src/tree/native-fs.js';

const entry = (o: Partial<FileEntry>): FileEntry => ({ path: 'f', type: 'file', mode: 0o640, mtimeS: 1, mtimeNs: 2, size: 0, uid: 4242, gid: 4343, ...o });

describe('restored owners', () => {
  const accounts = new Accounts();
  const root = { uid: accounts.userId('root'), gid: accounts.groupId('root') };

  it('finds the recorded names on this system', () => {
    expect(root).toEqual({ uid: 0, gid: 0 }); // every Linux system has root
    const a = new RestoredAttributes({}).of(entry({ user: 'root', group: 'root' }));
    expect([a.uid, a.gid]).toEqual([0, 0]);
  });

  it('keeps the ids with -numeric-owner, or when the name is unknown here', () => {
    expect(new RestoredAttributes({ numericOwner: true }).of(entry({ user: 'root', group: 'root' }))).toMatchObject({ uid: 4242, gid: 4343 });
    expect(new RestoredAttributes({}).of(entry({ user: 'no-such-user-here', group: 'no-such-group-here' }))).toMatchObject({ uid: 4242, gid: 4343 });
    expect(new RestoredAttributes({}).of(entry({}))).toMatchObject({ uid: 4242, gid: 4343 });
  });

  it('leaves extended attributes out when told', () => {
    const xattrs = [{ name: 'user.a', value: Buffer.from('b') }];
    expect(new RestoredAttributes({}).of(entry({ xattrs })).xattrs).toEqual(xattrs);
    expect(new RestoredAttributes({ xattrs: false }).of(entry({ xattrs })).xattrs).toBeUndefined();
  });

  it('names ids both ways through the C library', () => {
    expect(accounts.userName(0)).toBe('root');
    expect(accounts.groupName(0)).toBe('root');
    expect(accounts.userName(2 ** 31 - 7)).toBeUndefined();
  });
});
