// The memfs inode table: node ids, link counts, the kernel's lookup counts, and the one rule for
// when an inode may be freed. Also the clock and the Attr every reply carries.

import { constants as fsc } from 'node:fs';
import { FUSE_ROOT_ID } from '../abi.js';
import { fail } from '../errno.js';
import type { Attr } from '../types.js';
import { FileData, PAGE_SIZE, SpaceBudget, invariant } from './memfs-data.js';
import { DirEntries } from '../../util/dir-entries.js';

export const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } = fsc;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_IXGRP = 0o010;

/** Symlink targets up to this many bytes live in the inode on tmpfs (0 blocks); longer take a page. */
const SHORT_SYMLINK_MAX = 127;
/** relatime: atime is also refreshed when it is older than this, whatever mtime/ctime say. */
const RELATIME_MAX_AGE_SEC = 24 * 60 * 60;

export interface Timespec {
  readonly sec: number;
  readonly nsec: number;
}

// Wall-clock nanoseconds without a wall-clock call per timestamp: Date.now() anchors the epoch
// once (ms precision) and the monotonic hrtime adds the elapsed nanoseconds. Timestamps are thus
// strictly increasing within the process, so "did mtime change" is never lost to a coarse clock;
// the cost is that a system clock step after start-up is not followed.
const anchorNs = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();

export function now(): Timespec {
  const ns = anchorNs + (process.hrtime.bigint() - anchorHr);
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}

function notAfter(a: Timespec, b: Timespec): boolean {
  return a.sec < b.sec || (a.sec === b.sec && a.nsec <= b.nsec);
}

export type InodeKind = 'file' | 'dir' | 'symlink' | 'special';

interface InodeBase {
  readonly ino: number;
  /** Type and permission bits; the type bits never change after creation. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /** References the kernel holds through replies that carried an entry (handler.ts). */
  nlookup: number;
  /** Open file and directory handles naming this inode. */
  openCount: number;
  /** Extended attributes in insertion order, the order tmpfs lists them in. */
  readonly xattrs: Map<string, Buffer>;
}
export interface FileInode extends InodeBase {
  readonly kind: 'file';
  readonly data: FileData;
}
export interface DirInode extends InodeBase {
  readonly kind: 'dir';
  readonly entries: DirEntries;
  /** Target of "..": the directory holding this one (itself for the root). */
  parent: number;
}
export interface SymlinkInode extends InodeBase {
  readonly kind: 'symlink';
  readonly target: Buffer;
}
/** FIFOs, sockets and device nodes: only attributes; the kernel does their I/O. */
export interface SpecialInode extends InodeBase {
  readonly kind: 'special';
  readonly rdev: number;
}
export type Inode = FileInode | DirInode | SymlinkInode | SpecialInode;

/** Who and what a new inode is: mode with type bits, owner. */
export interface InodeInit {
  mode: number;
  uid: number;
  gid: number;
}

/** The attributes the kernel sees, in tmpfs terms (dir sizes, blocks). */
export function attrOf(node: Inode): Attr {
  return {
    ino: node.ino,
    size: sizeOf(node),
    blocks: blocksOf(node),
    atimeSec: node.atime.sec,
    atimeNsec: node.atime.nsec,
    mtimeSec: node.mtime.sec,
    mtimeNsec: node.mtime.nsec,
    ctimeSec: node.ctime.sec,
    ctimeNsec: node.ctime.nsec,
    mode: node.mode,
    nlink: node.nlink,
    uid: node.uid,
    gid: node.gid,
    rdev: node.kind === 'special' ? node.rdev : 0,
    blksize: PAGE_SIZE,
  };
}

function sizeOf(node: Inode): number {
  switch (node.kind) {
    case 'file': return node.data.size;
    // tmpfs counts a bogus 20 bytes per entry, 40 for an empty directory (BOGO_DIRENT_SIZE).
    case 'dir': return 40 + 20 * node.entries.size;
    case 'symlink': return node.target.length;
    case 'special': return 0;
  }
}

function blocksOf(node: Inode): number {
  if (node.kind === 'file') return node.data.allocatedPages * (PAGE_SIZE / 512);
  if (node.kind === 'symlink' && node.target.length > SHORT_SYMLINK_MAX) return PAGE_SIZE / 512;
  return 0;
}

