// The writable work tree: the base snapshot merged with the copy-on-write overlay
// (docs/overlay-design.md). Metadata changes (rm, rm -rf, chmod, touch, mv, truncate to zero)
// write overlay rows only and never hydrate (DESIGN decision 8); content is copied up on the
// first write. Errors from Node system calls (ENOSPC, EIO…) reach the caller unchanged.
//
// Parts: worktree-nodes.ts (the merged inode table and rows), worktree-content.ts (file I/O,
// copy-up, descriptors), worktree-rename.ts, worktree-xattr.ts.
//
// Handles: open/opendir return real handles; a handle pins its node (openCount), so a file
// unlinked while open stays readable and writable (its row keeps parent 0 until the last
// release, then becomes a whiteout or is deleted). Reads stay fast: FOPEN_KEEP_CACHE on every
// open, because only the kernel changes a file's content (no writeback cache; every write and
// truncate goes through it), so its page cache is valid across opens within a generation.
//
// Timeouts: entries and attributes may be cached CACHE_TTL (a day): every change to the view goes
// through this kernel mount, which updates or invalidates its own caches for the nodes an
// operation touches (validated by the POSIX table and the seeded random-operation test). What
// changes behind the kernel's back (a new base generation) is the daemon's to invalidate
// precisely with the session's notify functions. Long timeouts are what keep `git status` and
// `grep -r` near native: with 1 s, each lstat after a second is a round trip.
//
// The synthesized `.git` file (GITFILE_INO) is read-only: writing, truncating, chmod, unlink and
// rename of it fail with EPERM (it is not a file of the work tree, and root would pass EACCES).
// Hard links: EPERM (an overlay row has one name; see the report in docs/overlay-design.md).

import { close, constants as fsc } from 'node:fs';
import { promisify } from 'node:util';
import { DirEntries } from '../util/dir-entries.js';
import { stat, statfs } from 'node:fs/promises';
import type { Oid } from '../model/ids.js';
import {
  DT_DIR, FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE, FOPEN_NOFLUSH, FUSE_WRITE_KILL_SUIDGID, direntType, fail, type AttrResult, type CreateResult, type DirentList, type Entry, type FuseHandler,
  type OpenResult, type RequestContext, type SetattrChanges, type StatfsResult,
} from '../fuse/index.js';
import type { OverlayKind, OverlayStore } from '../overlay/index.js';
import { GITFILE_INO, ROOT_INO, type Snapshot } from '../snapshot/snapshot.js';
import { gitfileAttr, type AttrContext } from './attrs.js';
import type { BlobProvider } from './blob-provider.js';
import { ChangeReporter } from './worktree-changes.js';
import { FileContent } from './worktree-content.js';
import { NodeTable, nowNs, S_IFMT, touchAtime, type WNode } from './worktree-nodes.js';
import { renameEntry } from './worktree-rename.js';
import { planRebase, upperCandidates, ViewPathResolver, type UpperHash } from './rebase-plan.js';
import { hashBlobFile } from '../hydrator/blob-hash.js';
import type { TargetTree } from '../snapshot/target-tree.js';
import { getXattr, listXattrs, removeXattr, setXattr } from './worktree-xattr.js';

const closeAsync = promisify(close);

/** Seconds the kernel may cache names and attributes of the merged view (see the file comment). */
export const CACHE_TTL = 24 * 3600;
/** How long a write's size/mtime may wait before its row is committed (see FileContent). */
export const WRITE_PERSIST_DELAY_MS = 100;
const NAME_MAX = 255;
const O_ACCMODE = 3;
const SYMLINK_MAX = 4095;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;

const KIND_OF_TYPE = new Map<number, OverlayKind>([
  [fsc.S_IFREG, 'file'], [fsc.S_IFIFO, 'fifo'], [fsc.S_IFSOCK, 'socket'], [fsc.S_IFCHR, 'chardev'], [fsc.S_IFBLK, 'blockdev'],
]);

