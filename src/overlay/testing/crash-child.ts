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
import { prng } from '../../util/prng.js';

/** Base inodes the fake snapshot has (all below the fixture's FIRST_FREE_INO). */
const BASE_INOS = Array.from({ length: 38 }, (_, i) => i + 3);
const MAX_OPS = 80;


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

  /** One weighted row per operation (weights sum to 100): what a busy work tree does. */
  readonly #ops: ReadonlyArray<readonly [number, (stamp: bigint) => Promise<void> | void]> = [
    [30, (stamp) => this.#create(stamp)],
    [8, (stamp) => this.#mkdir(stamp)],
    [12, (stamp) => this.#copyUp(stamp)],
    [12, (stamp) => this.#rewrite(stamp)],
    [6, (stamp) => this.#chmod(stamp)],
    [8, () => this.#remove()],
    [4, (stamp) => this.#whiteout(stamp)],
    [6, () => this.#renameOver()],
    [4, () => this.#unlinkOpen()],
    [7, () => this.#sync()],
    [3, async (stamp) => this.store.release(await this.#writeNew(this.store.allocIno(), stamp))],
  ];

  async step(): Promise<void> {
    const stamp = ++this.#stamp;
    let r = this.#rand() * 100;
    for (const [weight, op] of this.#ops) {
      r -= weight;
      if (r < 0) return op(stamp);
    }
  }

  async #create(stamp: bigint): Promise<void> {
    const ino = this.store.allocIno();
    const parent = this.pick(this.#present((x) => x.kind === 'dir'))?.ino ?? ROOT_INO;
    const file = await this.#writeNew(ino, stamp);
    this.store.put(row(ino, 'file', { kind: 'upper', file }, { parent, name: `f${ino}`, size: `${ino}:${stamp}`.length, mtimeNs: stamp }));
  }

  #mkdir(stamp: bigint): void {
    const ino = this.store.allocIno();
    this.store.put(row(ino, 'dir', { kind: 'none' }, { name: `d${ino}`, mtimeNs: stamp }));
  }

  async #copyUp(stamp: bigint): Promise<void> {
    const s = this.store;
    const ino = this.pick(BASE_INOS.filter((i) => s.get(i) === undefined || s.get(i)?.content.kind === 'base'));
    if (ino === undefined) return;
    const source = join(this.args.stateDir, `blob-${ino}`);
    writeFileSync(source, `base:${ino}`);
    const file = await this.#writeNew(ino, stamp, source);
    s.put(row(ino, 'file', { kind: 'upper', file }, { created: false, name: `b${ino}`, size: `${ino}:${stamp}`.length, mtimeNs: stamp }));
  }

  /** New content in a new file (truncate-to-zero + write): the old file is released. */
  async #rewrite(stamp: bigint): Promise<void> {
    const target = this.pick(this.#present((x) => x.content.kind === 'upper'));
    if (!target) return;
    const file = await this.#writeNew(target.ino, stamp);
    this.store.put({ ...target, content: { kind: 'upper', file }, size: `${target.ino}:${stamp}`.length, mtimeNs: stamp });
  }

  #chmod(stamp: bigint): void {
    const t = this.pick(this.#present());
    if (t) this.store.put({ ...t, mode: (t.mode & ~0o777) | Math.floor(this.#rand() * 0o777), ctimeNs: stamp });
  }

  #remove(): void {
    const t = this.pick(this.#present((x) => x.created && this.#free(x)));
    if (t) this.store.delete(t.ino);
  }

  #whiteout(stamp: bigint): void {
    const ino = this.pick(BASE_INOS.filter((i) => !this.#protected.has(i) && this.store.get(i)?.state !== 'whiteout'));
    if (ino !== undefined) this.store.put(row(ino, 'file', { kind: 'none' }, { created: false, state: 'whiteout', name: `b${ino}`, mtimeNs: stamp }));
  }

  #unlinkOpen(): void {
    const t = this.pick(this.#present(this.#free));
    if (t) this.store.put({ ...t, parent: 0 });
  }

  async #sync(): Promise<void> {
    const t = this.pick(this.#present());
    if (!t) return;
    await this.store.sync(t.ino);
    // The process-kill model: appended data survives a SIGKILL without an fsync of the log.
    appendFileSync(join(this.args.stateDir, SYNCED_LOG), `${t.ino} ${this.store.get(t.ino)!.mtimeNs}\n`);
    this.#protected.add(t.ino);
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

/**
 * The kind of kill is chosen by seed (so every fixed seed set covers every point); its details
 * (which hit of the point, how many ops, how long) by the PRNG.
 */
function plan(seed: number, rand: () => number): Plan {
  const points = Object.keys(FAULT_POINTS) as FaultPoint[];
  const slot = seed % (points.length + 3);
  if (slot < points.length) return { kind: 'point', point: points[slot]!, nth: 1 + Math.floor(rand() * 4) };
  if (slot < points.length + 2) return { kind: 'ops', after: Math.floor(rand() * MAX_OPS) };
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
  const p = plan(args.seed, prng(args.seed));
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
