// driveItem resources as the service returns them, with $select applied.

import type { Drive, DriveItem } from './drive.js';

export function itemJson(drive: Drive, item: DriveItem, select?: ReadonlySet<string>, parentPath?: string): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: item.id,
    name: item.name,
    size: item.size,
    eTag: `"{${item.id}},${item.version}"`,
    cTag: `"c:{${item.id}},${item.version}"`,
    createdDateTime: new Date(item.created).toISOString(),
    lastModifiedDateTime: new Date(item.modified).toISOString(),
  };
  if (item.parent) {
    full.parentReference = {
      driveId: drive.driveId,
      driveType: 'personal',
      id: item.parent.id,
      path: parentPath ?? drive.pathOf(item.parent),
    };
  } else {
    full.root = {};
  }
  if (item.isFolder) full.folder = { childCount: item.children!.size };
  else full.file = { mimeType: 'application/octet-stream' };
  if (!select) return full;
  const picked: Record<string, unknown> = {};
  for (const key of select) if (key in full) picked[key] = full[key];
  return picked;
}

/** Parses $select into a set of property names (undefined: everything). */
export function parseSelect(query: URLSearchParams): Set<string> | undefined {
  const raw = query.get('$select');
  if (!raw) return undefined;
  return new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}