export interface WorkTreeFsOptions {
  snapshot: Snapshot;
  store: OverlayStore;
  blobs: BlobProvider;
  gitDir: string;
  /** Directory whose filesystem statfs reports (the state root, where backing files live). */
  statfsPath: string;
  uid?: number;
  gid?: number;
  /** One line per unexpected event (the daemon's logger). */
  log?(level: 'error' | 'warn', message: string): void;
  /** A base file's size was unknown (no object-info) and was learned by hydrating it. */
  onSizeLearned?(ino: number, size: number): void;
  /**
   * Work-tree paths a mutation changed (relative, directories ending in '/'), called before the
   * operation replies: create, mknod, mkdir, symlink, unlink, rmdir, rename (both names), write,
   * setattr, open with O_TRUNC. The daemon journals them for git's fsmonitor hook. Called on
   * every write: must be cheap and must not throw.
   */
  onChange?(paths: readonly string[]): void;
}

interface Handle { ino: number; flags: number }

export interface RebaseOptions {
  /** Writes the new snapshot (runs inside the overlay transaction that commits the new rows). */
  persist(snapshot: Snapshot): void;
  /** Called in the same synchronous step, right after the commit (the owner's bookkeeping). */
  switched(snapshot: Snapshot): void;
  /** A blob's size when known, else -1. */
  sizeOf(oid: Oid): number;
  signal?: AbortSignal;
}

export interface RebaseResult {
  snapshot: Snapshot;
  /** Rows written, rows deleted, contents handed to the blob cache, rows left. */
  puts: number;
  deletes: number;
  adopted: number;
  rows: number;
  /** The synchronous step: planning, the transaction (rows and snapshot), the in-memory switch. */
  planMs: number;
  commitMs: number;
  switchMs: number;
}

export class WorkTreeFs implements FuseHandler {
  readonly #t: NodeTable;
  readonly #c: FileContent;
  readonly #changes: ChangeReporter;
  readonly #o: WorkTreeFsOptions;
  readonly #gitfile: Buffer;
  readonly #ac: AttrContext;
  // INVARIANT: every handle names a node in the table whose openCount counts it.
  readonly #handles = new Map<number, Handle>();
  #nextFh = 1;
  /** Nodes whose size/mtime changed by writes and are not committed yet. */
  readonly #pending = new Set<WNode>();
  #pendingTimer: NodeJS.Timeout | undefined;
  /** Blob ids of backing files hashed by rebase(), valid while size and mtime are unchanged. */
  readonly #hashes = new Map<string, UpperHash>();

  constructor(o: WorkTreeFsOptions) {
    this.#o = o;
    const uid = o.uid ?? process.getuid?.() ?? 0;
    const gid = o.gid ?? process.getgid?.() ?? 0;
    this.#t = new NodeTable({ snapshot: o.snapshot, store: o.store, uid, gid });
    this.#c = new FileContent({ store: o.store, blobs: o.blobs, persist: (n) => this.#t.persist([n]), persistSoon: (n) => this.#persistSoon(n) });
    this.#changes = new ChangeReporter(this.#t, o.onChange);
    this.#gitfile = Buffer.from(`gitdir: ${o.gitDir}\n`);
    this.#ac = { uid, gid, time: o.snapshot.commitTime };
    this.#t.root();
  }

  // ---- names -----------------------------------------------------------------------------

  lookup(ctx: RequestContext, parent: number, name: string): Entry | Promise<Entry> {
    const dir = this.#dirForLookup(parent, name);
    const ino = this.#t.entries(dir).get(name);
    if (ino === undefined) return fail('ENOENT');
    if (ino === GITFILE_INO) return this.#gitEntry();
    const node = this.#t.get(ino, dir.ino) ?? fail('ENOENT');
    if (unknownSize(node)) return this.#learnSize(node, ctx.signal).then(() => this.#counted(node));
    return this.#counted(node);
  }

