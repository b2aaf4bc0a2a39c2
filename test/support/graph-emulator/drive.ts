// The emulator's drive: a tree of folders and files kept in memory. Names are case-insensitive and
// case-preserving, as on OneDrive. Children are paged in name order with the last name returned as
// the continuation token, so deleting items while a client pages never makes it skip survivors
// (items created behind the cursor are missed, which the real service allows too).

export type ConflictBehavior = 'fail' | 'replace' | 'rename';

export class DriveItem {
  readonly created = Date.now();
  modified = this.created;
  version = 1;
  /** folders only: lower-case name → child */
  readonly children: Map<string, DriveItem> | undefined;
  /** folders only: children in key order, rebuilt after a change */
  private sorted: DriveItem[] | undefined;
  /** the name as compared: lower case */
  key: string;
  /** folders: bumped whenever anything below changes, so cached listing pages can tell they are stale */
  generation = 0;
  /** folders: serialised children pages of the current generation, by query */
  pageCache: { generation: number; pages: Map<string, Buffer> } | undefined;

  constructor(
    readonly id: string,
    public name: string,
    public parent: DriveItem | undefined,
    public content: Buffer | undefined,
  ) {
    this.children = content === undefined ? new Map() : undefined;
    this.key = keyOf(name);
  }

  get isFolder(): boolean {
    return this.children !== undefined;
  }

  get size(): number {
    if (this.content) return this.content.length;
    let total = 0;
    for (const c of this.children?.values() ?? []) total += c.size;
    return total;
  }

  sortedChildren(): DriveItem[] {
    if (!this.sorted) this.sorted = [...(this.children?.values() ?? [])].sort((a, b) => compare(a.key, b.key));
    return this.sorted;
  }

  /** Records a change of this item (a folder: of its children), for listings of it and its ancestors. */
  touch(): void {
    this.sorted = undefined;
    this.modified = Date.now();
    for (let f: DriveItem | undefined = this; f; f = f.parent) f.generation++;
  }
}

