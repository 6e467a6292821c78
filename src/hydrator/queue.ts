// The queue of blobs waiting for background hydration, keyed by oid: one entry per blob however
// often it is pushed. Bucketed by priority class (see priority.ts), each bucket an indexed binary
// min-heap, so push, upgrade, delete and take are O(log n) and a 100k-entry queue costs one
// small object per blob. Within a bucket: smaller blobs first, unknown sizes (-1) after all
// known ones, then first-pushed first.

import type { Oid } from '../model/ids.js';
import { isPriority, PRIORITY_COUNT, type Priority } from './priority.js';

/** What takeBatch() counts for a blob of unknown size against its byte budget. */
export const UNKNOWN_SIZE_ESTIMATE = 64 * 1024;

export interface QueuedBlob {
  readonly oid: Oid;
  /** Content size in bytes, -1 when unknown. */
  readonly size: number;
  readonly priority: Priority;
}

interface Entry {
  readonly oid: Oid;
  size: number;
  priority: Priority;
  /** Push order, the last tie-breaker. */
  readonly seq: number;
  /** Position in #heaps[priority]. */
  index: number;
}

/** Smaller sorts first. */
function before(a: Entry, b: Entry): boolean {
  const sa = a.size < 0 ? Infinity : a.size;
  const sb = b.size < 0 ? Infinity : b.size;
  return sa !== sb ? sa < sb : a.seq < b.seq;
}

export class BlobQueue {
  // INVARIANT: every entry of #entries sits in exactly one heap, #heaps[entry.priority], at
  // position entry.index, and the heaps hold nothing else.
  // INVARIANT: each heap is a binary min-heap under before(): no child sorts before its parent.
  readonly #entries = new Map<Oid, Entry>();
  readonly #heaps: Entry[][] = Array.from({ length: PRIORITY_COUNT }, () => []);
  #seq = 0;

  get size(): number {
    return this.#entries.size;
  }

  has(oid: Oid): boolean {
    return this.#entries.has(oid);
  }

  priorityOf(oid: Oid): Priority | undefined {
    return this.#entries.get(oid)?.priority;
  }

  /** The best priority queued, or undefined when empty. */
  bestPriority(): Priority | undefined {
    const p = this.#heaps.findIndex((h) => h.length > 0);
    return p < 0 ? undefined : (p as Priority);
  }

  /**
   * Queues a blob. Already queued: only moves it to a better priority (and learns its size if it
   * was unknown). Returns true when the queue changed.
   */
  push(oid: Oid, size: number, priority: Priority): boolean {
    if (!isPriority(priority)) throw new RangeError(`bad priority ${priority}`);
    const entry = this.#entries.get(oid);
    if (entry === undefined) {
      const e: Entry = { oid, size, priority, seq: this.#seq++, index: 0 };
      this.#entries.set(oid, e);
      this.#insert(e);
      return true;
    }
    const learnSize = entry.size < 0 && size >= 0;
    if (!learnSize && priority >= entry.priority) return false;
    this.#remove(entry);
    if (learnSize) entry.size = size;
    if (priority < entry.priority) entry.priority = priority;
    this.#insert(entry);
    return true;
  }

  /** Moves a queued blob to `priority` if that is better. Returns true when it moved. */
  upgrade(oid: Oid, priority: Priority): boolean {
    const entry = this.#entries.get(oid);
    if (entry === undefined || priority >= entry.priority) return false;
    if (!isPriority(priority)) throw new RangeError(`bad priority ${priority}`);
    this.#remove(entry);
    entry.priority = priority;
    this.#insert(entry);
    return true;
  }

  delete(oid: Oid): boolean {
    const entry = this.#entries.get(oid);
    if (entry === undefined) return false;
    this.#remove(entry);
    this.#entries.delete(oid);
    return true;
  }

  clear(): void {
    this.#entries.clear();
    for (const heap of this.#heaps) heap.length = 0;
  }

  /** takeBatchEntries() without the sizes. */
  takeBatch(maxBlobs: number, maxBytes: number): Oid[] {
    return this.takeBatchEntries(maxBlobs, maxBytes).map((b) => b.oid);
  }

  /**
   * Removes and returns up to `maxBlobs` blobs, best priority first (a batch may mix classes),
   * stopping before the first blob that would take the batch over `maxBytes`. The first blob is
   * always taken, however large, so a huge blob cannot block the queue.
   */
  takeBatchEntries(maxBlobs: number, maxBytes: number): QueuedBlob[] {
    const out: QueuedBlob[] = [];
    let bytes = 0;
    for (const heap of this.#heaps) {
      while (out.length < maxBlobs) {
        const top = heap[0];
        if (top === undefined) break;
        const cost = top.size < 0 ? UNKNOWN_SIZE_ESTIMATE : top.size;
        if (out.length > 0 && bytes + cost > maxBytes) return out;
        bytes += cost;
        this.#remove(top);
        this.#entries.delete(top.oid);
        out.push({ oid: top.oid, size: top.size, priority: top.priority });
      }
      if (out.length >= maxBlobs) break;
    }
    return out;
  }

  /** Throws if an invariant is broken; for tests. */
  checkInvariants(): void {
    let total = 0;
    this.#heaps.forEach((heap, p) => {
      total += heap.length;
      heap.forEach((e, i) => {
        if (e.priority !== p || e.index !== i) throw new Error(`queue: ${e.oid} misplaced (p${e.priority}@${e.index}, found p${p}@${i})`);
        if (this.#entries.get(e.oid) !== e) throw new Error(`queue: ${e.oid} in a heap but not in the map`);
        const parent = heap[(i - 1) >> 1];
        if (i > 0 && parent !== undefined && before(e, parent)) throw new Error(`queue: heap order broken at p${p}@${i}`);
      });
    });
    if (total !== this.#entries.size) throw new Error(`queue: ${total} heap slots for ${this.#entries.size} entries`);
  }

  #insert(e: Entry): void {
    const heap = this.#heaps[e.priority]!;
    e.index = heap.length;
    heap.push(e);
    this.#siftUp(heap, e.index);
  }

  #remove(e: Entry): void {
    const heap = this.#heaps[e.priority]!;
    const last = heap.pop()!;
    if (last === e) return;
    heap[e.index] = last;
    last.index = e.index;
    this.#siftUp(heap, last.index);
    this.#siftDown(heap, last.index);
  }

  #siftUp(heap: Entry[], i: number): void {
    const e = heap[i]!;
    while (i > 0) {
      const pi = (i - 1) >> 1;
      const parent = heap[pi]!;
      if (!before(e, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = pi;
    }
    heap[i] = e;
    e.index = i;
  }

  #siftDown(heap: Entry[], i: number): void {
    const e = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
      const c = heap[child]!;
      if (!before(c, e)) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = e;
    e.index = i;
  }
}
