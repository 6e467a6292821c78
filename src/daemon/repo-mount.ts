// One mounted repository: snapshot + filesystem + hydration source + mount, owned together and
// disposed together.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountFilesystem, type FuseHandler, type MountedFilesystem } from '../fuse/index.js';
import type { BlobProvider } from '../fs/blob-provider.js';
import { WorkTreeFs } from '../fs/worktree-fs.js';
import { OverlayStore } from '../overlay/index.js';
import { FsmonitorJournal } from '../gitstore/fsmonitor-journal.js';
import { fsmonitorWanted, setUpFsmonitor } from '../gitstore/fsmonitor-setup.js';
import { createGitBlobFetcher, type GitBlobFetcher } from '../gitstore/git-blob-fetcher.js';
import type { BlobCache } from '../hydrator/blob-cache.js';
import type { Hydrator, HydrationSource } from '../hydrator/hydrator.js';
import type { Oid } from '../model/ids.js';
import type { Db } from '../registry/db.js';
import type { RepoConfig } from '../registry/repos.js';
import { loadSnapshot, recordSize, saveGeneration } from '../registry/snapshot-store.js';
import { diffTrees } from '../gitstore/diff-tree.js';
import { TargetTree } from '../snapshot/target-tree.js';
import { HeadWatcher } from './head-watcher.js';
import { isShapeBlob } from './shape-blobs.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { Log } from '../util/log.js';
import { loadRemoteAccess } from './remote-access.js';

export interface RepoStats {
  totalBlobs: number;
  totalBytes: number;
  hydratedBlobs: number;
  hydratedBytes: number;
}

export interface RepoMountDeps {
  root: StateRoot;
  db: Db;
  hydrator: Hydrator;
  cache: BlobCache;
  log: Log;
  background: boolean;
  /**
   * Serves the filesystem on a mount that already exists (an async repo's gated mount:
   * gated-mount.ts) instead of mounting it; what it returns is owned (closed) by this RepoMount.
   */
  attach?(fs: FuseHandler): Promise<MountedFilesystem>;
}

