// File contents of the merged view: base blobs read through the BlobProvider (hydrated lazily),
// written files through their overlay backing file. Content is copied up only when written or
// truncated to a non-zero size; truncate to zero takes a fresh empty backing file and never
// hydrates (DESIGN decision 8).
//
// Descriptors: one per (inode, content path), opened on first use and shared by every handle of
// the inode, so a handle keeps working after its file was renamed or unlinked. When the content
// moves (copy-up, truncate to zero) the old descriptor is retired and closed once no I/O uses it.
//
// INVARIANT: a slot's fd stays open while `users > 0`; a retired slot is closed when users drops
// to 0 and is never handed out again.

import { close, fdatasync, ftruncate, open, read, write } from 'node:fs';
import { promisify } from 'node:util';
import { fail } from '../fuse/index.js';
import type { OverlayStore } from '../overlay/index.js';
import type { BlobProvider } from './blob-provider.js';
import { nowNs, type WNode } from './worktree-nodes.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const ftruncateAsync = promisify(ftruncate);
const fdatasyncAsync = promisify(fdatasync);

interface Slot {
  readonly path: string;
  readonly fd: Promise<number>;
  users: number;
  retired: boolean;
}

export interface ContentOptions {
  store: OverlayStore;
  blobs: BlobProvider;
  /** Writes the node's row (size, times, content) after a content change. */
  persist(node: WNode): void;
  /**
   * A write changed size/mtime: persisted within WRITE_PERSIST_DELAY_MS, or at flush/fsync/close.
   * The data itself is in the backing file already; if the process dies first, the store re-reads
   * sizes from backing files when it opens, so only mtime can be older than the last write.
   */
  persistSoon(node: WNode): void;
}

export class FileContent {
  readonly #o: ContentOptions;
  readonly #slots = new Map<number, Slot>();
  /** Single-flight copy-up per inode. */
  readonly #copying = new Map<number, Promise<void>>();
  /** Blobs hydrated through ensure(), by this instance (tests and status). */
  hydrations = 0;

  constructor(o: ContentOptions) {
    this.#o = o;
  }

  async #path(node: WNode, signal: AbortSignal): Promise<{ path: string; flags: string }> {
    const c = node.content;
    if (c.kind === 'upper') return { path: c.file, flags: 'r+' };
    if (c.kind === 'base') {
      this.hydrations++;
      return { path: await this.#o.blobs.ensure(c.oid, node.size, signal), flags: 'r' };
    }
    return fail('EIO'); // lost content (the overlay store's file comment)
  }

  async #withFd<T>(node: WNode, signal: AbortSignal, use: (fd: number) => Promise<T>): Promise<T> {
    let slot = this.#slots.get(node.ino);
    const want = node.content.kind === 'upper' ? node.content.file : undefined;
    if (slot && want !== undefined && slot.path !== want) {
      this.#retire(node.ino);
      slot = undefined;
    }
    if (!slot) {
      const where = await this.#path(node, signal);
      slot = this.#slots.get(node.ino); // another request may have raced us
      if (!slot || slot.path !== where.path) {
        if (slot) this.#retire(node.ino);
        const fd = openAsync(where.path, where.flags);
        const s: Slot = { path: where.path, fd, users: 0, retired: false };
        fd.catch(() => { if (this.#slots.get(node.ino) === s) this.#slots.delete(node.ino); });
        this.#slots.set(node.ino, s);
        slot = s;
      }
    }
    slot.users++;
    try {
      return await use(await slot.fd);
    } finally {
      slot.users--;
      if (slot.retired && slot.users === 0) void slot.fd.then((fd) => closeAsync(fd), () => {}).catch(() => {});
    }
  }

  /**
   * Takes over an fd already open on a node's new backing file (create), so the first write does
   * not open the file again: two threadpool round trips fewer per created file.
   */
  adopt(node: WNode, path: string, fd: number): void {
    this.#retire(node.ino);
    this.#slots.set(node.ino, { path, fd: Promise.resolve(fd), users: 0, retired: false });
  }

  #retire(ino: number): void {
    const slot = this.#slots.get(ino);
    if (!slot) return;
    this.#slots.delete(ino);
    slot.retired = true;
    if (slot.users === 0) void slot.fd.then((fd) => closeAsync(fd), () => {}).catch(() => {});
  }

  read(node: WNode, offset: number, size: number, signal: AbortSignal): Promise<Buffer> {
    return this.#withFd(node, signal, (fd) => new Promise<Buffer>((resolve, reject) => {
      const buf = Buffer.allocUnsafe(size);
      read(fd, buf, 0, size, offset, (err, got) => (err ? reject(err) : resolve(buf.subarray(0, got))));
    }));
  }

  async write(node: WNode, offset: number, data: Buffer, signal: AbortSignal): Promise<number> {
    await this.ensureUpper(node, signal);
    const copy = Buffer.from(data); // `data` is a view into the request buffer
    const n = await this.#withFd(node, signal, (fd) => new Promise<number>((resolve, reject) => {
      write(fd, copy, 0, copy.length, offset, (err, w) => (err ? reject(err) : resolve(w)));
    }));
    node.size = Math.max(node.size, offset + n);
    node.mtimeNs = node.ctimeNs = nowNs();
    this.#o.persistSoon(node);
    return n;
  }

  /** Sets the length; to zero without hydrating (a fresh empty backing file). */
  async truncate(node: WNode, size: number, signal: AbortSignal): Promise<void> {
    if (size === 0 && node.content.kind !== 'upper') {
      const { path, fd } = await this.#o.store.newBackingFile(node.ino);
      await closeAsync(fd);
      node.content = { kind: 'upper', file: path };
      this.#retire(node.ino);
    } else {
      await this.ensureUpper(node, signal);
      await this.#withFd(node, signal, (fd) => ftruncateAsync(fd, size));
    }
    node.size = size;
  }

  /** Copies base content into a backing file once (single-flight per inode). */
  ensureUpper(node: WNode, signal: AbortSignal): Promise<void> {
    if (node.content.kind === 'upper') return Promise.resolve();
    if (node.content.kind !== 'base') return fail('EIO');
    let p = this.#copying.get(node.ino);
    if (!p) {
      p = this.#copyUp(node, signal).finally(() => this.#copying.delete(node.ino));
      this.#copying.set(node.ino, p);
    }
    return p;
  }

  async #copyUp(node: WNode, signal: AbortSignal): Promise<void> {
    const c = node.content;
    if (c.kind !== 'base') return;
    this.hydrations++;
    const source = await this.#o.blobs.ensure(c.oid, node.size, signal);
    const file = await this.#o.store.copyUp(node.ino, source);
    if (node.content !== c) { // changed meanwhile (truncated to zero): our copy is not wanted
      await this.#o.store.release(file);
      return;
    }
    node.content = { kind: 'upper', file };
    this.#retire(node.ino);
    try {
      this.#o.persist(node);
    } catch (err) {
      node.content = c;
      await this.#o.store.release(file);
      throw err;
    }
  }

  /** fsync(2): file data, then the store's durable point for the row. */
  async sync(node: WNode, signal: AbortSignal): Promise<void> {
    if (node.content.kind === 'upper') await this.#withFd(node, signal, (fd) => fdatasyncAsync(fd));
    await this.#o.store.sync(node.ino);
  }

  /** Closes the node's descriptor when no handle needs it any more. */
  closeIdle(node: WNode): void {
    if (node.openCount === 0) this.#retire(node.ino);
  }

  async closeAll(): Promise<void> {
    for (const ino of [...this.#slots.keys()]) this.#retire(ino);
    await Promise.resolve();
  }
}
