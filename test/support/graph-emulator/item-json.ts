// driveItem resources as the service returns them, with $select applied. Only the selected
// properties are computed: a listing of a million items asks for four of them.

import type { Drive, DriveItem } from './drive.js';

type Property = (drive: Drive, item: DriveItem, parentPath: string | undefined) => unknown;

const PROPERTIES: Record<string, Property> = {
  id: (_d, i) => i.id,
  name: (_d, i) => i.name,
  size: (_d, i) => i.size,
  eTag: (_d, i) => `"{${i.id}},${i.version}"`,
  cTag: (_d, i) => `"c:{${i.id}},${i.version}"`,
  createdDateTime: (_d, i) => new Date(i.created).toISOString(),
  lastModifiedDateTime: (_d, i) => new Date(i.modified).toISOString(),
  parentReference: (d, i, parentPath) => i.parent && { driveId: d.driveId, driveType: 'personal', id: i.parent.id, path: parentPath ?? d.pathOf(i.parent) },
  root: (_d, i) => (i.parent ? undefined : {}),
  folder: (_d, i) => (i.isFolder ? { childCount: i.children!.size } : undefined),
  file: (_d, i) => (i.isFolder ? undefined : { mimeType: 'application/octet-stream' }),
};
const ALL = Object.keys(PROPERTIES);

/** `parentPath`: the parent's parentReference.path when the caller knows it (a page of one folder's children). */
export function itemJson(drive: Drive, item: DriveItem, select?: ReadonlySet<string>, parentPath?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of select ?? ALL) {
    const value = PROPERTIES[key]?.(drive, item, parentPath);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** Parses $select into a set of property names (undefined: everything). */
export function parseSelect(query: URLSearchParams): Set<string> | undefined {
  const raw = query.get('$select');
  if (!raw) return undefined;
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}
