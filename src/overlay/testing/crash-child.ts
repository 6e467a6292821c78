// Child process of overlay-crash.test.ts: drives an OverlayStore through a seeded random sequence
// of mutations and SIGKILLs itself at a chosen crash-ordering point (FAULT_POINTS, nth hit), after
// a chosen number of operations, or on a timer (in the middle of whatever is in flight).
//
//   node crash-child.js '{"stateDir": "...", "seed": 7, "iteration": 3, "mode": "random"}'
//
// Conventions the parent checks after the crash:
// - every upper file holds `<ino>:<mtimeNs of its row>` (written before the row is put);
// - `<stateDir>/synced.log` lists `<ino> <mtimeNs>` for rows whose sync() resolved; those rows
//   are never deleted, moved, unlinked or whited out afterwards (their mtime only grows).
// stdout gets one line `kill <reason>` just before the kill.

import { appendFileSync, closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_INO } from '../../snapshot/snapshot.js';
import { FAULT_POINTS, type FaultPoint, type OverlayStore } from '../overlay-store.js';
import type { OverlayRow } from '../types.js';
import { type ChildArgs, SYNCED_LOG, syncedLog } from './crash-protocol.js';
import { fixtureAt, row } from './fixture.js';

/** Base inodes the fake snapshot has (all below the fixture's FIRST_FREE_INO). */
const BASE_INOS = Array.from({ length: 38 }, (_, i) => i + 3);
const MAX_OPS = 80;

