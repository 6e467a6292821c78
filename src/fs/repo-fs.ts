// The repository filesystem, read-only: the snapshot's tree with true sizes, contents hydrated
// on first read, and a synthesized `.git` file pointing at the real git dir. Base entries are
// immutable per generation, so the kernel may cache names, attributes and pages for long.
//
// Unknown sizes (the server did not offer object-info): a lookup or getattr of such a file
// hydrates that one blob first, so no wrong size is ever reported; readdirplus returns those
// entries without attributes (nodeid 0) so a listing never hydrates.

import { read } from 'node:fs';
import { readFile, stat, statfs } from 'node:fs/promises';
import {
  DefaultHandler, FOPEN_KEEP_CACHE, FOPEN_CACHE_DIR, fail, type AttrResult, type DirentList, type Entry,
  type OpenResult, type RequestContext, type StatfsResult,
} from '../fuse/index.js';
import type { Oid } from '../model/ids.js';
import { GITFILE_INO, ROOT_INO, type SnapNode, type Snapshot } from '../snapshot/snapshot.js';
import { gitfileAttr, nodeAttr, type AttrContext } from './attrs.js';
import { FdCache } from './fd-cache.js';

/** Base entries never change within a generation; a generation switch invalidates precisely. */
const BASE_TTL = 24 * 3600;
const O_ACCMODE = 3;

/** Where blob contents come from: the hydrator and its cache. */
export interface BlobProvider {
  /** Path of a verified local copy of the blob, hydrating it first (top priority) if needed. */
  ensure(oid: Oid, size: number, signal?: AbortSignal): Promise<string>;
  /** Path when already cached (no I/O), else undefined. */
  cachedPath(oid: Oid): string | undefined;
  /** Blobs likely to be read soon (their directory was listed). */
  nudge(oids: Oid[]): void;
}

export interface RepoFsOptions {
  snapshot: Snapshot;
  gitDir: string;
  blobs: BlobProvider;
  /** Directory whose filesystem statfs reports (the state root). */
  statfsPath: string;
  uid?: number;
  gid?: number;
  /** Called when an unknown size was learned by hydrating. */
  onSizeLearned?(node: SnapNode): void;
}

export class RepoFs extends DefaultHandler {
  readonly #snap: Snapshot;
  readonly #blobs: BlobProvider;
  readonly #gitfile: Buffer;
  readonly #ac: AttrContext;
  readonly #opts: RepoFsOptions;
  readonly #fds: FdCache;
  readonly #links = new Map<string, Buffer>();

  constructor(opts: RepoFsOptions) {
    super();
    this.#opts = opts;
    this.#snap = opts.snapshot;
    this.#blobs = opts.blobs;
    this.#gitfile = Buffer.from(`gitdir: ${opts.gitDir}\n`);
    this.#fds = new FdCache((n, signal) => this.#blobs.ensure(n.oid, n.size, signal));
    this.#ac = { uid: opts.uid ?? process.getuid?.() ?? 0, gid: opts.gid ?? process.getgid?.() ?? 0, time: opts.snapshot.commitTime };
  }

