// The FUSE handler of a repo that is still being prepared (async add-repo): a decorator that
// holds every request at a ReadyGate and, once openWith(inner) is called, delegates everything to
// `inner` (the repo's WorkTreeFs) behind the same session: the gate opens without a remount.
//
// While the gate is shut, a placeholder answers what describes the mount root itself and must
// never hang an innocent caller: getattr of the root (`stat`, `test -d`, `ls -l` of the parent,
// `mountpoint`), its xattrs (ls's ACL probe: none) and statfs (`df` of every mount). Their
// replies carry no cache lifetime (attrTimeout 0), so nothing the kernel learned from the
// placeholder outlives the swap; everything else waits (lookup, readdir, open, create…), gives up
// with EINTR when the kernel interrupts it, and fails with EIO while preparation has failed.
//
// Nothing can be referenced before the gate opens (every lookup waits for it), so forget() and
// the release calls never reach a placeholder with state to drop.

import { statfs as statfsAsync } from 'node:fs/promises';
import {
  fail, type AttrResult, type ConnectionInfo, type CreateResult, type DirentList, type Entry, type FuseHandler, type OpenResult,
  type RequestContext, type SetattrChanges, type StatfsResult,
} from '../fuse/index.js';
import { ROOT_INO } from '../snapshot/snapshot.js';
import { ReadyGate } from './ready-gate.js';

const S_IFDIR = 0o040000;
const NAME_MAX = 255;

export interface GatedHandlerOptions {
  /** Directory whose filesystem statfs reports while shut (the state root, like WorkTreeFs). */
  statfsPath: string;
  uid?: number;
  gid?: number;
}

export class GatedHandler implements FuseHandler {
  readonly gate = new ReadyGate();
  readonly #o: GatedHandlerOptions;
  readonly #since = Math.floor(Date.now() / 1000);
  // INVARIANT: set exactly when gate.state is 'open'.
  #inner: FuseHandler | undefined;
  #info: ConnectionInfo | undefined;

  constructor(o: GatedHandlerOptions) {
    this.#o = o;
  }

