// Overlay store costs: `node --expose-gc dist/bench/overlay-bench.js [--rows 10000]`. Not part of npm test or
// `npm run bench` (no FUSE needed). Simulates `npm install` creating N files: the put of each new
// row alone (the per-mutation database cost), the whole create (backing file + write + put),
// metadata-only puts, sync(), copy-up, and reopening the store with N rows.

import { closeSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT_INO } from '../src/snapshot/snapshot.js';
import type { OverlayStore } from '../src/overlay/overlay-store.js';
import { oid, row, tempFixture } from '../src/overlay/testing/fixture.js';
import type { OverlayRow } from '../src/overlay/types.js';

const now = (): bigint => process.hrtime.bigint();
const us = (ns: bigint, n: number): string => (Number(ns) / 1e3 / n).toFixed(1);

async function measure(label: string, n: number, fn: (i: number) => unknown): Promise<void> {
  const t = now();
  for (let i = 0; i < n; i++) await fn(i);
  process.stdout.write(`${label.padEnd(58)} ${us(now() - t, n).padStart(9)} µs/op  (n=${n})\n`);
}

function measureSync(label: string, n: number, fn: (i: number) => void): void {
  const t = now();
  for (let i = 0; i < n; i++) fn(i);
  process.stdout.write(`${label.padEnd(58)} ${us(now() - t, n).padStart(9)} µs/op  (n=${n})\n`);
}

async function newFileRow(store: OverlayStore, parent: number, i: number): Promise<OverlayRow> {
  const ino = store.allocIno();
  const { path, fd } = await store.newBackingFile(ino);
  writeSync(fd, `{"name":"pkg-${i}"}\n`);
  closeSync(fd);
  return row(ino, 'file', { kind: 'upper', file: path }, { parent, name: `file-${i}.js`, size: 20 });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000' } } });
  const n = Number(values.rows);
  const fx = tempFixture();
  try {
    let store = await fx.open();
    const dir = store.allocIno();
    store.put(row(dir, 'dir', { kind: 'none' }, { name: 'node_modules' }));
    const prepared: OverlayRow[] = [];
    await measure('newBackingFile + write + close (no put)', n, async (i) => prepared.push(await newFileRow(store, dir, i)));
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    measureSync('put of a new file row (one transaction each)', n, (i) => store.put(prepared[i]!));
    gc?.();
    const heapPerRow = (process.memoryUsage().heapUsed - heap0) / n;
    const more: OverlayRow[] = [];
    await measure('create end to end (backing file + write + put)', n, async (i) => {
      more.push(await newFileRow(store, dir, n + i));
      store.put(more[i]!);
    });
    const renames = Math.min(1000, Math.floor(n / 2));
    measureSync('putMany: rename over an overlay-only entry (2 rows)', renames, (i) => {
      const src = prepared[i]!;
      const dst = prepared[i + renames]!;
      store.putMany([{ ...src, name: dst.name }], [dst.ino]);
    });
    const base = Array.from({ length: n }, (_, i) => row(3 + i, 'file', { kind: 'base', oid: oid(i + 1) }, { created: false, size: 100, parent: ROOT_INO, name: `base-${i}` }));
    store.raiseInoFloor(n + 10);
    measureSync('put of a metadata-only change (chmod of a base file)', Math.min(n, 5000), (i) => store.put(base[i]!));
    await measure('sync() after a 4 KiB write (fdatasync file + dir + WAL)', Math.min(200, n), async (i) => {
      const r = more[i]!;
      if (r.content.kind === 'upper') writeFileSync(r.content.file, Buffer.alloc(4096, i));
      store.put({ ...store.get(r.ino)!, size: 4096 });
      await store.sync(r.ino);
    });
    const blob = join(fx.stateDir, 'blob');
    writeFileSync(blob, Buffer.alloc(1 << 20, 7), { mode: 0o444 });
    await measure('copyUp of a 1 MiB blob, durable (default)', 100, (i) => store.copyUp(3 + i, blob));
    await measure('copyUp of a 1 MiB blob, durable: false', 100, (i) => store.copyUp(3 + i, blob, { durable: false }));
    const total = [...store.rows()].length;
    await store.close();
    const t = now();
    store = await fx.open();
    process.stdout.write(`${`open() with ${total} rows (load, collect orphans, stat upper files)`.padEnd(58)} ${(Number(now() - t) / 1e6).toFixed(1).padStart(9)} ms\n`);
    if (gc) process.stdout.write(`${'heap per stored row (--expose-gc)'.padEnd(58)} ${heapPerRow.toFixed(0).padStart(9)} bytes\n`);
    await store.close();
  } finally {
    fx.dispose();
  }
}

await main();