  #node(ino: number): SnapNode {
    const n = this.#snap.byIno(ino);
    if (!n) return fail('ESTALE');
    return n;
  }

  /** The size, hydrating the blob when the server did not tell us. */
  async #learnSize(n: SnapNode, signal?: AbortSignal): Promise<void> {
    const path = await this.#blobs.ensure(n.oid, -1, signal);
    n.size = (await stat(path)).size;
    this.#opts.onSizeLearned?.(n);
  }

  #entry(n: SnapNode): Entry {
    return { nodeid: n.ino, entryTimeout: BASE_TTL, attrTimeout: BASE_TTL, attr: nodeAttr(n, this.#ac) };
  }

  override lookup(ctx: RequestContext, parent: number, name: string): Entry | Promise<Entry> {
    if (parent === ROOT_INO && name === '.git') {
      return { nodeid: GITFILE_INO, entryTimeout: BASE_TTL, attrTimeout: BASE_TTL, attr: gitfileAttr(this.#gitfile.length, this.#ac) };
    }
    const dir = this.#node(parent);
    const n = this.#snap.child(dir, name);
    if (!n) return { nodeid: 0, entryTimeout: BASE_TTL, attrTimeout: 0, attr: nodeAttr(dir, this.#ac) }; // cached negative entry
    if (n.size < 0) return this.#learnSize(n, ctx.signal).then(() => this.#entry(n));
    return this.#entry(n);
  }

  override getattr(ctx: RequestContext, ino: number): AttrResult | Promise<AttrResult> {
    if (ino === GITFILE_INO) return { attr: gitfileAttr(this.#gitfile.length, this.#ac), attrTimeout: BASE_TTL };
    const n = this.#node(ino);
    if (n.size < 0) return this.#learnSize(n, ctx.signal).then(() => ({ attr: nodeAttr(n, this.#ac), attrTimeout: BASE_TTL }));
    return { attr: nodeAttr(n, this.#ac), attrTimeout: BASE_TTL };
  }

  override opendir(_ctx: RequestContext, ino: number): OpenResult {
    const n = this.#node(ino);
    if (!n.children) return fail('ENOTDIR');
    return { fh: 0, openFlags: FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR };
  }

  override releasedir(): void {}

  override readdir(_ctx: RequestContext, ino: number, _fh: number, offset: number, list: DirentList): void {
    const dir = this.#node(ino);
    const kids = dir.children ?? [];
    const extra = ino === ROOT_INO ? 1 : 0; // the synthesized .git
    // Cookies: 1 '.', 2 '..', 3 '.git' (root only), then children in order.
    const total = 2 + extra + kids.length;
    if (offset === 0) this.#nudge(kids);
    for (let i = offset; i < total; i++) {
      if (!list.add(this.#dirent(dir, i, extra, kids))) break;
    }
  }

  #dirent(dir: SnapNode, i: number, extra: number, kids: SnapNode[]) {
    if (i < 2) return { name: i === 0 ? '.' : '..', ino: dir.ino, off: i + 1, type: 4 };
    if (i < 2 + extra) {
      return { name: '.git', ino: GITFILE_INO, off: i + 1, type: 8, entry: { nodeid: GITFILE_INO, entryTimeout: BASE_TTL, attrTimeout: BASE_TTL, attr: gitfileAttr(this.#gitfile.length, this.#ac) } };
    }
    const n = kids[i - 2 - extra]!;
    const attr = nodeAttr(n, this.#ac);
    // Unknown size: no attributes for the kernel (nodeid 0), so listing never hydrates.
    const entry = n.size < 0 ? undefined : this.#entry(n);
    return { name: n.name, ino: n.ino, off: i + 1, type: (attr.mode >> 12) & 0o17, entry };
  }

  #nudge(kids: SnapNode[]): void {
    const oids: Oid[] = [];
    for (const k of kids) if (k.kind === 'file' && !this.#blobs.cachedPath(k.oid)) oids.push(k.oid);
    if (oids.length) this.#blobs.nudge(oids);
  }

  /**
   * ENOSYS makes the kernel stop sending OPEN, RELEASE (and, below, FLUSH) for files: reads then
   * arrive by node id alone, which saves three of the four round trips of reading a small file
   * (open, read, flush, release), and the page cache is kept across opens (base files never
   * change within a generation). The mount is read-only, so the kernel refuses write opens itself.
   */
  override open(): never {
    return fail('ENOSYS');
  }

  override read(ctx: RequestContext, ino: number, _fh: number, offset: number, size: number): Buffer | Promise<Buffer> {
    if (ino === GITFILE_INO) return this.#gitfile.subarray(offset, offset + size);
    const n = this.#node(ino);
    if (n.kind !== 'file') return fail(n.children ? 'EISDIR' : 'EINVAL');
    return this.#fds.withFd(n, ctx.signal, (fd) => new Promise<Buffer>((resolve, reject) => {
      const buf = Buffer.allocUnsafe(size);
      read(fd, buf, 0, size, offset, (err, got) => (err ? reject(err) : resolve(buf.subarray(0, got))));
    }));
  }

  override async readlink(ctx: RequestContext, ino: number): Promise<Buffer> {
    const n = this.#node(ino);
    if (n.kind !== 'symlink') return fail('EINVAL');
    const cached = this.#links.get(n.oid);
    if (cached) return cached;
    const target = await readFile(await this.#blobs.ensure(n.oid, n.size, ctx.signal));
    this.#links.set(n.oid, target);
    return target;
  }

  override async statfs(): Promise<StatfsResult> {
    const s = await statfs(this.#opts.statfsPath);
    return { blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, bsize: s.bsize, namelen: 255, frsize: s.bsize };
  }

  override access(): void {}
  override getxattr(): never { return fail('ENODATA'); }
  override listxattr(): string[] { return []; }

  // Read-only until the overlay exists: every mutation is EROFS.
  override setattr(): never { return fail('EROFS'); }
  override create(): never { return fail('EROFS'); }
  override mknod(): never { return fail('EROFS'); }
  override mkdir(): never { return fail('EROFS'); }
  override symlink(): never { return fail('EROFS'); }
  override link(): never { return fail('EROFS'); }
  override unlink(): never { return fail('EROFS'); }
  override rmdir(): never { return fail('EROFS'); }
  override rename(): never { return fail('EROFS'); }
  override write(): never { return fail('EROFS'); }
  override setxattr(): never { return fail('EROFS'); }
  override removexattr(): never { return fail('EROFS'); }
  override fallocate(): never { return fail('EROFS'); }

  /** Closes every cached file descriptor (the session ended). */
  closeAll(): Promise<void> {
    return this.#fds.closeAll();
  }
}