  /**
   * The server gave no sizes: hydrate this one blob so the size is never reported wrong
   * (DESIGN decision 3). Listings never get here (readdirplus omits such entries' attributes).
   */
  async #learnSize(node: WNode, signal: AbortSignal): Promise<void> {
    if (node.content.kind !== 'base') return;
    const path = await this.#o.blobs.ensure(node.content.oid, -1, signal);
    if (!unknownSize(node)) return; // learned meanwhile
    node.size = (await stat(path)).size;
    this.#o.onSizeLearned?.(node.ino, node.size);
  }

  forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void {
    for (const { nodeid, nlookup } of items) {
      const n = this.#t.get(nodeid);
      if (!n) continue;
      n.nlookup = Math.max(0, n.nlookup - nlookup);
      this.#t.maybeEvict(n);
    }
  }

  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number): Entry | Promise<Entry> {
    const type = mode & S_IFMT || fsc.S_IFREG;
    if (type === fsc.S_IFDIR) fail('EPERM');
    const kind = KIND_OF_TYPE.get(type) ?? fail('EINVAL');
    const dir = this.#dirForNewName(parent, name);
    if (kind === 'file') {
      // No handle will release the fd #newFile adopted (create's handle does): close it now, or
      // it stays open for the daemon's life and pins the file's space once it is unlinked.
      return this.#newFile(ctx, parent, name, mode).then((n) => {
        this.#c.closeIdle(n);
        return this.#counted(n);
      });
    }
    const device = kind === 'chardev' || kind === 'blockdev';
    return this.#counted(this.#create(ctx, dir, name, kind, type | (mode & 0o7777), { kind: 'none' }, 0, device ? rdev : 0));
  }

  mkdir(ctx: RequestContext, parent: number, name: string, mode: number): Entry {
    const dir = this.#dirForNewName(parent, name);
    return this.#counted(this.#create(ctx, dir, name, 'dir', fsc.S_IFDIR | (mode & 0o1777), { kind: 'none' }, 0, 0));
  }

  symlink(ctx: RequestContext, parent: number, name: string, target: Buffer): Entry {
    if (target.length === 0) fail('ENOENT');
    const dir = this.#dirForNewName(parent, name);
    if (target.length > SYMLINK_MAX) fail('ENAMETOOLONG');
    const content = { kind: 'symlink' as const, target: Buffer.from(target) };
    return this.#counted(this.#create(ctx, dir, name, 'symlink', fsc.S_IFLNK | 0o777, content, target.length, 0));
  }

  async create(ctx: RequestContext, parent: number, name: string, mode: number): Promise<CreateResult> {
    const node = await this.#newFile(ctx, parent, name, mode);
    return { entry: this.#counted(node), open: this.#open(node, 0) };
  }

  /** A new empty regular file: its (empty) backing file first, then its row. */
  async #newFile(ctx: RequestContext, parent: number, name: string, mode: number): Promise<WNode> {
    const dir = this.#dirForNewName(parent, name);
    const ino = this.#o.store.allocIno();
    const { path, fd } = await this.#o.store.newBackingFile(ino);
    // Re-check: the name may have been taken while the file was created.
    if (this.#t.entries(dir).get(name) !== undefined) {
      await closeAsync(fd);
      await this.#o.store.release(path);
      fail('EEXIST');
    }
    let node: WNode;
    try {
      node = this.#create(ctx, dir, name, 'file', fsc.S_IFREG | (mode & 0o7777), { kind: 'upper', file: path }, 0, 0, ino);
    } catch (err) {
      await closeAsync(fd);
      await this.#o.store.release(path);
      throw err;
    }
    this.#c.adopt(node, path, fd);
    return node;
  }

  link(): never {
    return fail('EPERM');
  }

  unlink(_ctx: RequestContext, parent: number, name: string): void {
    const dir = this.#dirForLookup(parent, name);
    const ino = this.#t.entries(dir).get(name) ?? fail('ENOENT');
    if (ino === GITFILE_INO) fail('EPERM');
    const node = this.#t.get(ino, dir.ino) ?? fail('ENOENT');
    if (node.kind === 'dir') fail('EISDIR');
    this.#removeName(dir, name, node);
  }

  rmdir(_ctx: RequestContext, parent: number, name: string): void {
    const dir = this.#dirForLookup(parent, name);
    const ino = this.#t.entries(dir).get(name) ?? fail('ENOENT');
    const node = ino === GITFILE_INO ? fail('ENOTDIR') : this.#t.get(ino, dir.ino) ?? fail('ENOENT');
    if (node.kind !== 'dir') fail('ENOTDIR');
    if (this.#t.entries(node).size > 0) fail('ENOTEMPTY');
    this.#removeName(dir, name, node);
  }

  rename(_ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): void {
    const oldDir = this.#dirForLookup(parent, name);
    const newDir = this.#dirForLookup(newParent, newName);
    const kinds = this.#changes.enabled ? { src: this.#changes.isDir(oldDir, name) ?? false, dst: this.#changes.isDir(newDir, newName) } : undefined;
    const gone = renameEntry(this.#t, { oldDir, name, newDir, newName, flags });
    if (kinds) this.#changes.renamed(oldDir, name, newDir, newName, kinds);
    if (gone) this.#t.maybeEvict(gone);
  }

  // ---- attributes ------------------------------------------------------------------------

  getattr(ctx: RequestContext, nodeid: number): AttrResult | Promise<AttrResult> {
    if (nodeid === GITFILE_INO) return { attr: gitfileAttr(this.#gitfile.length, this.#ac), attrTimeout: CACHE_TTL };
    const node = this.#t.must(nodeid);
    if (unknownSize(node)) return this.#learnSize(node, ctx.signal).then(() => ({ attr: this.#t.attr(node), attrTimeout: CACHE_TTL }));
    return { attr: this.#t.attr(node), attrTimeout: CACHE_TTL };
  }

  async setattr(ctx: RequestContext, nodeid: number, ch: SetattrChanges): Promise<AttrResult> {
    if (nodeid === GITFILE_INO) fail('EPERM');
    const node = this.#t.must(nodeid);
    const t = nowNs();
    if (ch.size !== undefined) {
      if (node.kind === 'dir') fail('EISDIR');
      if (node.kind !== 'file' || ch.size < 0) fail('EINVAL');
      await this.#c.truncate(node, ch.size, ctx.signal);
      node.mtimeNs = t;
    }
    if (ch.mode !== undefined) node.mode = (node.mode & S_IFMT) | (ch.mode & 0o7777);
    if (ch.uid !== undefined) node.uid = ch.uid;
    if (ch.gid !== undefined) node.gid = ch.gid;
    if (ch.killSuidgid === true) killSuidgid(node);
    if (ch.atime !== undefined) node.atimeNs = ch.atime === 'now' ? t : toNs(ch.atime);
    if (ch.mtime !== undefined) node.mtimeNs = ch.mtime === 'now' ? t : toNs(ch.mtime);
    node.ctimeNs = ch.ctime !== undefined ? toNs(ch.ctime) : t;
    this.#t.persist([node]);
    this.#changes.node(node);
    return { attr: this.#t.attr(node), attrTimeout: CACHE_TTL };
  }

  readlink(_ctx: RequestContext, nodeid: number): Buffer | Promise<Buffer> {
    const node = this.#t.must(nodeid);
    if (node.kind !== 'symlink') fail('EINVAL');
    touchAtime(node);
    const c = node.content;
    if (c.kind === 'symlink') return c.target;
    return this.#baseLink(node);
  }

  async #baseLink(node: WNode): Promise<Buffer> {
    const c = node.content;
    if (c.kind !== 'base') return fail('EIO');
    const { readFile } = await import('node:fs/promises');
    return readFile(await this.#o.blobs.ensure(c.oid, node.size));
  }

  access(_ctx: RequestContext, nodeid: number): void {
    if (nodeid !== GITFILE_INO) this.#t.must(nodeid);
  }

  async statfs(): Promise<StatfsResult> {
    const s = await statfs(this.#o.statfsPath);
    return { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, namelen: NAME_MAX, frsize: s.bsize };
  }

  setxattr(_ctx: RequestContext, nodeid: number, name: string, value: Buffer, flags: number): void {
    if (nodeid === GITFILE_INO) fail('EPERM');
    const node = this.#t.must(nodeid);
    setXattr(node, name, value, flags);
    this.#t.persist([node]);
  }

  getxattr(_ctx: RequestContext, nodeid: number, name: string): Buffer {
    if (nodeid === GITFILE_INO) fail('ENODATA');
    return getXattr(this.#t.must(nodeid), name);
  }

  listxattr(_ctx: RequestContext, nodeid: number): string[] {
    return nodeid === GITFILE_INO ? [] : listXattrs(this.#t.must(nodeid));
  }

  removexattr(_ctx: RequestContext, nodeid: number, name: string): void {
    if (nodeid === GITFILE_INO) fail('EPERM');
    const node = this.#t.must(nodeid);
    removeXattr(node, name);
    this.#t.persist([node]);
  }

  // ---- files -----------------------------------------------------------------------------

  async open(ctx: RequestContext, nodeid: number, flags: number): Promise<OpenResult> {
    if (nodeid === GITFILE_INO) {
      if ((flags & O_ACCMODE) !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0) fail('EPERM');
      return { fh: 0, openFlags: FOPEN_KEEP_CACHE };
    }
    const node = this.#t.must(nodeid);
    if (node.kind === 'dir') fail('EISDIR');
    if ((flags & fsc.O_TRUNC) !== 0 && node.kind === 'file') {
      await this.#c.truncate(node, 0, ctx.signal);
      node.mtimeNs = node.ctimeNs = nowNs();
      this.#t.persist([node]);
      this.#changes.node(node);
    }
    return this.#open(node, flags);
  }

  read(ctx: RequestContext, nodeid: number, _fh: number, offset: number, size: number): Buffer | Promise<Buffer> {
    if (nodeid === GITFILE_INO) return this.#gitfile.subarray(offset, offset + size);
    const node = this.#file(nodeid);
    touchAtime(node);
    if (offset >= node.size && node.size >= 0) return Buffer.alloc(0);
    return this.#c.read(node, offset, size, ctx.signal);
  }

  write(ctx: RequestContext, nodeid: number, _fh: number, offset: number, data: Buffer, _flags: number, writeFlags: number): number | Promise<number> {
    if (nodeid === GITFILE_INO) fail('EPERM');
    const node = this.#file(nodeid);
    // HANDLE_KILLPRIV_V2 (repo-mount.ts): a write by someone without CAP_FSETID drops set-id bits.
    if ((writeFlags & FUSE_WRITE_KILL_SUIDGID) !== 0 && killSuidgid(node)) this.#t.persist([node]);
    if (data.length === 0) return 0;
    this.#changes.node(node);
    return this.#c.write(node, offset, data, ctx.signal);
  }

  lseek(): never {
    return fail('ENOSYS');
  }

  fallocate(): never {
    return fail('EOPNOTSUPP');
  }

  /** close(2) of a handle: what its writes changed is committed now. */
  flush(_ctx: RequestContext, nodeid: number): void {
    const node = this.#t.get(nodeid);
    if (node && this.#pending.delete(node)) this.#t.persist([node]);
  }

  /** Writes commit their size/mtime in batches: one row commit per node per delay, not per write. */
  #persistSoon(node: WNode): void {
    this.#pending.add(node);
    this.#pendingTimer ??= setTimeout(() => this.#persistPending(), WRITE_PERSIST_DELAY_MS);
  }

  /**
   * Runs from a timer: it must never throw (an uncaught error would take the daemon down). A node
   * that is gone meanwhile (unlinked and closed: its row was deleted) is skipped, not resurrected.
   */
  #persistPending(): void {
    this.#pendingTimer = undefined;
    const nodes = [...this.#pending];
    this.#pending.clear();
    for (const node of nodes) {
      if (node.parent === 0 && node.openCount === 0) continue;
      try {
        this.#t.persist([node]);
      } catch (err) {
        this.#o.log?.('error', `cannot record a write to inode ${node.ino}: ${(err as Error).message}`);
      }
    }
  }

  async fsync(ctx: RequestContext, nodeid: number): Promise<void> {
    if (nodeid === GITFILE_INO) return;
    const node = this.#t.must(nodeid);
    this.#pending.delete(node);
    this.#t.persist([node]); // pending writes, and atime refreshed in memory since the last put
    await this.#c.sync(node, ctx.signal);
  }

  release(_ctx: RequestContext, nodeid: number, fh: number): void {
    if (nodeid === GITFILE_INO) return;
    this.#close(nodeid, fh);
  }

  // ---- directories -----------------------------------------------------------------------

  opendir(_ctx: RequestContext, nodeid: number): OpenResult {
    const node = this.#t.must(nodeid);
    if (node.kind !== 'dir') fail('ENOTDIR');
    // The kernel may keep a listing across opens: every change to a directory goes through it,
    // and it drops the cached listing when the directory's contents change.
    return { fh: this.#handle(node, 0), openFlags: FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE };
  }

  readdir(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, list: DirentList): void {
    const dir = this.#t.must(nodeid);
    if (dir.kind !== 'dir') fail('ENOTDIR');
    if (dir.parent === 0 && dir.ino !== ROOT_INO) fail('ENOENT');
    touchAtime(dir);
    if (offset < 1 && !list.add({ name: '.', ino: dir.ino, off: 1, type: DT_DIR })) return;
    if (offset < 2 && !list.add({ name: '..', ino: dir.parent, off: 2, type: DT_DIR })) return;
    if (offset === 0) this.#nudge(dir);
    for (const { name, ino, cookie } of this.#t.entries(dir).after(offset)) {
      if (ino === GITFILE_INO) {
        if (!list.add({ name, ino, off: cookie, ...(list.plus ? { entry: this.#gitEntry() } : { type: 8 }) })) return;
        continue;
      }
      const node = this.#t.get(ino, dir.ino);
      if (!node) continue;
      if (!list.plus || unknownSize(node)) {
        // Unknown size: no attributes (nodeid 0), so a listing never hydrates.
        if (!list.add({ name, ino, off: cookie, type: direntType(node.mode) })) return;
        continue;
      }
      if (!list.add({ name, ino, off: cookie, entry: this.#entry(node) })) return;
      node.nlookup++;
    }
  }

  releasedir(_ctx: RequestContext, nodeid: number, fh: number): void {
    this.#close(nodeid, fh);
  }

  async fsyncdir(_ctx: RequestContext, nodeid: number): Promise<void> {
    const node = this.#t.must(nodeid);
    await this.#o.store.sync(node.ino);
  }

  // ---- generations -----------------------------------------------------------------------

  /**
   * Makes `commit` the base without changing anything the mount shows (docs/overlay-design.md,
   * "Generations"; the plan is rebase-plan.ts). First hashes the backing files that may become
   * base (asynchronously; results are kept for files whose size and mtime did not change), then
   * plans, commits and switches in one synchronous step, so no request sees a half-switched tree.
   * `persist` writes the new snapshot inside the overlay's transaction: a crash leaves either
   * generation whole. Nothing the kernel cached changes, so nothing is invalidated.
   */
  async rebase(target: TargetTree, commit: Oid, o: RebaseOptions): Promise<RebaseResult> {
    const paths = new ViewPathResolver(this.#t);
    const candidates = upperCandidates(this.#t, target, paths);
    const live = new Set<string>();
    for (const c of candidates) {
      live.add(c.file);
      const node = this.#t.peek(c.ino, 0);
      if (!node) continue;
      const known = this.#hashes.get(c.file);
      if (known && known.size === node.size && known.mtimeNs === node.mtimeNs) continue;
      const { size, mtimeNs } = node;
      try {
        this.#hashes.set(c.file, { oid: (await hashBlobFile(c.oid, c.file, size, o.signal)) as Oid, size, mtimeNs });
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        this.#hashes.delete(c.file); // gone or unreadable: the row stays as it is
      }
    }
    for (const f of this.#hashes.keys()) if (!live.has(f)) this.#hashes.delete(f);
    o.signal?.throwIfAborted();
    // One synchronous step from here on.
    const t0 = performance.now();
    clearTimeout(this.#pendingTimer);
    this.#persistPending();
    const plan = planRebase({ table: this.#t, target, paths, commit, hashes: this.#hashes, sizeOf: o.sizeOf });
    const t1 = performance.now();
    this.#o.store.putMany(plan.puts, plan.deletes, () => o.persist(plan.snapshot));
    const t2 = performance.now();
    this.#t.switchSnapshot(plan.snapshot);
    o.switched(plan.snapshot);
    for (const a of plan.adopted) {
      try {
        this.#o.blobs.adopt(a.oid, a.size, a.file !== undefined ? { file: a.file } : { data: a.data! });
      } catch (err) {
        this.#o.log?.('warn', `blob ${a.oid} stays uncached after the switch: ${(err as Error).message}`);
      }
    }
    return {
      snapshot: plan.snapshot, puts: plan.puts.length, deletes: plan.deletes.length, adopted: plan.adopted.length, rows: this.#o.store.rowCount,
      planMs: t1 - t0, commitMs: t2 - t1, switchMs: performance.now() - t2,
    };
  }

  /** Closes every descriptor (the session ended); the store is closed by its owner. */
  closeAll(): Promise<void> {
    clearTimeout(this.#pendingTimer);
    this.#persistPending();
    return this.#c.closeAll();
  }

  // ---- helpers ---------------------------------------------------------------------------

  #dirForLookup(parent: number, name: string): WNode {
    const dir = this.#t.must(parent);
    if (dir.kind !== 'dir') fail('ENOTDIR');
    if (dir.parent === 0 && dir.ino !== ROOT_INO) fail('ENOENT');
    if (Buffer.byteLength(name) > NAME_MAX) fail('ENAMETOOLONG');
    return dir;
  }

  #dirForNewName(parent: number, name: string): WNode {
    const dir = this.#dirForLookup(parent, name);
    if (name === '.' || name === '..' || this.#t.entries(dir).get(name) !== undefined) fail('EEXIST');
    return dir;
  }

  #create(ctx: RequestContext, dir: WNode, name: string, kind: OverlayKind, mode: number, content: WNode['content'], size: number, rdev: number, ino?: number): WNode {
    const t = nowNs();
    let m = mode;
    let gid = ctx.gid;
    if ((dir.mode & S_ISGID) !== 0) {
      gid = dir.gid;
      if (kind === 'dir') m |= S_ISGID;
    }
    const node: WNode = {
      ino: ino ?? this.#o.store.allocIno(), kind, mode: m, uid: ctx.uid, gid, rdev, size, atimeNs: t, mtimeNs: t, ctimeNs: t,
      content, parent: dir.ino, name, created: true, xattrs: new Map(), subdirs: 0, nlookup: 0, openCount: 0,
    };
    if (kind === 'dir') node.entries = new DirEntries();
    this.#link(dir, node, t);
    return node;
  }

  #link(dir: WNode, node: WNode, t: bigint): void {
    const entries = this.#t.entries(dir);
    dir.mtimeNs = dir.ctimeNs = t;
    this.#t.add(node);
    entries.add(node.name, node.ino);
    if (node.kind === 'dir') dir.subdirs++;
    try {
      this.#t.persist([node, dir]);
    } catch (err) {
      entries.remove(node.name);
      if (node.kind === 'dir') dir.subdirs--;
      throw err;
    }
    this.#changes.name(dir, node.name, node.kind === 'dir');
  }

  #removeName(dir: WNode, name: string, node: WNode): void {
    const t = nowNs();
    const entries = this.#t.entries(dir);
    entries.remove(name);
    if (node.kind === 'dir') dir.subdirs--;
    node.parent = 0;
    node.ctimeNs = t;
    dir.mtimeNs = dir.ctimeNs = t;
    try {
      if (node.openCount > 0) this.#t.persist([node, dir]);
      else if (node.created) this.#t.persist([dir], [node.ino]);
      else this.#t.store.putMany([this.#t.rowOf(dir), this.#t.whiteoutRow({ ...node, parent: dir.ino })]);
    } catch (err) {
      node.parent = dir.ino;
      entries.add(name, node.ino);
      if (node.kind === 'dir') dir.subdirs++;
      throw err;
    }
    this.#changes.name(dir, name, node.kind === 'dir');
    this.#t.maybeEvict(node);
  }

  #file(ino: number): WNode {
    const node = this.#t.must(ino);
    if (node.kind === 'file') return node;
    return fail(node.kind === 'dir' ? 'EISDIR' : 'EINVAL');
  }

  #open(node: WNode, flags: number): OpenResult {
    // A read-only handle has nothing to flush at close: FOPEN_NOFLUSH spares that round trip.
    const noflush = (flags & O_ACCMODE) === 0 ? FOPEN_NOFLUSH : 0;
    return { fh: this.#handle(node, flags), openFlags: FOPEN_KEEP_CACHE | noflush };
  }

  #handle(node: WNode, flags: number): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: node.ino, flags });
    node.openCount++;
    return fh;
  }

  #close(nodeid: number, fh: number): void {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== nodeid) fail('EBADF');
    this.#handles.delete(fh);
    const node = this.#t.get(nodeid);
    if (!node) return;
    node.openCount--;
    if (node.openCount > 0) return;
    this.#c.closeIdle(node);
    if (node.parent === 0 && node.ino !== ROOT_INO) this.#t.finalizeUnlinked(node);
    else if (node.kind === 'file' && node.content.kind !== 'base') this.#t.persist([node]);
    this.#t.maybeEvict(node);
  }

  #gitEntry(): Entry {
    return { nodeid: GITFILE_INO, entryTimeout: CACHE_TTL, attrTimeout: CACHE_TTL, attr: gitfileAttr(this.#gitfile.length, this.#ac) };
  }

  #entry(node: WNode): Entry {
    return { nodeid: node.ino, generation: 0, entryTimeout: CACHE_TTL, attrTimeout: CACHE_TTL, attr: this.#t.attr(node) };
  }

  #counted(node: WNode): Entry {
    node.nlookup++;
    return this.#entry(node);
  }

  /** A listed directory's base files are likely read next: move them up the hydration queue. */
  #nudge(dir: WNode): void {
    const oids: Oid[] = [];
    for (const { ino } of this.#t.entries(dir).after(0)) {
      const n = ino === GITFILE_INO ? undefined : this.#t.get(ino, dir.ino);
      if (n?.kind === 'file' && n.content.kind === 'base' && !this.#o.blobs.cachedPath(n.content.oid as Oid)) oids.push(n.content.oid as Oid);
    }
    if (oids.length) this.#o.blobs.nudge(oids);
  }
}

/** Clears set-uid, and set-gid when group-executable (setgid without it is mandatory locking). */
function killSuidgid(n: WNode): boolean {
  const mode = n.mode & ~(S_ISUID | ((n.mode & S_IXGRP) !== 0 ? S_ISGID : 0));
  if (mode === n.mode) return false;
  n.mode = mode;
  n.ctimeNs = nowNs();
  return true;
}

function unknownSize(n: WNode): boolean {
  return n.kind === 'file' && n.size < 0 && n.content.kind === 'base';
}

function toNs(t: { sec: number; nsec: number }): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
}
