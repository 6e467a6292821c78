// The daemon: mounts every registered repo, follows the registry (repos added or removed by
// other commands appear or disappear within RECONCILE_MS), publishes live state for `status`,
// and unmounts everything on close().

import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { BlobCache } from '../hydrator/blob-cache.js';
import { Hydrator } from '../hydrator/hydrator.js';
import { openDb, type Db } from '../registry/db.js';
import { listRepos } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Level, Log } from '../util/log.js';
import { acquirePidLock, type PidLock } from '../util/pid-lock.js';
import { mountpointFor, RepoMount } from './repo-mount.js';
import { clearRuntime, writeRuntime } from './runtime-state.js';

/** How often the registry is re-read for added/removed repos. */
export const RECONCILE_MS = 500;
/** How often live state (hydration progress) is published for `status`. */
export const PUBLISH_MS = 1000;
/** How long shutdown waits for in-flight hydration batches before aborting them. */
export const CLOSE_GRACE_MS = 2000;

export interface DaemonOptions {
  root: StateRoot;
  /** Mount root for repos registered without one (daemon --root). */
  mountRoot?: string;
  /** Background fetch batches in flight; 0 disables background hydration (reads still fetch). */
  hydrationConcurrency: number;
  log: Log;
}

export class Daemon {
  readonly #o: DaemonOptions;
  #db: Db | undefined;
  #lock: PidLock | undefined;
  #hydrator: Hydrator | undefined;
  #cache: BlobCache | undefined;
  readonly #repos = new Map<string, RepoMount>();
  /** Repos whose mount failed, with the time of the failure (retried after a pause). */
  readonly #failed = new Map<string, number>();
  #timers: NodeJS.Timeout[] = [];
  #reconciling = false;
  #again = false;
  #watcher: FSWatcher | undefined;
  #kickTimer: NodeJS.Timeout | undefined;
  #onUsr2: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: DaemonOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    const { root, log } = this.#o;
    this.#lock = await acquirePidLock(join(root.dir, 'daemon.pid'), (pid) => `another daemon (pid ${pid}) is already running on state root ${root.dir}`);
    this.#db = openDb(root.db);
    await rm(root.scratchDir, { recursive: true, force: true });
    await mkdir(root.scratchDir, { recursive: true, mode: 0o700 });
    this.#cache = await BlobCache.open({ root: root.dir });
    this.#hydrator = new Hydrator({ cache: this.#cache, concurrency: Math.max(1, this.#o.hydrationConcurrency), log: (level: Level, msg: string) => log(level, msg) });
    await this.#reconcile();
    this.#timers.push(setInterval(() => void this.#reconcile(), RECONCILE_MS));
    // React at once when another command writes the registry (the poll is the fallback).
    this.#watcher = watch(root.dir, (_event, file) => {
      if (file?.startsWith('registry.db')) this.#kick();
    });
    this.#watcher.on('error', () => {});
    // Diagnostics: `kill -USR2 <daemon>` logs the FUSE requests each mount has served.
    this.#onUsr2 = () => { for (const [name, m] of this.#repos) log('info', 'fuse requests', { repo: name, ...m.requestCounts() }); };
    process.on('SIGUSR2', this.#onUsr2);
    this.#timers.push(setInterval(() => this.#publish(), PUBLISH_MS));
    log('info', 'daemon started', { repos: this.#repos.size, pid: process.pid });
  }

  #kick(): void {
    if (this.#kickTimer) return;
    this.#kickTimer = setTimeout(() => { this.#kickTimer = undefined; void this.#reconcile(); }, 10);
  }

  /** Mount what is registered and not mounted; unmount what is no longer registered. */
  async #reconcile(): Promise<void> {
    if (this.#closing) return;
    if (this.#reconciling) { this.#again = true; return; }
    this.#reconciling = true;
    try {
      const wanted = new Map(listRepos(this.#db!).map((c) => [c.name, c]));
      let changed = false;
      for (const [name, m] of this.#repos) {
        if (wanted.get(name)?.generation !== m.generation) {
          await this.#unmount(name);
          changed = true;
        }
      }
      for (const [name, c] of wanted) {
        if (this.#repos.has(name) || Date.now() - (this.#failed.get(name) ?? 0) < 10_000) continue;
        const m = new RepoMount(c, mountpointFor(c, this.#o.mountRoot, this.#o.root), {
          root: this.#o.root, db: this.#db!, hydrator: this.#hydrator!, cache: this.#cache!, log: this.#o.log,
          background: this.#o.hydrationConcurrency > 0,
        });
        try {
          await m.start();
          this.#repos.set(name, m);
          changed = true;
          this.#failed.delete(name);
          void m.closed?.then(() => { if (this.#repos.get(name) === m && !this.#closing) void this.#unmount(name); });
        } catch (err) {
          this.#failed.set(name, Date.now());
          await m.close().catch(() => {});
          this.#o.log('error', `cannot mount ${name}: ${(err as Error).message}`, { repo: name });
        }
      }
      // Publish only when the set of mounts changed: publishing writes the registry, which
      // wakes the watcher, which would reconcile again.
      if (changed) this.#publish();
    } finally {
      this.#reconciling = false;
    }
    if (this.#again) {
      this.#again = false;
      void this.#reconcile();
    }
  }

  async #unmount(name: string): Promise<void> {
    const m = this.#repos.get(name);
    if (!m) return;
    this.#repos.delete(name);
    await m.close().catch((err: Error) => this.#o.log('error', `unmount of ${name} failed: ${err.message}`, { repo: name }));
    clearRuntime(this.#db!, name);
  }

  #publish(): void {
    if (!this.#db || this.#closing) return;
    const h = this.#hydrator!.stats();
    for (const [name, m] of this.#repos) {
      const s = m.stats();
      writeRuntime(this.#db, { repo: name, pid: process.pid, state: 'mounted', mountpoint: m.mountpoint, heartbeat: Date.now(), hydratedBlobs: s.hydratedBlobs, hydratedBytes: s.hydratedBytes, queued: h.queued, failed: h.failedBlobs });
    }
  }

  /** Waits until background hydration has nothing queued or in flight. */
  whenIdle(): Promise<void> {
    return this.#hydrator?.whenIdle() ?? Promise.resolve();
  }

  /** Unmounts every repo and releases everything. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      for (const t of this.#timers) clearInterval(t);
      clearTimeout(this.#kickTimer);
      if (this.#onUsr2) process.off('SIGUSR2', this.#onUsr2);
      this.#watcher?.close();
      await Promise.all([...this.#repos.keys()].map((name) => this.#unmount(name)));
      // In-flight batches get a moment to land; shutdown never waits on a stuck remote.
      const h = this.#hydrator;
      if (h) {
        const drained = await Promise.race([h.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), CLOSE_GRACE_MS).unref())]);
        if (!drained) await h.destroy(new Error('daemon shutting down'));
      }
      this.#db?.close();
      await this.#lock?.release();
      this.#o.log('info', 'daemon stopped');
    })());
  }
}
