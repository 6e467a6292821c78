// The filesystem API: one method per FUSE operation, with friendly names and decoded arguments.
// The session (session.ts) decodes a request, calls the method, and encodes what it returns.
//
// Conventions for every method:
// - Return the result (or a promise of it). Throw FuseError / fail('ENOENT') or any Node system
//   error to answer with an errno; anything else becomes EIO and is logged once (errno.ts).
// - Return synchronously when you can: the session skips a microtask turn for plain values.
// - `ctx.signal` aborts when the kernel sends FUSE_INTERRUPT for this request (the calling
//   process got a signal). A handler that waits should give up and throw FuseError('EINTR').
// - Never touch the mount from inside a handler (stat, read…): the single event loop that would
//   answer that request is the one waiting, and the kernel will wait forever.
//
// Lookup counts (the kernel's nlookup): every successful reply that carries an entry — lookup,
// mknod, mkdir, symlink, link, create, and each readdirplus entry with a non-zero nodeid that
// was accepted by DirentList.add — adds one reference to that node id. forget() removes them.
// A node id must stay valid until its count returns to zero; the root (1) is never forgotten.
// If such a reply cannot be delivered (the request was interrupted meanwhile), the session
// calls forget() for the references it carried, so counts never leak.
//
// Replies are written synchronously the moment a handler's value (or promise) settles, so
// buffers returned by read/readlink/getxattr only need to stay unchanged until then.
//
// Child processes: never spawn a child whose start needs this mount (cwd or executable inside
// it) from the process serving it: libuv blocks the loop until the child has exec'd.

import type { Attr, DirentList, Entry, OpenResult, StatfsResult } from './types.js';

export interface RequestContext {
  /** Kernel request id; opaque. */
  readonly unique: bigint;
  /** Caller's credentials and thread group id, as the kernel reported them. */
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  /** Fires when the kernel interrupts this request (FUSE_INTERRUPT) or the session is torn down. */
  readonly signal: AbortSignal;
}

/** What setattr may change; absent fields are unchanged. Times are seconds + nanoseconds. */
export interface SetattrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** 'now' asks for the current time (FATTR_ATIME_NOW / FATTR_MTIME_NOW). */
  atime?: { sec: number; nsec: number } | 'now';
  mtime?: { sec: number; nsec: number } | 'now';
  ctime?: { sec: number; nsec: number };
  /** Set when the change comes through an open file (ftruncate, futimens). */
  fh?: number;
  /** FATTR_KILL_SUIDGID: clear set-id bits as part of this change. */
  killSuidgid?: boolean;
}

export interface AttrResult {
  attr: Attr;
  /** Seconds the kernel may cache these attributes (fractions allowed). */
  attrTimeout: number;
}

export interface CreateResult {
  entry: Entry;
  open: OpenResult;
}

export interface FuseHandler {
  /** Called after INIT is agreed, before any other request. */
  init?(info: import('./types.js').ConnectionInfo): void;
  /** FUSE_DESTROY: the kernel is done with the filesystem (clean unmount). */
  destroy?(): void | Promise<void>;

