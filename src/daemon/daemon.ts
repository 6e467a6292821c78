// The daemon: mounts every registered repo, follows the registry (repos added or removed by
// other commands appear or disappear within RECONCILE_MS), prepares async repos behind gated
// mounts (preparer.ts, gated-mount.ts), refreshes remotes (refresh.ts), answers the control
// socket (control-ops.ts), publishes live state for `status`, and unmounts everything on close().

import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { BlobCache } from '../hydrator/blob-cache.js';
import { Hydrator } from '../hydrator/hydrator.js';
import { openDb, type Db } from '../registry/db.js';
import { getRepo, listRepos, requeueInterrupted, type RepoConfig } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Level, Log } from '../util/log.js';
import { acquirePidLock, type PidLock } from '../util/pid-lock.js';
import type { Oid } from '../model/ids.js';
import { controlOps, type ControlTarget } from './control-ops.js';
import { ControlServer } from './control-server.js';
import { GatedMount } from './gated-mount.js';
import { Preparer } from './preparer.js';
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
  /** Mounted repos: served (RepoMount) or still gated while being prepared (GatedMount). */
  readonly #repos = new Map<string, RepoMount | GatedMount>();
  #preparer: Preparer | undefined;
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
    // Preparations a previous daemon left unfinished (it died, or stopped mid-way) start over.
    const requeued = requeueInterrupted(this.#db);
    await removePrepareDirs(join(root.dir, 'repos'));
    await rm(root.scratchDir, { recursive: true, force: true });
    await mkdir(root.scratchDir, { recursive: true, mode: 0o700 });
    this.#cache = await BlobCache.open({ root: root.dir });
    this.#hydrator = new Hydrator({ cache: this.#cache, concurrency: Math.max(1, this.#o.hydrationConcurrency), log: (level: Level, msg: string) => log(level, msg) });
    this.#refresh = new RefreshLoop({ root, db: this.#db, log });
    this.#preparer = new Preparer({ root, db: this.#db, cache: this.#cache, log, onSettled: () => this.#kick() });
    if (requeued) log('info', 'resuming interrupted preparations', { repos: requeued });
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
      const all = listRepos(this.#db!);
      const wanted = new Map(all.filter((c) => !c.unmounted).map((c) => [c.name, c]));
      let changed = false;
      for (const [name, m] of this.#repos) {
        const c = wanted.get(name);
        if (m instanceof GatedMount && c && c.prepareState !== 'ready') m.follow(c);
        else if (m instanceof GatedMount && c) changed = (await this.#activate(m, c)) || changed;
        // Re-registered under the same name (remove-repo + add-repo): mount the new one. Read
        // again here: HEAD moves switch generations while this pass awaits other mounts.
        else if (c && this.#replaced(name, m)) {
          await this.#unmount(name);
          changed = true;
        } else if (!c) {
          await this.#unmount(name);
          changed = true;
        }
      }
      for (const [name, c] of wanted) {
        if (this.#repos.has(name) || Date.now() - (this.#failed.get(name) ?? 0) < 10_000) continue;
        changed = (await this.#mount(c)) || changed;
      }
      // Publish only when the set of mounts changed: publishing writes the registry, which
      // wakes the watcher, which would reconcile again.
      if (changed) this.#publish();
      this.#refresh?.sync([...wanted.values()].filter((c) => this.#repos.get(c.name) instanceof RepoMount));
      this.#preparer?.sync(all);
    } finally {
      this.#reconciling = false;
      for (const w of waiters) w();
    }
    if (this.#again) {
      this.#again = false;
      void this.#reconcile();
    }
  }

  /** Whether the registry now holds another registration or generation than `m` serves. */
  #replaced(name: string, m: RepoMount | GatedMount): boolean {
    const now = getRepo(this.#db!, name);
    return now?.generation !== m.generation || now.createdAt !== m.config.createdAt;
  }

  /** Mounts `c`: served if it is prepared, else gated until it is. True when it mounted. */
  async #mount(c: RepoConfig): Promise<boolean> {
    const name = c.name;
    const mountpoint = mountpointFor(c, this.#o.mountRoot, this.#o.root);
    const deps = {
      root: this.#o.root, db: this.#db!, hydrator: this.#hydrator!, cache: this.#cache!, log: this.#o.log,
      background: this.#o.hydrationConcurrency > 0,
    };
    const m = c.prepareState === 'ready' ? new RepoMount(c, mountpoint, deps) : new GatedMount(c, mountpoint, deps);
    try {
      await m.start();
      this.#adopt(name, m);
      return true;
    } catch (err) {
      await m.close().catch(() => {});
      this.#mountFailed(name, err);
      return false;
    }
  }

  /** The gated repo `name` is prepared: the same mount starts serving it. True when it did. */
  async #activate(g: GatedMount, c: RepoConfig): Promise<boolean> {
    try {
      this.#adopt(c.name, await g.activate(c));
      return true;
    } catch (err) {
      // Retried as a plain mount after the pause (the placeholder goes: nothing would open it).
      this.#repos.delete(c.name);
      await g.close().catch(() => {});
      clearRuntime(this.#db!, c.name);
      this.#mountFailed(c.name, err);
      return true;
    }
  }

  #adopt(name: string, m: RepoMount | GatedMount): void {
    this.#repos.set(name, m);
    this.#failed.delete(name);
    this.#mountErrors.delete(name);
    void m.closed?.then(() => { if (this.#repos.get(name) === m && !this.#closing) void this.#unmount(name); });
  }

  #mountFailed(name: string, err: unknown): void {
    this.#failed.set(name, Date.now());
    this.#mountErrors.set(name, (err as Error).message);
    this.#o.log('error', `cannot mount ${name}: ${(err as Error).message}`, { repo: name });
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
    const state = m instanceof GatedMount ? m.state : this.#refresh!.failures(name) > 0 ? 'degraded' : 'mounted';
    return {
      state, snapshot: m.snapshot,
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
      // Unfinished preparations go back to the queue; the next daemon resumes them.
      await this.#preparer?.close();
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

/** Removes every `.prepare-*` work dir (only a daemon makes them, and this one holds the lock). */
async function removePrepareDirs(reposDir: string): Promise<void> {
  const names = await readdir(reposDir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith('.prepare-')).map((n) => rm(join(reposDir, n), { recursive: true, force: true })));
}