/** mulberry32: small, seeded, good enough to pick operations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function die(reason: string): never {
  writeSync(1, `kill ${reason}\n`);
  process.kill(process.pid, 'SIGKILL');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000); // nothing runs after the kill
  throw new Error('unreachable');
}

class Driver {
  readonly #rand: () => number;
  readonly #protected: Set<number>;
  #stamp: bigint;
  constructor(readonly store: OverlayStore, readonly args: ChildArgs) {
    this.#rand = prng(args.seed * 7919 + 1);
    this.#protected = new Set(syncedLog(args.stateDir).map((s) => s.ino));
    this.#stamp = BigInt(args.iteration) * 1_000_000n;
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.#rand() * items.length)];
  }

  #present(filter: (r: OverlayRow) => boolean = () => true): OverlayRow[] {
    return [...this.store.rows()].filter((r) => r.state === 'present' && r.parent !== 0 && r.ino !== ROOT_INO && filter(r));
  }

  #free = (r: OverlayRow): boolean => !this.#protected.has(r.ino);

  async #writeNew(ino: number, stamp: bigint, source?: string): Promise<string> {
    // ORDER (of the fs layer): content is in the file before the row naming it is put.
    const content = `${ino}:${stamp}`;
    if (source) {
      const path = await this.store.copyUp(ino, source, { durable: this.#rand() < 0.5 });
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, 0);
      writeSync(fd, content, 0);
      closeSync(fd);
      return path;
    }
    const { path, fd } = await this.store.newBackingFile(ino);
    writeSync(fd, content);
    closeSync(fd);
    return path;
  }

  async step(): Promise<void> {
    const stamp = ++this.#stamp;
    const r = this.#rand();
    const s = this.store;
    if (r < 0.3) {
      const ino = s.allocIno();
      const dirs = this.#present((x) => x.kind === 'dir');
      const parent = this.pick(dirs)?.ino ?? ROOT_INO;
      const file = await this.#writeNew(ino, stamp);
      s.put(row(ino, 'file', { kind: 'upper', file }, { parent, name: `f${ino}`, size: `${ino}:${stamp}`.length, mtimeNs: stamp }));
    } else if (r < 0.38) {
      const ino = s.allocIno();
      s.put(row(ino, 'dir', { kind: 'none' }, { name: `d${ino}`, mtimeNs: stamp }));
    } else if (r < 0.5) {
      const ino = this.pick(BASE_INOS.filter((i) => s.get(i) === undefined || s.get(i)?.content.kind === 'base'));
      if (ino === undefined) return;
      const source = join(this.args.stateDir, `blob-${ino}`);
      writeFileSync(source, `base:${ino}`);
      const file = await this.#writeNew(ino, stamp, source);
      s.put(row(ino, 'file', { kind: 'upper', file }, { created: false, name: `b${ino}`, size: `${ino}:${stamp}`.length, mtimeNs: stamp }));
    } else if (r < 0.62) {
      const target = this.pick(this.#present((x) => x.content.kind === 'upper'));
      if (!target) return;
      const file = await this.#writeNew(target.ino, stamp);
      s.put({ ...target, content: { kind: 'upper', file }, size: `${target.ino}:${stamp}`.length, mtimeNs: stamp });
    } else if (r < 0.68) {
      const t = this.pick(this.#present());
      if (t) s.put({ ...t, mode: (t.mode & ~0o777) | Math.floor(this.#rand() * 0o777), ctimeNs: stamp });
    } else if (r < 0.76) {
      const t = this.pick(this.#present((x) => x.created && this.#free(x)));
      if (t) s.delete(t.ino);
    } else if (r < 0.8) {
      const ino = this.pick(BASE_INOS.filter((i) => !this.#protected.has(i) && s.get(i)?.state !== 'whiteout'));
      if (ino !== undefined) s.put(row(ino, 'file', { kind: 'none' }, { created: false, state: 'whiteout', name: `b${ino}`, mtimeNs: stamp }));
    } else if (r < 0.86) {
      this.#renameOver();
    } else if (r < 0.9) {
      const t = this.pick(this.#present(this.#free));
      if (t) s.put({ ...t, parent: 0 });
    } else if (r < 0.97) {
      const t = this.pick(this.#present());
      if (!t) return;
      await s.sync(t.ino);
      // The process-kill model: appended data survives a SIGKILL without an fsync of the log.
      appendFileSync(join(this.args.stateDir, SYNCED_LOG), `${t.ino} ${s.get(t.ino)!.mtimeNs}\n`);
      this.#protected.add(t.ino);
    } else {
      const ino = s.allocIno();
      await s.release(await this.#writeNew(ino, stamp));
    }
  }

  #renameOver(): void {
    const free = this.#present(this.#free);
    const src = this.pick(free);
    const dst = this.pick(free.filter((x) => x.ino !== src?.ino && x.kind !== 'dir'));
    if (!src || !dst || src.kind === 'dir') return;
    const moved = { ...src, parent: dst.parent, name: dst.name };
    if (dst.created) this.store.putMany([moved], [dst.ino]);
    else this.store.putMany([moved, { ...dst, state: 'whiteout', content: { kind: 'none' } }]);
  }
}

type Plan = { kind: 'point'; point: FaultPoint; nth: number } | { kind: 'ops'; after: number } | { kind: 'timer'; ms: number };

function plan(rand: () => number): Plan {
  const r = rand();
  const points = Object.keys(FAULT_POINTS) as FaultPoint[];
  if (r < 0.7) return { kind: 'point', point: points[Math.floor(rand() * points.length)]!, nth: 1 + Math.floor(rand() * 4) };
  if (r < 0.85) return { kind: 'ops', after: Math.floor(rand() * MAX_OPS) };
  return { kind: 'timer', ms: Math.floor(rand() * 40) };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as ChildArgs;
  const fx = fixtureAt(args.stateDir);
  if (args.mode === 'sync-then-kill') {
    const store = await fx.open();
    const ino = store.allocIno();
    const { path, fd } = await store.newBackingFile(ino);
    writeSync(fd, `${ino}:${args.seed}`);
    closeSync(fd);
    store.put(row(ino, 'file', { kind: 'upper', file: path }, { size: `${ino}:${args.seed}`.length, mtimeNs: BigInt(args.seed) }));
    await store.sync(ino);
    die(`synced ${ino}`);
  }
  const p = plan(prng(args.seed));
  const hits = new Map<FaultPoint, number>();
  const fault = (point: FaultPoint): void => {
    hits.set(point, (hits.get(point) ?? 0) + 1);
    if (p.kind === 'point' && p.point === point && hits.get(point) === p.nth) die(`point ${point}#${p.nth}`);
  };
  const store = await fx.open({ fault, releaseDelayMs: 1 + (args.seed % 5) });
  if (p.kind === 'timer') setTimeout(() => die(`timer ${p.ms}ms`), p.ms);
  const driver = new Driver(store, args);
  for (let i = 0; i < MAX_OPS; i++) {
    if (p.kind === 'ops' && p.after === i) die(`ops ${i}`);
    await driver.step();
  }
  die('end');
}

await main();