/** Marks an access the way a relatime mount does: only when atime is not newer than m/ctime. */
export function touchAtime(node: Inode): void {
  const t = now();
  if (notAfter(node.atime, node.mtime) || notAfter(node.atime, node.ctime) || t.sec - node.atime.sec >= RELATIME_MAX_AGE_SEC) {
    node.atime = t;
  }
}

export interface InodeTableOptions {
  uid: number;
  gid: number;
  /** Bytes of file data the filesystem holds at most (statfs, ENOSPC). */
  capacityBytes: number;
  /** Inodes the filesystem holds at most (statfs files, ENOSPC). */
  maxInodes: number;
}

export class InodeTable {
  readonly budget: SpaceBudget;
  readonly maxInodes: number;
  // INVARIANT: node ids are never reused, so nodeid + generation 0 is unique for the life of the
  // filesystem; the root is FUSE_ROOT_ID and is never freed.
  // INVARIANT: an inode is in #nodes exactly while nlink > 0, nlookup > 0 or openCount > 0; the
  // moment all three are zero it is removed and its pages return to the budget (release()).
  readonly #nodes = new Map<number, Inode>();
  #nextIno = FUSE_ROOT_ID + 1;
  // INVARIANT: every open handle (fh → node id) names a node in #nodes, and node.openCount is the
  // number of handles naming it; so an unlinked, forgotten file stays readable until released.
  readonly #handles = new Map<number, number>();
  #nextFh = 1;
  /** Forgets of unknown nodes or of more references than we counted: a bookkeeping bug. */
  readonly #forgetErrors: string[] = [];

  constructor(options: InodeTableOptions) {
    this.budget = new SpaceBudget(options.capacityBytes);
    this.maxInodes = options.maxInodes;
    const root: DirInode = {
      ...base(FUSE_ROOT_ID, { mode: S_IFDIR | 0o755, uid: options.uid, gid: options.gid }),
      kind: 'dir', entries: new DirEntries(), parent: FUSE_ROOT_ID,
    };
    root.nlink = 2;
    this.#nodes.set(root.ino, root);
  }

  get count(): number {
    return this.#nodes.size;
  }

  get(ino: number): Inode | undefined {
    return this.#nodes.get(ino);
  }

  /** New inodes start unlinked (nlink 0): the caller links them before returning. */
  newFile(init: InodeInit): FileInode {
    return this.#add({ ...base(this.#allocate(), init), kind: 'file', data: new FileData(this.budget) });
  }

  newDir(init: InodeInit, parent: number): DirInode {
    return this.#add({ ...base(this.#allocate(), init), kind: 'dir', entries: new DirEntries(), parent });
  }

  newSymlink(init: InodeInit, target: Buffer): SymlinkInode {
    return this.#add({ ...base(this.#allocate(), init), kind: 'symlink', target: Buffer.from(target) });
  }

  newSpecial(init: InodeInit, rdev: number): SpecialInode {
    return this.#add({ ...base(this.#allocate(), init), kind: 'special', rdev });
  }

  /** Frees `node` if nothing refers to it any more; call after dropping any reference. */
  release(node: Inode): void {
    if (node.ino === FUSE_ROOT_ID || node.nlink > 0 || node.nlookup > 0 || node.openCount > 0) return;
    this.#nodes.delete(node.ino);
    if (node.kind === 'file') node.data.dispose();
  }