  lookup(ctx: RequestContext, parent: number, name: string): Entry | Promise<Entry>;
  /** FUSE_FORGET and FUSE_BATCH_FORGET: drop `nlookup` references from each node. No reply. */
  forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void;
  getattr(ctx: RequestContext, nodeid: number, fh: number | undefined): AttrResult | Promise<AttrResult>;
  setattr(ctx: RequestContext, nodeid: number, changes: SetattrChanges): AttrResult | Promise<AttrResult>;
  readlink(ctx: RequestContext, nodeid: number): Buffer | Promise<Buffer>;
  symlink(ctx: RequestContext, parent: number, name: string, target: Buffer): Entry | Promise<Entry>;
  /** `mode` includes the file type bits (S_IFREG, S_IFIFO, …); umask was already applied unless DONT_MASK. */
  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number, umask: number): Entry | Promise<Entry>;
  mkdir(ctx: RequestContext, parent: number, name: string, mode: number, umask: number): Entry | Promise<Entry>;
  unlink(ctx: RequestContext, parent: number, name: string): void | Promise<void>;
  rmdir(ctx: RequestContext, parent: number, name: string): void | Promise<void>;
  /** FUSE_RENAME (flags 0) and FUSE_RENAME2 (RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT). */
  rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): void | Promise<void>;
  link(ctx: RequestContext, nodeid: number, newParent: number, newName: string): Entry | Promise<Entry>;
  /** `flags` are the open(2) flags (O_ACCMODE, O_APPEND, O_TRUNC when ATOMIC_O_TRUNC…). */
  open(ctx: RequestContext, nodeid: number, flags: number): OpenResult | Promise<OpenResult>;
  /**
   * Return at most `size` bytes; fewer means end of file (unless direct_io). Return the bytes
   * as one Buffer or several: they are written to the device with writev, without copying.
   */
  read(ctx: RequestContext, nodeid: number, fh: number, offset: number, size: number): Buffer | Buffer[] | Promise<Buffer | Buffer[]>;
  /**
   * `data` is a view into the request buffer: copy it if you keep it past the call. `flags` are
   * the file's open(2) flags (fuse_write_in.flags); `writeFlags` are FUSE_WRITE_* bits: with
   * InitOptions.handleKillpriv, FUSE_WRITE_KILL_SUIDGID asks the filesystem to clear the set-id
   * bits (the kernel no longer does it). Returns bytes written.
   */
  write(ctx: RequestContext, nodeid: number, fh: number, offset: number, data: Buffer, flags: number, writeFlags: number): number | Promise<number>;
  statfs(ctx: RequestContext, nodeid: number): StatfsResult | Promise<StatfsResult>;
  /** Last close of an open file; `flags` are its open(2) flags. Errors are not seen by anyone. */
  release(ctx: RequestContext, nodeid: number, fh: number, flags: number): void | Promise<void>;
  fsync(ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): void | Promise<void>;
  flush(ctx: RequestContext, nodeid: number, fh: number, lockOwner: bigint): void | Promise<void>;
  setxattr(ctx: RequestContext, nodeid: number, name: string, value: Buffer, flags: number): void | Promise<void>;
  /** Return the whole value; the session applies the size-probe protocol and ERANGE. */
  getxattr(ctx: RequestContext, nodeid: number, name: string): Buffer | Promise<Buffer>;
  /** Return the names; the session encodes them and applies the size-probe protocol. */
  listxattr(ctx: RequestContext, nodeid: number): string[] | Promise<string[]>;
  removexattr(ctx: RequestContext, nodeid: number, name: string): void | Promise<void>;
  opendir(ctx: RequestContext, nodeid: number, flags: number): OpenResult | Promise<OpenResult>;
  /**
   * FUSE_READDIR and FUSE_READDIRPLUS (`list.plus`). `offset` is 0 or the `off` of an entry
   * returned earlier; add the entries that follow it until list.add() returns false. Each
   * entry's `off` must be a cookie that, passed back as `offset`, resumes right after it.
   */
  readdir(ctx: RequestContext, nodeid: number, fh: number, offset: number, list: DirentList): void | Promise<void>;
  releasedir(ctx: RequestContext, nodeid: number, fh: number): void | Promise<void>;
  fsyncdir(ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): void | Promise<void>;
  access(ctx: RequestContext, nodeid: number, mask: number): void | Promise<void>;
  create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number, umask: number): CreateResult | Promise<CreateResult>;
  /** SEEK_DATA (3) / SEEK_HOLE (4); SEEK_SET/CUR/END are answered by the kernel. Returns the new offset. */
  lseek(ctx: RequestContext, nodeid: number, fh: number, offset: number, whence: number): number | Promise<number>;
  fallocate(ctx: RequestContext, nodeid: number, fh: number, offset: number, length: number, mode: number): void | Promise<void>;
}