  /** Delegates to `inner` from now on and releases every waiting request to it. Once only. */
  openWith(inner: FuseHandler): void {
    if (this.#inner) throw new Error('the gate is already open');
    this.#inner = inner;
    if (this.#info) inner.init?.(this.#info);
    this.gate.open();
  }

  init(info: ConnectionInfo): void {
    this.#info = info;
    this.#inner?.init?.(info);
  }

  destroy(): void | Promise<void> {
    return this.#inner?.destroy?.();
  }

  /** Runs `fn` on the inner handler now if open, else after the gate opens (or rejects with it). */
  #via<T>(ctx: RequestContext, fn: (h: FuseHandler) => T): T | Promise<Awaited<T>> {
    const h = this.#inner;
    if (h) return fn(h);
    return this.gate.wait(ctx.signal).then(() => fn(this.#inner!)) as Promise<Awaited<T>>;
  }

  // ---- answered by the placeholder while shut -------------------------------------------------

  getattr(ctx: RequestContext, nodeid: number, fh: number | undefined): AttrResult | Promise<AttrResult> {
    if (!this.#inner && nodeid === ROOT_INO) return { attr: this.#rootAttr(), attrTimeout: 0 };
    return this.#via(ctx, (h) => h.getattr(ctx, nodeid, fh));
  }

  getxattr(ctx: RequestContext, nodeid: number, name: string): Buffer | Promise<Buffer> {
    if (!this.#inner && nodeid === ROOT_INO) return fail('ENODATA');
    return this.#via(ctx, (h) => h.getxattr(ctx, nodeid, name));
  }

  listxattr(ctx: RequestContext, nodeid: number): string[] | Promise<string[]> {
    if (!this.#inner && nodeid === ROOT_INO) return [];
    return this.#via(ctx, (h) => h.listxattr(ctx, nodeid));
  }

  statfs(ctx: RequestContext, nodeid: number): StatfsResult | Promise<StatfsResult> {
    if (this.#inner) return this.#inner.statfs(ctx, nodeid);
    return statfsAsync(this.#o.statfsPath).then((s) => ({
      blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, namelen: NAME_MAX, frsize: s.bsize,
    }));
  }

  #rootAttr(): AttrResult['attr'] {
    const t = this.#since;
    return {
      ino: ROOT_INO, size: 0, mode: S_IFDIR | 0o755, nlink: 2, uid: this.#o.uid ?? process.getuid?.() ?? 0, gid: this.#o.gid ?? process.getgid?.() ?? 0,
      atimeSec: t, atimeNsec: 0, mtimeSec: t, mtimeNsec: 0, ctimeSec: t, ctimeNsec: 0,
    };
  }

  // ---- no reply, nothing to hold --------------------------------------------------------------

  forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void {
    this.#inner?.forget(items);
  }

  // ---- held at the gate -----------------------------------------------------------------------

  lookup(ctx: RequestContext, parent: number, name: string): Entry | Promise<Entry> { return this.#via(ctx, (h) => h.lookup(ctx, parent, name)); }
  setattr(ctx: RequestContext, nodeid: number, ch: SetattrChanges): AttrResult | Promise<AttrResult> { return this.#via(ctx, (h) => h.setattr(ctx, nodeid, ch)); }
  readlink(ctx: RequestContext, nodeid: number): Buffer | Promise<Buffer> { return this.#via(ctx, (h) => h.readlink(ctx, nodeid)); }
  symlink(ctx: RequestContext, parent: number, name: string, target: Buffer): Entry | Promise<Entry> { return this.#via(ctx, (h) => h.symlink(ctx, parent, name, target)); }
  mknod(ctx: RequestContext, parent: number, name: string, mode: number, rdev: number, umask: number): Entry | Promise<Entry> { return this.#via(ctx, (h) => h.mknod(ctx, parent, name, mode, rdev, umask)); }
  mkdir(ctx: RequestContext, parent: number, name: string, mode: number, umask: number): Entry | Promise<Entry> { return this.#via(ctx, (h) => h.mkdir(ctx, parent, name, mode, umask)); }
  unlink(ctx: RequestContext, parent: number, name: string): void | Promise<void> { return this.#via(ctx, (h) => h.unlink(ctx, parent, name)); }
  rmdir(ctx: RequestContext, parent: number, name: string): void | Promise<void> { return this.#via(ctx, (h) => h.rmdir(ctx, parent, name)); }
  rename(ctx: RequestContext, parent: number, name: string, newParent: number, newName: string, flags: number): void | Promise<void> {
    return this.#via(ctx, (h) => h.rename(ctx, parent, name, newParent, newName, flags));
  }
  link(ctx: RequestContext, nodeid: number, newParent: number, newName: string): Entry | Promise<Entry> { return this.#via(ctx, (h) => h.link(ctx, nodeid, newParent, newName)); }
  open(ctx: RequestContext, nodeid: number, flags: number): OpenResult | Promise<OpenResult> { return this.#via(ctx, (h) => h.open(ctx, nodeid, flags)); }
  read(ctx: RequestContext, nodeid: number, fh: number, offset: number, size: number): Buffer | Buffer[] | Promise<Buffer | Buffer[]> {
    return this.#via(ctx, (h) => h.read(ctx, nodeid, fh, offset, size));
  }
  write(ctx: RequestContext, nodeid: number, fh: number, offset: number, data: Buffer, flags: number, writeFlags: number): number | Promise<number> {
    if (this.#inner) return this.#inner.write(ctx, nodeid, fh, offset, data, flags, writeFlags);
    // Unreachable in practice (no handle exists before the gate opens), but `data` is a view
    // into a request buffer the device may reuse: a write that waits keeps its own copy.
    const copy = Buffer.from(data);
    return this.#via(ctx, (h) => h.write(ctx, nodeid, fh, offset, copy, flags, writeFlags));
  }
  release(ctx: RequestContext, nodeid: number, fh: number, flags: number): void | Promise<void> { return this.#via(ctx, (h) => h.release(ctx, nodeid, fh, flags)); }
  fsync(ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): void | Promise<void> { return this.#via(ctx, (h) => h.fsync(ctx, nodeid, fh, datasync)); }
  flush(ctx: RequestContext, nodeid: number, fh: number, lockOwner: bigint): void | Promise<void> { return this.#via(ctx, (h) => h.flush(ctx, nodeid, fh, lockOwner)); }
  setxattr(ctx: RequestContext, nodeid: number, name: string, value: Buffer, flags: number): void | Promise<void> { return this.#via(ctx, (h) => h.setxattr(ctx, nodeid, name, value, flags)); }
  removexattr(ctx: RequestContext, nodeid: number, name: string): void | Promise<void> { return this.#via(ctx, (h) => h.removexattr(ctx, nodeid, name)); }
  opendir(ctx: RequestContext, nodeid: number, flags: number): OpenResult | Promise<OpenResult> { return this.#via(ctx, (h) => h.opendir(ctx, nodeid, flags)); }
  readdir(ctx: RequestContext, nodeid: number, fh: number, offset: number, list: DirentList): void | Promise<void> { return this.#via(ctx, (h) => h.readdir(ctx, nodeid, fh, offset, list)); }
  releasedir(ctx: RequestContext, nodeid: number, fh: number): void | Promise<void> { return this.#via(ctx, (h) => h.releasedir(ctx, nodeid, fh)); }
  fsyncdir(ctx: RequestContext, nodeid: number, fh: number, datasync: boolean): void | Promise<void> { return this.#via(ctx, (h) => h.fsyncdir(ctx, nodeid, fh, datasync)); }
  access(ctx: RequestContext, nodeid: number, mask: number): void | Promise<void> { return this.#via(ctx, (h) => h.access(ctx, nodeid, mask)); }
  create(ctx: RequestContext, parent: number, name: string, mode: number, flags: number, umask: number): CreateResult | Promise<CreateResult> {
    return this.#via(ctx, (h) => h.create(ctx, parent, name, mode, flags, umask));
  }
  lseek(ctx: RequestContext, nodeid: number, fh: number, offset: number, whence: number): number | Promise<number> { return this.#via(ctx, (h) => h.lseek(ctx, nodeid, fh, offset, whence)); }
  fallocate(ctx: RequestContext, nodeid: number, fh: number, offset: number, length: number, mode: number): void | Promise<void> {
    return this.#via(ctx, (h) => h.fallocate(ctx, nodeid, fh, offset, length, mode));
  }
}
