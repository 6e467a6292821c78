// memfs: an in-memory filesystem on the FuseHandler API. It is the library's example, and the
// POSIX conformance table runs against it next to a native directory, so it answers what Linux
// tmpfs answers a root caller: the same errno for each failure (checked in the kernel's order),
// tmpfs's sizes and st_blocks, link counts, timestamps and readdir contents.
//
// The parts: memfs-inode.ts (inode table, lookup counts, when an inode is freed, attributes),
// memfs-data.ts (file contents), util/dir-entries.ts (entries, readdir cookies), memfs-rename.ts,
// memfs-xattr.ts. Permissions are not checked here: a FUSE filesystem leaves that to the kernel
// (default_permissions).
//
// Everything is synchronous: no method waits, so none needs ctx.signal.

import { constants as fsc } from 'node:fs';
import { FOPEN_KEEP_CACHE } from '../abi.js';
import { fail } from '../errno.js';
import type { AttrResult, CreateResult, FuseHandler, RequestContext, SetattrChanges } from '../handler.js';
import { DT_DIR, direntType, type DirentList, type Entry, type OpenResult, type StatfsResult } from '../types.js';
import { PAGE_SIZE } from './memfs-data.js';
import { DOT_COOKIE, DOTDOT_COOKIE } from '../../util/dir-entries.js';
import {
  attrOf, InodeTable, now, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
  S_ISGID, S_ISUID, S_IXGRP, touchAtime,
  type DirInode, type FileInode, type Inode, type InodeInit, type Timespec,
} from './memfs-inode.js';
import { renameEntry } from './memfs-rename.js';
import { getXattr, listXattrs, removeXattr, setXattr } from './memfs-xattr.js';

export interface MemFsOptions {
  /** Seconds (fractions allowed) the kernel may cache a name → node mapping. Default 1. */
  entryTimeout?: number;
  /** Seconds the kernel may cache attributes. Default 1. */
  attrTimeout?: number;
  /** Owner of the root directory. Default: this process's uid and gid. */
  uid?: number;
  gid?: number;
}

/** Longest name in bytes (NAME_MAX); statfs reports it as namelen. */
const NAME_MAX = 255;
/** Like tmpfs size=16g: file data beyond this fails with ENOSPC; statfs blocks derive from it. */
const CAPACITY_BYTES = 16 * 2 ** 30;
/** Like tmpfs nr_inodes: statfs files, and ENOSPC beyond. */
const MAX_INODES = 1 << 20;
/** A symlink target and its NUL must fit in one page (tmpfs). */
const SYMLINK_MAX = PAGE_SIZE - 1;
/** File types mknod(2) creates; S_IFDIR is EPERM there, anything else EINVAL (may_mknod). */
const MKNOD_TYPES = new Set([S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK]);

export class MemFs implements FuseHandler {
  readonly #table: InodeTable;
  readonly #entryTimeout: number;
  readonly #attrTimeout: number;

