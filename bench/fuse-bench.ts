// FUSE library rows: memfs mounted (served by a child process) against a native directory.
//  - stat of 10,000 files, warm (kernel attribute/entry cache in use) and with caching off
//  - sequential read of a 256 MiB file through FUSE vs the same read from tmpfs

import { closeSync, mkdirSync, openSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { rm, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMemfs } from '../test/support/memfs-child.js';
import { medianOf, type Row } from './report.js';

const FILES = 10_000;
const BIG = 256 * 1024 * 1024;
const RUNS = 5;

function makeFiles(dir: string): string[] {
  const paths: string[] = [];
  for (let d = 0; d < 100; d++) {
    const sub = join(dir, `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES / 100; f++) {
      const p = join(sub, `f${f}.txt`);
      writeFileSync(p, 'x');
      paths.push(p);
    }
  }
  return paths;
}

/** Microseconds per stat over all paths. */
function statAll(paths: string[]): number {
  const t0 = process.hrtime.bigint();
  for (const p of paths) statSync(p);
  return Number(process.hrtime.bigint() - t0) / 1000 / paths.length;
}

function writeBig(path: string): void {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const fd = openSync(path, 'w');
  for (let off = 0; off < BIG; off += chunk.length) writeSync(fd, chunk);
  closeSync(fd);
}

/** MiB/s of a sequential read in 1 MiB calls. */
function readBig(path: string): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  const t0 = process.hrtime.bigint();
  let total = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    total += n;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(fd);
  if (total !== BIG) throw new Error(`read ${total} bytes, expected ${BIG}`);
  return total / (1 << 20) / s;
}

/** Drops clean page cache so the next read of a FUSE file goes to the daemon (tmpfs is unaffected). */
function dropCaches(): void {
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

async function statRows(root: string): Promise<Row[]> {
  const native = makeFiles(join(root, 'native'));
  statAll(native);
  const nativeUs = await medianOf(RUNS, () => statAll(native));
  const rows: Row[] = [];
  for (const [label, timeout, goal] of [['warm, caches on', 3600, '≤ 2x'], ['caching off', 0, '≤ 10x']] as const) {
    const mnt = join(root, `mnt-${timeout}`);
    mkdirSync(mnt);
    const fs = await startMemfs(mnt, { entryTimeout: timeout, attrTimeout: timeout });
    try {
      const paths = makeFiles(mnt);
      statAll(paths); // warm-up pass (fills the kernel caches when they are on)
      const us = await medianOf(RUNS, () => statAll(paths));
      rows.push({ group: 'fuse', what: `stat 10k files, ${label}`, subject: us, baseline: nativeUs, unit: 'µs/op', goal, note: 'memfs vs ext4 dir' });
    } finally {
      await fs.stop();
    }
  }
  return rows;
}

async function readRow(root: string): Promise<Row> {
  const shm = await mkdtemp('/dev/shm/afs-bench-');
  const mnt = join(root, 'mnt-read');
  mkdirSync(mnt);
  const fs = await startMemfs(mnt);
  try {
    writeBig(join(shm, 'big'));
    writeBig(join(mnt, 'big'));
    if (statSync(join(mnt, 'big')).size !== BIG) throw new Error('short write through the mount');
    const native = await medianOf(RUNS, () => readBig(join(shm, 'big')));
    const fuse = await medianOf(RUNS, () => { dropCaches(); return readBig(join(mnt, 'big')); });
    return { group: 'fuse', what: 'sequential read 256 MiB, cold page cache', subject: fuse, baseline: native, unit: 'MiB/s', goal: '≥ 0.25x', note: 'memfs vs tmpfs' };
  } finally {
    await fs.stop();
    await rm(shm, { recursive: true, force: true });
  }
}

export async function fuseRows(): Promise<Row[]> {
  const root = await mkdtemp(join(tmpdir(), 'afs-bench-'));
  try {
    return [...(await statRows(root)), await readRow(root)];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