export const keyOf = (name: string) => name.toLowerCase();
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Characters OneDrive refuses in names (Business also refuses # and %, which personal accepts). */
const BAD_NAME = /[/\\*<>?:|"]/;
export const isValidName = (name: string) => name !== '' && name !== '.' && name !== '..' && !BAD_NAME.test(name);

export interface Page {
  items: DriveItem[];
  /** continuation token for the next page, absent on the last one */
  next?: string;
}

export class Drive {
  readonly root: DriveItem;
  private readonly items = new Map<string, DriveItem>();
  private nextId = 1;
  private storedBytes = 0;

  constructor(readonly driveId: string) {
    this.root = this.register(undefined, 'root', undefined);
  }

  get usedBytes(): number {
    return this.storedBytes;
  }

  byId(id: string): DriveItem | undefined {
    return this.items.get(id);
  }

  child(folder: DriveItem, name: string): DriveItem | undefined {
    return folder.children?.get(keyOf(name));
  }

  /** Walks decoded path segments from `from`; undefined when any step is missing or not a folder. */
  resolve(from: DriveItem, segments: readonly string[]): DriveItem | undefined {
    let item: DriveItem | undefined = from;
    for (const s of segments) {
      item = item?.children?.get(keyOf(s));
      if (!item) return undefined;
    }
    return item;
  }

  /** "/drive/root:" for the root's children, "/drive/root:/a/b" below, as parentReference.path has it. */
  pathOf(folder: DriveItem): string {
    const names: string[] = [];
    for (let f: DriveItem | undefined = folder; f && f !== this.root; f = f.parent) names.unshift(f.name);
    return names.length === 0 ? '/drive/root:' : `/drive/root:/${names.map(encodeURIComponent).join('/')}`;
  }

  isInside(item: DriveItem, folder: DriveItem): boolean {
    for (let f: DriveItem | undefined = item; f; f = f.parent) if (f === folder) return true;
    return false;
  }

  page(folder: DriveItem, top: number, after: string | undefined): Page {
    const all = folder.sortedChildren();
    let start = 0;
    if (after !== undefined) {
      let lo = 0;
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (all[mid]!.key <= after) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const items = all.slice(start, start + top);
    const last = items.at(-1);
    return start + top < all.length && last ? { items, next: last.key } : { items };
  }

  /** Creates a folder; with 'fail', an existing name is a conflict (undefined). */
  createFolder(parent: DriveItem, name: string, conflict: ConflictBehavior): DriveItem | undefined {
    const existing = this.child(parent, name);
    if (existing) {
      if (conflict === 'fail') return undefined;
      if (conflict === 'rename') name = this.freeName(parent, name);
      else this.remove(existing);
    }
    return this.register(parent, name, undefined);
  }

  /** Stores a file; undefined on a 'fail' conflict. `created` tells 201 from 200. */
  putFile(parent: DriveItem, name: string, content: Buffer, conflict: ConflictBehavior): { item: DriveItem; created: boolean } | undefined {
    const existing = this.child(parent, name);
    if (existing) {
      if (conflict === 'fail') return undefined;
      if (conflict === 'replace' && !existing.isFolder) {
        this.storedBytes += content.length - existing.size;
        existing.content = content;
        existing.version++;
        existing.touch();
        return { item: existing, created: false };
      }
      if (conflict === 'rename') name = this.freeName(parent, name);
      else this.remove(existing);
    }
    this.storedBytes += content.length;
    return { item: this.register(parent, name, content), created: true };
  }

  /** Moves and/or renames; false when the target name is taken (conflict 'fail'). */
  move(item: DriveItem, parent: DriveItem, name: string, conflict: ConflictBehavior): boolean {
    const existing = this.child(parent, name);
    if (existing && existing !== item) {
      if (conflict === 'fail') return false;
      if (conflict === 'rename') name = this.freeName(parent, name);
      else this.remove(existing);
    }
    const old = item.parent!;
    old.children!.delete(item.key);
    old.touch();
    item.name = name;
    item.key = keyOf(name);
    item.parent = parent;
    item.version++;
    parent.children!.set(item.key, item);
    parent.touch();
    return true;
  }

  remove(item: DriveItem): void {
    for (const c of [...(item.children?.values() ?? [])]) this.remove(c);
    const parent = item.parent;
    if (!parent) return; // the root stays
    parent.children!.delete(item.key);
    parent.touch();
    this.items.delete(item.id);
    this.storedBytes -= item.content?.length ?? 0;
  }

  /** Test and benchmark setup: creates folders along a '/'-separated path. */
  mkdirs(path: string): DriveItem {
    let folder = this.root;
    for (const name of path.split('/').filter((s) => s !== '')) {
      folder = this.child(folder, name) ?? this.createFolder(folder, name, 'fail')!;
    }
    return folder;
  }

  /** Test and benchmark setup: stores a file without going through HTTP, replacing any file there. */
  addFile(path: string, content: Buffer): DriveItem {
    const slash = path.lastIndexOf('/');
    const parent = this.mkdirs(slash < 0 ? '' : path.slice(0, slash));
    return this.putFile(parent, path.slice(slash + 1), content, 'replace')!.item;
  }

  /** Test inspection: a file's bytes by '/'-separated path. */
  fileAt(path: string): Buffer | undefined {
    return this.resolve(
      this.root,
      path.split('/').filter((s) => s !== ''),
    )?.content;
  }

  private register(parent: DriveItem | undefined, name: string, content: Buffer | undefined): DriveItem {
    const id = `${this.driveId.toUpperCase()}!${this.nextId++}`;
    const item = new DriveItem(id, name, parent, content);
    this.items.set(id, item);
    if (parent) {
      parent.children!.set(item.key, item);
      parent.touch();
    }
    return item;
  }

  private freeName(parent: DriveItem, name: string): string {
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 1; ; n++) {
      const candidate = `${stem} ${n}${ext}`;
      if (!this.child(parent, candidate)) return candidate;
    }
  }
}