  constructor(options: MemFsOptions = {}) {
    this.#entryTimeout = options.entryTimeout ?? 1;
    this.#attrTimeout = options.attrTimeout ?? 1;
    this.#table = new InodeTable({
      uid: options.uid ?? process.getuid?.() ?? 0,
      gid: options.gid ?? process.getgid?.() ?? 0,
      capacityBytes: CAPACITY_BYTES,
      maxInodes: MAX_INODES,
    });
  }

  /** Throws if the inode table, directories, file data and handles disagree (for tests). */
  checkInvariants(): void {
    this.#table.checkInvariants();
  }

  // ---- names ---------------------------------------------------------------------------------

  lookup(_ctx: RequestContext, parent: number, name: string): Entry {
    const dir = this.#dirForLookup(parent, name);
    // The kernel resolves "." and ".." itself, except for NFS export lookups.
    const ino = name === '.' ? dir.ino : name === '..' ? dir.parent : dir.entries.get(name);
    return this.#counted(this.#node(ino ?? fail('ENOENT')));
  }

  forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void {
    for (const { nodeid, nlookup } of items) this.#table.forget(nodeid, nlookup);
  }

  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number, _umask: number): Entry {
    const type = mode & S_IFMT || S_IFREG;
    if (type === S_IFDIR) fail('EPERM');
    if (!MKNOD_TYPES.has(type)) fail('EINVAL');
    const dir = this.#dirForNewName(parent, name);
    const init = this.#init(ctx, dir, type | (mode & 0o7777));
    const device = type === S_IFCHR || type === S_IFBLK;
    const node = type === S_IFREG ? this.#table.newFile(init) : this.#table.newSpecial(init, device ? rdev : 0);
    return this.#counted(this.#link(dir, name, node));
  }

  mkdir(ctx: RequestContext, parent: number, name: string, mode: number, _umask: number): Entry {
    const dir = this.#dirForNewName(parent, name);
    // vfs_mkdir() keeps only permission and sticky bits of the requested mode.
    const node = this.#table.newDir(this.#init(ctx, dir, S_IFDIR | (mode & 0o1777)), dir.ino);
    return this.#counted(this.#link(dir, name, node));
  }

  symlink(ctx: RequestContext, parent: number, name: string, target: Buffer): Entry {
    if (target.length === 0) fail('ENOENT');
    const dir = this.#dirForNewName(parent, name);
    if (target.length > SYMLINK_MAX) fail('ENAMETOOLONG');
    const node = this.#table.newSymlink(this.#init(ctx, dir, S_IFLNK | 0o777), target);
    return this.#counted(this.#link(dir, name, node));
  }

  create(ctx: RequestContext, parent: number, name: string, mode: number, _flags: number, _umask: number): CreateResult {
    const dir = this.#dirForNewName(parent, name);
    const node = this.#table.newFile(this.#init(ctx, dir, S_IFREG | (mode & 0o7777)));
    this.#link(dir, name, node);
    return { entry: this.#counted(node), open: this.#open(node, false) };
  }

  link(_ctx: RequestContext, nodeid: number, newParent: number, newName: string): Entry {
    const node = this.#node(nodeid);
    const dir = this.#dirForNewName(newParent, newName);
    if (node.kind === 'dir') fail('EPERM');
    // An unlinked inode cannot get a name back (vfs_link without I_LINKABLE).
    if (node.nlink === 0) fail('ENOENT');
    const t = now();
    dir.entries.add(newName, node.ino);
    node.nlink++;
    node.ctime = t;
    dir.mtime = dir.ctime = t;
    return this.#counted(node);
  }

  unlink(_ctx: RequestContext, parent: number, name: string): void {
    const dir = this.#dirForLookup(parent, name);
    const node = this.#child(dir, name);
    if (node.kind === 'dir') fail('EISDIR');
    const t = now();
    dir.entries.remove(name);
    node.nlink--;
    node.ctime = t;
    dir.mtime = dir.ctime = t;
    this.#table.release(node);
  }

  rmdir(_ctx: RequestContext, parent: number, name: string): void {
    const dir = this.#dirForLookup(parent, name);
    const node = this.#child(dir, name);
    if (node.kind !== 'dir') fail('ENOTDIR');
    if (node.entries.size > 0) fail('ENOTEMPTY');
    const t = now();
    dir.entries.remove(name);
    node.nlink = 0;
    dir.nlink--;
    node.ctime = t;
    dir.mtime = dir.ctime = t;
    this.#table.release(node);
  }

  rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): void {
    const oldDir = this.#dirForLookup(parent, name);
    const newDir = this.#dirForLookup(newParent, newName);
    renameEntry(this.#table, { oldDir, name, newDir, newName, flags, uid: ctx.uid, gid: ctx.gid });
  }

  // ---- attributes ----------------------------------------------------------------------------

  getattr(_ctx: RequestContext, nodeid: number, _fh: number | undefined): AttrResult {
    return this.#attrResult(this.#node(nodeid));
  }

  setattr(_ctx: RequestContext, nodeid: number, changes: SetattrChanges): AttrResult {
    const node = this.#node(nodeid);
    const t = now();
    // The only change that can fail goes first, so a failed setattr changes nothing.
    if (changes.size !== undefined) this.#truncate(node, changes.size, t);
    if (changes.mode !== undefined) node.mode = (node.mode & S_IFMT) | (changes.mode & 0o7777);
    if (changes.uid !== undefined) node.uid = changes.uid;
    if (changes.gid !== undefined) node.gid = changes.gid;
    if (changes.killSuidgid === true) {
      // should_remove_suid(): setgid without group-exec means mandatory locking, not set-id.
      node.mode &= ~(S_ISUID | ((node.mode & S_IXGRP) !== 0 ? S_ISGID : 0));
    }
    if (changes.atime !== undefined) node.atime = changes.atime === 'now' ? t : copyTime(changes.atime);
    if (changes.mtime !== undefined) node.mtime = changes.mtime === 'now' ? t : copyTime(changes.mtime);
    // Linux sets ctime on every attribute change; an explicit ctime only comes with writeback cache.
    node.ctime = changes.ctime !== undefined ? copyTime(changes.ctime) : t;
    return this.#attrResult(node);
  }

  readlink(_ctx: RequestContext, nodeid: number): Buffer {
    const node = this.#node(nodeid);
    if (node.kind !== 'symlink') fail('EINVAL');
    touchAtime(node);
    return node.target;
  }

  access(_ctx: RequestContext, nodeid: number, _mask: number): void {
    this.#node(nodeid);
  }

  statfs(_ctx: RequestContext, _nodeid: number): StatfsResult {
    const { capacityPages, usedPages } = this.#table.budget;
    return {
      blocks: capacityPages, bfree: capacityPages - usedPages, bavail: capacityPages - usedPages,
      files: MAX_INODES, ffree: MAX_INODES - this.#table.count,
      bsize: PAGE_SIZE, frsize: PAGE_SIZE, namelen: NAME_MAX,
    };
  }

  setxattr(_ctx: RequestContext, nodeid: number, name: string, value: Buffer, flags: number): void {
    setXattr(this.#node(nodeid), name, value, flags);
  }

  getxattr(_ctx: RequestContext, nodeid: number, name: string): Buffer {
    return getXattr(this.#node(nodeid), name);
  }

  listxattr(_ctx: RequestContext, nodeid: number): string[] {
    return listXattrs(this.#node(nodeid));
  }

  removexattr(_ctx: RequestContext, nodeid: number, name: string): void {
    removeXattr(this.#node(nodeid), name);
  }

  // ---- files ---------------------------------------------------------------------------------

  open(_ctx: RequestContext, nodeid: number, flags: number): OpenResult {
    const node = this.#node(nodeid);
    if (node.kind === 'dir') fail('EISDIR');
    // O_TRUNC arrives here only with FUSE_ATOMIC_O_TRUNC; otherwise as a setattr before open.
    if ((flags & fsc.O_TRUNC) !== 0 && node.kind === 'file') this.#truncate(node, 0, now());
    return this.#open(node, false);
  }

  read(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, size: number): Buffer | Buffer[] {
    const node = this.#file(nodeid);
    touchAtime(node);
    return node.data.read(offset, size);
  }

  write(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, data: Buffer, _flags: number): number {
    const node = this.#file(nodeid);
    if (data.length === 0) return 0;
    const written = node.data.write(offset, data);
    node.mtime = node.ctime = now();
    return written;
  }

  lseek(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, whence: number): number {
    return this.#file(nodeid).data.seek(offset, whence);
  }

  fallocate(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, length: number, mode: number): void {
    const node = this.#file(nodeid);
    node.data.fallocate(offset, length, mode);
    node.mtime = node.ctime = now();
  }

  flush(_ctx: RequestContext, nodeid: number, _fh: number, _lockOwner: bigint): void {
    this.#node(nodeid);
  }

  fsync(_ctx: RequestContext, nodeid: number, _fh: number, _datasync: boolean): void {
    this.#node(nodeid);
  }

  release(_ctx: RequestContext, nodeid: number, fh: number, _flags: number): void {
    this.#table.close(nodeid, fh);
  }

  // ---- directories ---------------------------------------------------------------------------

  opendir(_ctx: RequestContext, nodeid: number, _flags: number): OpenResult {
    return this.#open(this.#dir(nodeid), true);
  }

  /** Entries after cookie `offset`, each with `off` = its own cookie (see util/dir-entries.ts). */
  readdir(_ctx: RequestContext, nodeid: number, _fh: number, offset: number, list: DirentList): void {
    const dir = this.#dir(nodeid);
    // iterate_dir(): reading a removed directory fails with ENOENT (glibc reports end of stream).
    if (dir.nlink === 0) fail('ENOENT');
    touchAtime(dir);
    if (offset < DOT_COOKIE && !list.add({ name: '.', ino: dir.ino, off: DOT_COOKIE, type: DT_DIR })) return;
    if (offset < DOTDOT_COOKIE && !list.add({ name: '..', ino: dir.parent, off: DOTDOT_COOKIE, type: DT_DIR })) return;
    for (const { name, ino, cookie } of dir.entries.after(offset)) {
      const node = this.#node(ino);
      if (!list.plus) {
        if (!list.add({ name, ino, off: cookie, type: direntType(node.mode) })) return;
        continue;
      }
      if (!list.add({ name, ino, off: cookie, entry: this.#entry(node) })) return;
      node.nlookup++; // an accepted READDIRPLUS entry is a lookup (handler.ts)
    }
  }

  releasedir(_ctx: RequestContext, nodeid: number, fh: number): void {
    this.#table.close(nodeid, fh);
  }

  fsyncdir(_ctx: RequestContext, nodeid: number, _fh: number, _datasync: boolean): void {
    this.#dir(nodeid);
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The kernel only names nodes we gave it and it has not forgotten; anything else is stale. */
  #node(ino: number): Inode {
    return this.#table.get(ino) ?? fail('ESTALE');
  }

  #dir(ino: number): DirInode {
    const node = this.#node(ino);
    return node.kind === 'dir' ? node : fail('ENOTDIR');
  }

  #file(ino: number): FileInode {
    const node = this.#node(ino);
    if (node.kind === 'file') return node;
    return fail(node.kind === 'dir' ? 'EISDIR' : 'EINVAL');
  }

  #child(dir: DirInode, name: string): Inode {
    return this.#node(dir.entries.get(name) ?? fail('ENOENT'));
  }

  /** The directory a name is looked up in, in the order the VFS fails a path component. */
  #dirForLookup(parent: number, name: string): DirInode {
    const dir = this.#dir(parent);
    // A removed directory holds nothing, and nothing can be created in it (IS_DEADDIR).
    if (dir.nlink === 0) fail('ENOENT');
    if (Buffer.byteLength(name) > NAME_MAX) fail('ENAMETOOLONG');
    return dir;
  }

  #dirForNewName(parent: number, name: string): DirInode {
    const dir = this.#dirForLookup(parent, name);
    if (name === '.' || name === '..' || dir.entries.get(name) !== undefined) fail('EEXIST');
    return dir;
  }

  /** Owner of a new inode: the caller, except that a setgid directory passes on its group. */
  #init(ctx: RequestContext, dir: DirInode, mode: number): InodeInit {
    if ((dir.mode & S_ISGID) === 0) return { mode, uid: ctx.uid, gid: ctx.gid };
    // inode_init_owner(): subdirectories inherit the setgid bit itself as well.
    const inherited = (mode & S_IFMT) === S_IFDIR ? mode | S_ISGID : mode;
    return { mode: inherited, uid: ctx.uid, gid: dir.gid };
  }

  /** Gives a new inode its first name. */
  #link<T extends Inode>(dir: DirInode, name: string, node: T): T {
    dir.entries.add(name, node.ino);
    node.nlink = node.kind === 'dir' ? 2 : 1;
    if (node.kind === 'dir') dir.nlink++;
    dir.mtime = dir.ctime = node.ctime;
    return node;
  }

  #truncate(node: Inode, size: number, t: Timespec): void {
    if (node.kind === 'dir') fail('EISDIR');
    if (node.kind !== 'file' || size < 0) fail('EINVAL');
    node.data.truncate(size);
    // Even to the same size: truncate(2) and ftruncate(2) always set mtime and ctime.
    node.mtime = node.ctime = t;
  }

  #open(node: Inode, dir: boolean): OpenResult {
    const fh = this.#table.open(node);
    // Nothing but the kernel changes a memfs file, so its page cache is valid across opens.
    return dir ? { fh } : { fh, openFlags: FOPEN_KEEP_CACHE };
  }

  #entry(node: Inode): Entry {
    return {
      nodeid: node.ino,
      generation: 0, // node ids are never reused
      entryTimeout: this.#entryTimeout,
      attrTimeout: this.#attrTimeout,
      attr: attrOf(node),
    };
  }

  /** An entry for a reply that hands the kernel a reference (lookup count + 1). */
  #counted(node: Inode): Entry {
    node.nlookup++;
    return this.#entry(node);
  }

  #attrResult(node: Inode): AttrResult {
    return { attr: attrOf(node), attrTimeout: this.#attrTimeout };
  }
}

function copyTime(t: { sec: number; nsec: number }): Timespec {
  return { sec: t.sec, nsec: t.nsec };
}
