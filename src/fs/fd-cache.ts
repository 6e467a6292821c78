// Open file descriptors of cached blobs, by node: reads arrive by node id (no OPEN), so the
// descriptor is opened on first read and kept, up to MAX_OPEN_FDS, least recently used first out.
// A descriptor in use by a read is never closed under it.

import { close, open } from 'node:fs';
import { promisify } from 'node:util';
import type { SnapNode } from '../snapshot/snapshot.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);

/** Descriptors kept open at most (far below any sane RLIMIT_NOFILE). */
export const MAX_OPEN_FDS = 256;

interface Slot {
  fd: Promise<number>;
  users: number;
}

export class FdCache {
  // INVARIANT: every slot's fd is open until the slot leaves #slots with users === 0.
  readonly #slots = new Map<number, Slot>();
  readonly #ensure: (n: SnapNode, signal: AbortSignal) => Promise<string>;

  constructor(ensure: (n: SnapNode, signal: AbortSignal) => Promise<string>) {
    this.#ensure = ensure;
  }

  async withFd<T>(n: SnapNode, signal: AbortSignal, use: (fd: number) => Promise<T>): Promise<T> {
    let slot = this.#slots.get(n.ino);
    if (slot) {
      this.#slots.delete(n.ino); // re-insert: most recently used last
    } else {
      const fd = this.#ensure(n, signal).then((path) => openAsync(path, 'r'));
      slot = { fd, users: 0 };
      fd.catch(() => { if (this.#slots.get(n.ino) === slot) this.#slots.delete(n.ino); });
    }
    this.#slots.set(n.ino, slot);
    slot.users++;
    try {
      return await use(await slot.fd);
    } finally {
      slot.users--;
      this.#trim();
    }
  }

  #trim(): void {
    for (const [ino, slot] of this.#slots) {
      if (this.#slots.size <= MAX_OPEN_FDS) return;
      if (slot.users > 0) continue;
      this.#slots.delete(ino);
      slot.fd.then((fd) => closeAsync(fd), () => {}).catch(() => {});
    }
  }

  async closeAll(): Promise<void> {
    const slots = [...this.#slots.values()];
    this.#slots.clear();
    await Promise.all(slots.map((s) => s.fd.then((fd) => closeAsync(fd), () => {}).catch(() => {})));
  }
}
