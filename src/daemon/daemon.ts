// The daemon: mounts every registered repo, follows the registry (repos added or removed by
// other commands appear or disappear within RECONCILE_MS), refreshes remotes (refresh.ts),
// answers the control socket (control-ops.ts), publishes live state for `status`, and unmounts
// everything on close().

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
import type { Oid } from '../model/ids.js';
import { controlOps, type ControlTarget } from './control-ops.js';
import { ControlServer } from './control-server.js';
import { RefreshLoop } from './refresh.js';
import type { LiveState } from './status.js';
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
  #refresh: RefreshLoop | undefined;
  #control: ControlServer | undefined;
  /** Why the last mount of a repo failed (for `remount`'s answer). */
  readonly #mountErrors = new Map<string, string>();
  /** Callers of #reconcileNow waiting for a pass that starts after their call. */
  #waiters: Array<() => void> = [];

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
    this.#refresh = new RefreshLoop({ root, db: this.#db, log });
    // Listening before the first mount: a command that sees a mount can always reach the daemon.
    try {
      this.#control = await ControlServer.listen(root.socket, controlOps(this.#controlTarget()), log);
    } catch (err) {
      // Commands still work through the registry, which this daemon follows.
      log('error', `no control socket: ${(err as Error).message}`);
    }
    // Diagnostics: `kill -USR2 <daemon>` logs the FUSE requests each mount has served. Installed
    // before the first mount: until then SIGUSR2's default action would kill the daemon.
    this.#onUsr2 = () => { for (const [name, m] of this.#repos) log('info', 'fuse requests', { repo: name, ...m.requestCounts() }); };
    process.on('SIGUSR2', this.#onUsr2);
    await this.#reconcile();
    this.#timers.push(setInterval(() => void this.#reconcile(), RECONCILE_MS));
    // React at once when another command writes the registry (the poll is the fallback).
    this.#watcher = watch(root.dir, (_event, file) => {
      if (file?.startsWith('registry.db')) this.#kick();
    });
    this.#watcher.on('error', () => {});
    this.#timers.push(setInterval(() => this.#publish(), PUBLISH_MS));
    log('info', 'daemon started', { repos: this.#repos.size, pid: process.pid, socket: this.#control ? root.socket : null });
  }

  #kick(): void {
    if (this.#kickTimer) return;
    this.#kickTimer = setTimeout(() => { this.#kickTimer = undefined; void this.#reconcile(); }, 10);
  }

  #reconcileNow(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      void this.#reconcile();
    });
  }

  /** Mount what is registered and not mounted; unmount what is no longer registered (or was unmounted). */
  async #reconcile(): Promise<void> {
    if (this.#closing) { for (const w of this.#waiters.splice(0)) w(); return; }
    if (this.#reconciling) { this.#again = true; return; }
    this.#reconciling = true;
    const waiters = this.#waiters.splice(0);
    try {
      const wanted = new Map(listRepos(this.#db!).filter((c) => !c.unmounted).map((c) => [c.name, c]));
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
          this.#mountErrors.delete(name);
          void m.closed?.then(() => { if (this.#repos.get(name) === m && !this.#closing) void this.#unmount(name); });
        } catch (err) {
          this.#failed.set(name, Date.now());
          this.#mountErrors.set(name, (err as Error).message);
          await m.close().catch(() => {});
          this.#o.log('error', `cannot mount ${name}: ${(err as Error).message}`, { repo: name });
        }
      }
      // Publish only when the set of mounts changed: publishing writes the registry, which
      // wakes the watcher, which would reconcile again.
      if (changed) this.#publish();
      this.#refresh?.sync([...wanted.values()].filter((c) => this.#repos.has(c.name)));
    } finally {
      this.#reconciling = false;
      for (const w of waiters) w();
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
      writeRuntime(this.#db, { repo: name, pid: process.pid, state: this.#live(name)?.state ?? 'mounted', mountpoint: m.mountpoint, heartbeat: Date.now(), hydratedBlobs: s.hydratedBlobs, hydratedBytes: s.hydratedBytes, queued: h.queued, failed: h.failedBlobs });
    }
  }

  #live(name: string): LiveState | undefined {
    const m = this.#repos.get(name);
    if (!m) return undefined;
    return {
      state: this.#refresh!.failures(name) > 0 ? 'degraded' : 'mounted', snapshot: m.snapshot,
      isCached: (oid) => this.#cache!.isKnown(oid as Oid), queued: this.#hydrator!.stats().queued,
      mountpoint: m.mountpoint, nextFetch: this.#refresh!.nextFetch(name),
    };
  }

  #controlTarget(): ControlTarget {
    return {
      db: this.#db!, root: this.#o.root, refresh: this.#refresh!,
      reconcileNow: () => this.#reconcileNow(),
      unmount: (name) => this.#unmount(name),
      forgetMountFailure: (name) => { this.#failed.delete(name); },
      mountError: (name) => this.#mountErrors.get(name),
      live: (name) => this.#live(name),
      mountpoint: (c) => mountpointFor(c, this.#o.mountRoot, this.#o.root),
    };
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
      // New commands find no daemon (and use the registry) from here on.
      await this.#control?.close();
      await this.#refresh?.close();
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
