// Single flight per blob: one BlobTask per oid that something is waiting for or working on,
// shared by every source and every reader, so concurrent readers of one blob cause one fetch.
// A blob that is merely queued for background hydration has no task (the queue entry is enough);
// a task appears when a reader waits for it or a batch carries it, and disappears when the blob
// is stored, given up, or nobody wants it any more.

import type { Oid } from '../model/ids.js';
import { HydrationAbortedError, HydrationFailedError } from './errors.js';
import type { Priority } from './priority.js';

/**
 * Foreground (explicit read) progress: 'pending' = waiting in its source's foreground list for a
 * slot, 'inflight' = in a running foreground batch, 'backoff' = waiting to retry.
 */
export type ForegroundState = 'idle' | 'pending' | 'inflight' | 'backoff';
/** Background progress: in a running background batch, or in a retry group of bgSource. */
export type BackgroundState = 'none' | 'inflight' | 'retry';

/** Who may be told the outcome; `source` is the opaque owner used to reject on source close. */
export interface Waiter {
  readonly source: object;
  /** Settles the waiter once; later calls are ignored. */
  settle(err: Error | undefined, path?: string): void;
}

export class BlobTask {
  readonly oid: Oid;
  /** Content size, -1 when unknown. */
  size: number;
  readonly waiters = new Set<Waiter>();
  /** Failed fetch attempts charged to this blob (drives the backoff). */
  attempts = 0;
  /**
   * Failures that were certainly this blob's own: alone in its batch, or its delivery was bad.
   * Only these count towards giving up, so a blob is never given up for a neighbour's fault.
   */
  soloFailures = 0;
  lastError: unknown = undefined;
  fg: ForegroundState = 'idle';
  /** The source whose fetcher the foreground fetch uses (set while fg is 'pending'). */
  fgSource: object | undefined = undefined;
  /** Once it failed in a multi-blob foreground batch it is retried alone, so a bad blob cannot fail its neighbours. */
  fgAlone = false;
  fgTimer: NodeJS.Timeout | undefined = undefined;
  bg: BackgroundState = 'none';
  bgSource: object | undefined = undefined;
  /** Its background class, kept while background work on it is pending or suspended. */
  bgPriority: Priority | undefined = undefined;
  /**
   * A source whose background queue gets the blob back if the task leaves the table unfinished
   * (a read took over its background retry, then the reader went away).
   */
  returnTo: object | undefined = undefined;
  /** Running batches (foreground and background) that carry this blob. */
  batches = 0;
  /** Stored or given up: the task is out of the table and must not be touched again. */
  done = false;

  constructor(oid: Oid, size: number) {
    this.oid = oid;
    this.size = size;
  }

  /** Nothing waits for it and nothing works on it: it can leave the table. */
  get idle(): boolean {
    return this.waiters.size === 0 && this.fg === 'idle' && this.bg === 'none' && this.batches === 0;
  }
}

export interface WaitOptions {
  source: object;
  signal: AbortSignal | undefined;
  deadlineMs: number;
  /** Called after the waiter left by abort or deadline (not when settled by the table). */
  onLeave: (task: BlobTask) => void;
}

export class FlightTable {
  // INVARIANT: a task is in #tasks under its own oid iff !task.done.
  readonly #tasks = new Map<Oid, BlobTask>();

  get size(): number {
    return this.#tasks.size;
  }

  get(oid: Oid): BlobTask | undefined {
    return this.#tasks.get(oid);
  }

  getOrCreate(oid: Oid, size: number): BlobTask {
    let task = this.#tasks.get(oid);
    if (task === undefined) {
      task = new BlobTask(oid, size);
      this.#tasks.set(oid, task);
    } else if (task.size < 0 && size >= 0) {
      task.size = size;
    }
    return task;
  }

  values(): IterableIterator<BlobTask> {
    return this.#tasks.values();
  }

  /**
   * Adds a waiter to the task. It leaves with code 'aborted' when `signal` aborts and with
   * 'hydration-failed' (cause: the last failure seen) when the deadline passes first.
   */
  wait(task: BlobTask, options: WaitOptions): { promise: Promise<string>; waiter: Waiter } {
    let waiter!: Waiter;
    const promise = new Promise<string>((resolve, reject) => {
      let settled = false;
      const { signal } = options;
      const settle = (err: Error | undefined, path?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        task.waiters.delete(waiter);
        if (err !== undefined) reject(err);
        else resolve(path!);
      };
      const leave = (err: Error): void => {
        settle(err);
        options.onLeave(task);
      };
      const onAbort = (): void => leave(new HydrationAbortedError(task.oid, signal?.reason));
      const timer = setTimeout(() => leave(new HydrationFailedError(task.oid,
        `not available within the read deadline of ${options.deadlineMs} ms`, task.lastError)), options.deadlineMs);
      waiter = { source: options.source, settle };
      task.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return { promise, waiter };
  }

  /** Settles every waiter (err undefined: success with `path`) and removes the task. */
  finish(task: BlobTask, err: Error | undefined, path?: string): void {
    this.remove(task);
    for (const w of [...task.waiters]) w.settle(err, path);
  }

  /** Removes the task from the table (it must have no waiters or be finishing). */
  remove(task: BlobTask): void {
    if (task.done) return;
    task.done = true;
    clearTimeout(task.fgTimer);
    task.fgTimer = undefined;
    if (this.#tasks.get(task.oid) === task) this.#tasks.delete(task.oid);
  }

  checkInvariants(): void {
    for (const [oid, task] of this.#tasks) {
      if (task.oid !== oid || task.done) throw new Error(`flights: bad task under ${oid}`);
      if (task.idle) throw new Error(`flights: idle task ${oid} left in the table`);
      if ((task.fg === 'backoff') !== (task.fgTimer !== undefined)) throw new Error(`flights: ${oid} fg ${task.fg} with timer mismatch`);
      if ((task.bg === 'none') !== (task.bgSource === undefined)) throw new Error(`flights: ${oid} bg ${task.bg} without source`);
      if (task.batches < 0) throw new Error(`flights: ${oid} negative batch count`);
    }
  }
}