  /** A new file or directory handle on `node`; it keeps the node alive until close(). */
  open(node: Inode): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, node.ino);
    node.openCount++;
    return fh;
  }

  close(nodeid: number, fh: number): void {
    const node = this.#handles.get(fh) === nodeid ? this.#nodes.get(nodeid) : undefined;
    if (node === undefined) fail('EBADF');
    this.#handles.delete(fh);
    node.openCount--;
    this.release(node);
  }

  /** FORGET: the kernel dropped `count` references. Never throws: forget has no reply. */
  forget(ino: number, count: number): void {
    const node = this.#nodes.get(ino);
    if (node === undefined) {
      this.#forgetErrors.push(`forget of unknown node ${ino}`);
      return;
    }
    if (count > node.nlookup) this.#forgetErrors.push(`forget ${count} of node ${ino} holding ${node.nlookup}`);
    node.nlookup = Math.max(0, node.nlookup - count);
    this.release(node);
  }

  checkInvariants(): void {
    if (this.#forgetErrors.length > 0) invariant(this.#forgetErrors.join('; '));
    const openCounts = new Map<number, number>();
    for (const ino of this.#handles.values()) {
      if (!this.#nodes.has(ino)) invariant(`open handle on freed node ${ino}`);
      openCounts.set(ino, (openCounts.get(ino) ?? 0) + 1);
    }
    const root = this.#nodes.get(FUSE_ROOT_ID);
    if (root?.kind !== 'dir' || root.parent !== FUSE_ROOT_ID) invariant('root is missing or not a directory');
    const names = new Map<number, number>();
    const subdirs = new Map<number, number>();
    let pages = 0;
    for (const node of this.#nodes.values()) {
      checkNode(node, openCounts.get(node.ino) ?? 0);
      if (node.kind === 'file') pages += node.data.allocatedPages;
      if (node.kind !== 'dir') continue;
      for (const [name, ino] of node.entries.entries()) {
        const child = this.#nodes.get(ino);
        if (child === undefined) invariant(`${node.ino}/${name} points at freed node ${ino}`);
        names.set(ino, (names.get(ino) ?? 0) + 1);
        if (child.kind !== 'dir') continue;
        subdirs.set(node.ino, (subdirs.get(node.ino) ?? 0) + 1);
        if (child.parent !== node.ino) invariant(`dir ${ino} is in ${node.ino} but its ".." is ${child.parent}`);
      }
    }
    for (const node of this.#nodes.values()) {
      const n = names.get(node.ino) ?? 0;
      const linked = node.ino === FUSE_ROOT_ID || n > 0;
      const expected = node.kind !== 'dir' ? n : linked ? 2 + (subdirs.get(node.ino) ?? 0) : 0;
      if (node.nlink !== expected) invariant(`node ${node.ino}: nlink ${node.nlink}, expected ${expected}`);
      if (node.kind === 'dir' && n > (node.ino === FUSE_ROOT_ID ? 0 : 1)) invariant(`dir ${node.ino} has ${n} names`);
    }
    if (pages !== this.budget.usedPages) invariant(`budget holds ${this.budget.usedPages} pages, files ${pages}`);
  }

  #allocate(): number {
    if (this.#nodes.size >= this.maxInodes) fail('ENOSPC');
    return this.#nextIno++;
  }

  #add<T extends Inode>(node: T): T {
    this.#nodes.set(node.ino, node);
    return node;
  }
}

function base(ino: number, init: InodeInit): InodeBase {
  const t = now();
  return {
    ino, mode: init.mode, nlink: 0, uid: init.uid, gid: init.gid, atime: t, mtime: t, ctime: t,
    nlookup: 0, openCount: 0, xattrs: new Map(),
  };
}

const KIND_OF_TYPE = new Map<number, InodeKind>([
  [S_IFREG, 'file'], [S_IFDIR, 'dir'], [S_IFLNK, 'symlink'],
  [S_IFIFO, 'special'], [S_IFSOCK, 'special'], [S_IFCHR, 'special'], [S_IFBLK, 'special'],
]);

function checkNode(node: Inode, handles: number): void {
  const where = `node ${node.ino}`;
  if (KIND_OF_TYPE.get(node.mode & S_IFMT) !== node.kind) invariant(`${where}: mode ${node.mode.toString(8)} is not a ${node.kind}`);
  for (const [key, value] of [['nlink', node.nlink], ['nlookup', node.nlookup], ['openCount', node.openCount]] as const) {
    if (!Number.isInteger(value) || value < 0) invariant(`${where}: ${key} is ${value}`);
  }
  if (node.openCount !== handles) invariant(`${where}: openCount ${node.openCount}, ${handles} handles`);
  if (node.ino !== FUSE_ROOT_ID && node.nlink === 0 && node.nlookup === 0 && node.openCount === 0) {
    invariant(`${where} is unreferenced but not freed`);
  }
  if (node.kind === 'dir') {
    node.entries.checkInvariants();
    if (node.nlink === 0 && node.entries.size > 0) invariant(`removed dir ${node.ino} still has entries`);
  }
  if (node.kind === 'file') node.data.checkInvariants();
}