export class RepoMount {
  #mounted: MountedFilesystem | undefined;
  #fs: WorkTreeFs | undefined;
  #store: OverlayStore | undefined;
  #source: HydrationSource | undefined;
  #fetcher: GitBlobFetcher | undefined;
  #snapshot: Snapshot | undefined;
  #journal: FsmonitorJournal | undefined;
  #generation: number;
  #heads: HeadWatcher | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    readonly config: RepoConfig,
    readonly mountpoint: string,
    private readonly deps: RepoMountDeps,
  ) {
    this.#generation = config.generation;
  }

  get snapshot(): Snapshot | undefined { return this.#snapshot; }
  /** The generation mounted now (it moves on when HEAD moves; the registry follows). */
  get generation(): number { return this.#generation; }
  get closed(): Promise<void> | undefined { return this.#mounted?.closed; }

  async start(): Promise<void> {
    const { db, root, hydrator, cache, log } = this.deps;
    const c = this.config;
    const snapshot = loadSnapshot(db, c.name, c.generation);
    if (!snapshot) throw new Error(`repo ${c.name} has no snapshot for generation ${c.generation}`);
    this.#snapshot = snapshot;
    const access = await loadRemoteAccess(c.remote, c.hasCredentials ? root.credentialsFile(c.name) : undefined);
    this.#fetcher = createGitBlobFetcher(c.gitDir, { url: access.url, authorization: access.authorization, gitConfig: access.gitConfig, scratchDir: root.scratchDir, log });
    const source = hydrator.addSource(c.name, this.#fetcher);
    this.#source = source;
    const blobs: BlobProvider = {
      ensure: (oid, size, signal) => hydrator.ensure(source, oid, size, signal),
      cachedPath: (oid) => (cache.isKnown(oid) ? cache.pathOf(oid) : undefined),
      nudge: (oids) => hydrator.nudge(source, oids),
      adopt: (oid, size, from) => cache.adoptSync(oid, size, from),
    };
    // Writes land in the overlay: per-inode rows in the registry database plus backing files.
    this.#store = await OverlayStore.open({ db, repo: c.name, dir: join(root.repoDir(c.name), 'overlay'), firstFreeIno: snapshot.maxIno + 1 });
    // git status in the mount asks the fsmonitor hook what changed; the hook reads this boot's
    // journal (gitstore/fsmonitor-journal.ts). Both are in place before the mount is visible;
    // the config is re-asserted here for repos registered before add-repo wrote it.
    const fsm = { hook: root.fsmonitorHook(c.name), journal: root.fsmonitorJournal(c.name) };
    await setUpFsmonitor(c.gitDir, fsm, await fsmonitorWanted());
    // Pristine: the mount is exactly what add-repo indexed (its first generation, no overlay row
    // ever: every change leaves at least its directory's row), so the token add-repo wrote into
    // the index, or any other, may be answered with this boot's journal alone.
    const pristine = this.#generation === 1 && this.#store.rowCount === 0;
    const journal = FsmonitorJournal.open(fsm.journal, { pristine, log: (level, message) => log(level, message, { repo: c.name }) });
    this.#journal = journal;
    this.#fs = new WorkTreeFs({
      snapshot, store: this.#store, gitDir: c.gitDir, blobs, statfsPath: root.dir,
      // Persisted, and in the snapshot too: live `status` totals come from it.
      onSizeLearned: (ino, size) => {
        recordSize(db, c.name, this.#generation, ino, size);
        const n = this.#snapshot?.byIno(ino);
        if (n) n.size = size;
      },
      onChange: (paths) => journal.record(paths),
      log: (level, message) => log(level, message, { repo: c.name }),
    });
    this.#mounted = this.deps.attach ? await this.deps.attach(this.#fs) : await mountRepo(this.#fs, c.name, this.mountpoint, log);
    // add-repo may have cached the shape blobs while this daemon ran: look on disk for them.
    for (const { path, node } of snapshot.blobs()) if (isShapeBlob(path, node.mode) && !cache.isKnown(node.oid)) await cache.has(node.oid);
    // Background hydration of everything not yet cached, in priority order.
    const items: Array<{ oid: Oid; size: number; path: string }> = [];
    if (this.deps.background) {
      for (const { path, node } of snapshot.blobs()) if (!cache.isKnown(node.oid)) items.push({ oid: node.oid, size: node.size, path });
      hydrator.enqueue(source, items);
      const t0 = Date.now();
      void hydrator.whenIdle().then(() => {
        if (!this.#closing) log('info', 'hydration complete', { repo: c.name, blobs: items.length, ms: Date.now() - t0 });
      }, () => {});
    }
    log('info', 'mounted', { repo: c.name, mountpoint: this.mountpoint, commit: snapshot.commit, queued: items.length });
    this.#heads = new HeadWatcher({
      gitDir: c.gitDir, current: () => this.#snapshot!.commit, apply: (commit) => this.#switchTo(commit),
      log: (level, message, fields) => log(level, message, { repo: c.name, ...fields }),
    });
    this.#heads.start();
  }

  /**
   * HEAD moved: the next generation from a tree diff, with the overlay re-based onto it
   * (WorkTreeFs.rebase; nothing visible changes) and persisted with it in one transaction.
   */
  async #switchTo(commit: Oid): Promise<void> {
    const { db, cache, log } = this.deps;
    const from = this.#snapshot!;
    const t0 = performance.now();
    const changes = await diffTrees(this.config.gitDir, from.commit, commit);
    if (this.#closing) return;
    const generation = this.#generation + 1;
    const r = await this.#fs!.rebase(new TargetTree(from, changes), commit, {
      persist: (s) => saveGeneration(db, this.config.name, generation, s),
      // With the commit, not a microtask later: the registry and this mount never disagree.
      switched: (s) => {
        this.#generation = generation;
        this.#snapshot = s;
      },
      sizeOf: (oid) => cache.sizeOf(oid) ?? -1,
    });
    log('info', 'generation switched', {
      repo: this.config.name, commit, generation, changes: changes.length, rowsWritten: r.puts, rowsDeleted: r.deletes,
      adopted: r.adopted, overlayRows: r.rows, ms: Math.round(performance.now() - t0),
      planMs: Math.round(r.planMs), commitMs: Math.round(r.commitMs), switchMs: Math.round(r.switchMs),
    });
  }

  /** FUSE requests served so far, by operation (diagnostics: daemon SIGUSR2). */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.#mounted?.session.counts ?? []);
  }

  stats(): RepoStats {
    return this.#snapshot?.blobTotals((oid) => this.deps.cache.isKnown(oid)) ?? { totalBlobs: 0, totalBytes: 0, hydratedBlobs: 0, hydratedBytes: 0 };
  }

  /** Unmounts and releases everything. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      try {
        await this.#heads?.close();
        await this.#mounted?.close();
      } finally {
        this.#journal?.close();
        await this.#source?.close();
        await this.#fs?.closeAll();
        await this.#store?.close();
        await this.#fetcher?.close();
        this.deps.log('info', 'unmounted', { repo: this.config.name, mountpoint: this.mountpoint });
      }
    })());
  }
}

/** Mounts `handler` as repo `name`'s filesystem (the mount options every repo mount uses). */
export async function mountRepo(handler: FuseHandler, name: string, mountpoint: string, log: Log): Promise<MountedFilesystem> {
  // ENOTCONN: a dead mount left by a killed daemon is on the mountpoint; mountFilesystem
  // replaces it (without this, the next daemon could never mount the repo again).
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOTCONN') throw err; });
  return mountFilesystem(handler, {
    mountpoint, fsname: `artifact-fs:${name}`, subtype: 'artifact-fs',
    // handleKillpriv: WorkTreeFs clears set-id bits itself, sparing a GETXATTR before writes.
    // (Agreed at INIT: a gated mount's placeholder agrees it for the WorkTreeFs it will serve.)
    init: { dataCache: 'explicit', handleKillpriv: true },
    log: (level, message) => log(level, message, { repo: name }),
  });
}

export function mountpointFor(c: RepoConfig, daemonMountRoot: string | undefined, root: StateRoot): string {
  return join(c.mountRoot ?? daemonMountRoot ?? root.defaultMountRoot, c.name);
}
