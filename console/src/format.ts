// How numbers, sizes, times and modes read on the page.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; three significant digits at most */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '—';
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${bytes < 0 ? '-' : ''}${value.toFixed(digits)} ${units[unit]}`;
}

const counts = new Intl.NumberFormat('en-US');

/** 12345 → "12,345" */
export function humanCount(n: number): string {
  return counts.format(n);
}

/** how long ago `ms` was: "just now", "5 min ago", "3 h ago", "12 d ago" */
export function age(ms: number, now = Date.now()): string {
  const seconds = Math.max(0, (now - ms) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 86400 * 365) return `${Math.floor(seconds / 86400)} d ago`;
  return `${(seconds / (86400 * 365)).toFixed(1)} y ago`;
}

/** elapsed time between two instants: "42 s", "3 min 5 s", "2 h 10 min" */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** local time as "2025-03-14 09:26:53", or "2025-03-14 09:26" without seconds */
export function dateTime(ms: number, seconds = true): string {
  const d = new Date(ms);
  const minutes = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${minutes}:${pad(d.getSeconds())}` : minutes;
}

const typeLetters: Record<string, string> = { dir: 'd', symlink: 'l', fifo: 'p', chardev: 'c', blockdev: 'b' };

/** 0o755 and "dir" → "drwxr-xr-x", with setuid, setgid and sticky bits as ls shows them */
export function modeString(mode: number, type: string): string {
  const bits = 'rwxrwxrwx'.split('').map((letter, i) => (mode & (1 << (8 - i)) ? letter : '-'));
  const special = (index: number, flag: number, set: string) => {
    if (mode & flag) bits[index] = bits[index] === 'x' ? set : set.toUpperCase();
  };
  special(2, 0o4000, 's');
  special(5, 0o2000, 's');
  special(8, 0o1000, 't');
  return (typeLetters[type] ?? '-') + bits.join('');
}

/** "alice:staff", falling back to the numeric ids */
export function owner(entry: { uid: number; gid: number; user?: string; group?: string }): string {
  return `${entry.user || entry.uid}:${entry.group || entry.gid}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${humanCount(n)} ${n === 1 ? one : many}`;
}
