// Sizes as people read them (1.46 MiB), for the CLI's lines and the console's job summaries.

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}iB`;
}
