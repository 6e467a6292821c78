// Benchmark rows: a measured subject next to its baseline from the same run, as a ratio.

export interface Row {
  group: string;
  what: string;
  subject: number;
  baseline: number;
  unit: 'ms' | 'µs/op' | 'MiB/s';
  /** Higher is better for throughput rows; the ratio is always subject / baseline. */
  goal?: string;
  note?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs fn `n` times and returns the median of what it reports. */
export async function medianOf(n: number, fn: () => Promise<number> | number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  return median(xs);
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function printRows(rows: Row[]): void {
  const lines = rows.map((r) => [
    r.group, r.what, `${fmt(r.subject)} ${r.unit}`, `${fmt(r.baseline)} ${r.unit}`,
    `${(r.subject / r.baseline).toFixed(2)}x`, r.goal ?? '', r.note ?? '',
  ]);
  const head = ['group', 'measurement', 'artifact-fs', 'baseline', 'ratio', 'goal', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const out = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  process.stdout.write([out(head), out(widths.map((w) => '-'.repeat(w))), ...lines.map(out)].join('\n') + '\n');
}
