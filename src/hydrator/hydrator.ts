// The hydrator: gets blobs into the shared BlobCache, on demand (ensure) and in the background
// (enqueue), through each repository's BlobFetcher, many blobs per fetch.
//
// Capacity. Foreground (explicit reads) and background batches have separate slots:
// `foregroundConcurrency` foreground batches and `concurrency` background batches may run at
// once. A read never waits behind background work: limiting background to concurrency-1 only
// while reads wait cannot pre-empt batches already running, and one 64 MiB batch can take
// seconds. The price is up to concurrency + foregroundConcurrency requests at once against a
// remote. Reads arriving while a foreground slot is free go out on the next turn of the event
// loop (setImmediate), together with every read pending by then (coalesced, per source); reads
// arriving while the slots are busy pile up and leave together in the next foreground batch.
// A blob already in flight in a background batch is fetched again in the foreground when read:
// the cache tolerates concurrent writers of one oid, and the read must not wait for the rest of a
// large batch.
//
// Failures. Every undelivered blob of a failed batch is charged one attempt, except when the
// batch died on a corrupt delivery: then only that blob is charged and the others go back at
// once, uncharged (the server is fine). Foreground retries go alone, after a backoff;
// background retries go in halved groups (see scheduling.ts) and a source whose background batch
// failed pauses its background work for a backoff. A blob is given up (waiters get
// 'hydration-failed', stats.failedBlobs counts it) once it has failed `retry.attempts` times on
// its own (alone in its batch, or its own delivery was corrupt): failures shared with neighbours
// only grow its backoff, so a bad blob never takes good ones down with it. Each reader also has
// its own deadline (readDeadlineMs), so reads fail in bounded time even while background work
// keeps trying through an outage (paced by the per-source backoff).
//
// Lifecycle: 'open' → close() → 'closing' (queued work dropped, readers of blobs not in flight
// rejected with 'closed', running batches drain) → 'closed'; destroy(err) at any time →
// 'destroyed' (fetches aborted, every reader rejected). Both idempotent.

import type { Oid } from '../model/ids.js';
import type { BlobCache } from './blob-cache.js';
import type { BatchOutcome } from './batch.js';
import { Dispatcher, type RunningBatch } from './dispatcher.js';
import { HydrationAbortedError, HydrationFailedError, HydratorClosedError } from './errors.js';
import { type BlobTask, FlightTable } from './flights.js';
import { HydratorLifecycle, type HydratorState } from './lifecycle.js';
import { describeError, type EnqueueItem, type HydratorConfig, type HydratorLog, type HydratorOptions,
  type HydratorStats, resolveOptions, stderrLog } from './options.js';
import type { BlobFetcher } from './ports.js';
import { classify, PRIORITY } from './priority.js';
import { backoffDelay } from './retry.js';
import { retryGroups } from './scheduling.js';
import { type Source, SourceState } from './source.js';

export {
  DEFAULT_BATCH_MAX_BLOBS, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_TIMEOUT_MS, DEFAULT_CONCURRENCY,
  DEFAULT_FOREGROUND_BATCH_MAX_BLOBS, DEFAULT_FOREGROUND_CONCURRENCY, DEFAULT_READ_DEADLINE_MS,
  type EnqueueItem, type HydratorLog, type HydratorLogLevel, type HydratorOptions, type HydratorStats,
} from './options.js';
export type { HydratorState } from './lifecycle.js';
export type { Source };
/** The same handle as Source, under the name the daemon uses. */
export type HydrationSource = Source;

export class Hydrator {
  readonly #cache: BlobCache;
  readonly #cfg: HydratorConfig;
  readonly #log: HydratorLog;
  readonly #life = new HydratorLifecycle();
  // INVARIANT: #sources holds exactly the open sources, by id.
  readonly #sources = new Map<string, SourceState>();
  readonly #mine = new WeakSet<SourceState>();
  // INVARIANT: a blob has a task in #flights iff a reader waits for it, a batch carries it, or
  // it is pending or backing off in the foreground or in a background retry group; a stored or
  // given-up blob has none (BlobTask.idle is false for every task in the table).
  readonly #flights = new FlightTable();
  readonly #dispatch: Dispatcher;
  readonly #counters = { hydratedBlobs: 0, hydratedBytes: 0, failedBlobs: 0 };

  constructor(options: HydratorOptions) {
    this.#cache = options.cache;
    this.#cfg = resolveOptions(options);
    this.#log = options.log ?? stderrLog;
    this.#dispatch = new Dispatcher({
      cfg: this.#cfg, cache: this.#cache, life: this.#life, sources: this.#sources, flights: this.#flights, log: this.#log,
      onStored: (oid, size, path) => this.#onStored(oid, size, path),
      onSettled: (batch, outcome) => this.#onSettled(batch, outcome),
      afterPump: () => this.#checkIdle(),
    });
  }

  get state(): HydratorState {
    return this.#life.state;
  }

  /** Registers a repository's fetcher. Ids are unique among open sources. */
  addSource(id: string, fetcher: BlobFetcher): Source {
    if (this.#life.state !== 'open') throw new HydratorClosedError('hydrator');
    if (this.#sources.has(id)) throw new Error(`hydrator: source ${JSON.stringify(id)} already exists`);
    const source = new SourceState(id, fetcher, {
      wake: () => this.#dispatch.schedule(),
      close: (s) => this.#closeSource(s),
    });
    this.#sources.set(id, source);
    this.#mine.add(source);
    return source;
  }

  /**
   * The cache path of the blob, fetching it first if needed, ahead of all background work.
   * Rejects with code 'hydration-failed' (retries used up, or readDeadlineMs passed; `cause` is
   * the last failure), 'aborted' (signal; the fetch goes on for other readers) or 'closed'.
   */
  async ensure(source: Source, oid: Oid, size: number, signal?: AbortSignal): Promise<string> {
    const s = this.#own(source);
    // Memory only: the cache was scanned at open and this process is its only writer (daemon
    // lock); a blob another process added since is fetched again, which the cache tolerates.
    if (this.#cache.isKnown(oid)) return this.#cache.pathOf(oid);
    if (this.#life.state !== 'open') throw new HydratorClosedError('hydrator', oid);
    if (s.closed) throw new HydratorClosedError(`source ${s.id}`, oid);
    if (signal?.aborted) throw new HydrationAbortedError(oid, signal.reason);
    const task = this.#flights.getOrCreate(oid, size);
    const { promise } = this.#flights.wait(task, {
      source: s, signal, deadlineMs: this.#cfg.readDeadlineMs, onLeave: (t) => this.#onWaiterLeft(t),
    });
    if (task.fg === 'idle') this.#pendForeground(task);
    return promise;
  }

  /** Queues blobs for background hydration in classification order; returns how many changed the queue. */
  enqueue(source: Source, items: Iterable<EnqueueItem>): number {
    const s = this.#own(source);
    if (this.#life.state !== 'open' || s.closed) return 0;
    let changed = 0;
    for (const item of items) {
      if (this.#cache.isKnown(item.oid)) continue;
      if (s.queue.push(item.oid, item.size, classify(item.path, item.size))) changed++;
    }
    if (changed > 0) this.#dispatch.schedule();
    return changed;
  }

  /**
   * Moves queued blobs to the 'nudged' class (their directory was listed); returns how many
   * moved. Blobs not queued in this source (cached, in flight, never enqueued) are ignored.
   */
  nudge(source: Source, oids: Iterable<Oid>): number {
    const s = this.#own(source);
    let moved = 0;
    for (const oid of oids) if (s.queue.upgrade(oid, PRIORITY.nudged)) moved++;
    if (moved > 0) this.#dispatch.schedule();
    return moved;
  }

  stats(): HydratorStats {
    let queued = 0;
    for (const s of this.#sources.values()) queued += s.backgroundCount + s.fgPending.size;
    let inflight = 0;
    for (const b of this.#dispatch.running) inflight += b.tasks.length;
    return { queued, inflight, ...this.#counters, fetchBatches: this.#dispatch.fetchBatches };
  }

  /** Resolves when nothing is queued, retrying or in flight; rejects on destroy or `signal`. */
  whenIdle(signal?: AbortSignal): Promise<void> {
    return this.#life.whenIdle(() => this.#isIdle(), signal);
  }

  /** Stops taking work, rejects readers of blobs not in flight, waits for running batches. */
  close(): Promise<void> {
    return this.#life.close(() => {
      this.#dropWork((oid) => new HydratorClosedError('hydrator', oid));
      return this.#life.drained(() => this.#dispatch.running.size === 0);
    });
  }

  /** Aborts running fetches and rejects every reader (code 'closed', cause `err`). */
  destroy(err?: Error): Promise<void> {
    return this.#life.destroy(err, () => {
      const closed = (oid: Oid): Error => new HydratorClosedError('hydrator', oid, err);
      this.#dropWork(closed);
      for (const task of [...this.#flights.values()]) this.#flights.finish(task, closed(task.oid));
      return this.#life.drained(() => this.#dispatch.running.size === 0);
    });
  }

  checkInvariants(): void {
    this.#flights.checkInvariants();
    this.#dispatch.checkInvariants();
    for (const s of this.#sources.values()) s.checkInvariants();
    const carried = new Map<BlobTask, number>();
    for (const b of this.#dispatch.running) for (const t of b.tasks) carried.set(t, (carried.get(t) ?? 0) + 1);
    for (const t of this.#flights.values()) {
      if (t.batches !== (carried.get(t) ?? 0)) throw new Error(`hydrator: ${t.oid} counts ${t.batches} batches, ${carried.get(t) ?? 0} carry it`);
      if (t.fg === 'pending' && (t.fgSource as SourceState).fgPending.get(t.oid) !== t) {
        throw new Error(`hydrator: ${t.oid} pending but not in its source's foreground list`);
      }
      for (const w of t.waiters) {
        if ((w.source as SourceState).closed) throw new Error(`hydrator: ${t.oid} has a waiter of a closed source`);
      }
    }
    if (this.#life.state !== 'open' && this.stats().queued !== 0) throw new Error('hydrator: queued work after close');
  }

  // --- foreground -------------------------------------------------------------------------------

  /** Puts the blob in the foreground list of its first reader's (open) source. */
  #pendForeground(task: BlobTask): void {
    let source: SourceState | undefined;
    for (const w of task.waiters) {
      const s = w.source as SourceState;
      if (!s.closed) { source = s; break; }
    }
    if (source === undefined) return this.#dropIfIdle(task);
    task.fg = 'pending';
    task.fgSource = source;
    source.fgPending.set(task.oid, task);
    this.#dispatch.schedule();
  }

  #retryForeground(task: BlobTask, delayMs: number): void {
    if (delayMs <= 0) return this.#pendForeground(task);
    task.fg = 'backoff';
    task.fgTimer = setTimeout(() => {
      task.fgTimer = undefined;
      task.fg = 'idle';
      if (task.waiters.size > 0) this.#pendForeground(task);
      else this.#dropIfIdle(task);
      this.#checkIdle();
    }, delayMs);
  }

  /** Takes back a foreground fetch not yet started (pending or in backoff). */
  #unpendForeground(task: BlobTask): void {
    if (task.fg !== 'pending' && task.fg !== 'backoff') return;
    if (task.fg === 'pending') (task.fgSource as SourceState).fgPending.delete(task.oid);
    clearTimeout(task.fgTimer);
    task.fgTimer = undefined;
    task.fgSource = undefined;
    task.fg = 'idle';
  }

  #onWaiterLeft(task: BlobTask): void {
    if (task.done || task.waiters.size > 0) return;
    this.#unpendForeground(task);
    this.#dropIfIdle(task);
    this.#checkIdle();
  }

  // --- outcomes ---------------------------------------------------------------------------------

  #onStored(oid: Oid, size: number, path: string): void {
    const task = this.#flights.get(oid);
    if (task === undefined) return; // a second copy of a blob another batch stored first
    this.#counters.hydratedBlobs++;
    this.#counters.hydratedBytes += size;
    for (const s of this.#sources.values()) s.queue.delete(oid);
    this.#unpendForeground(task);
    this.#flights.finish(task, undefined, path);
  }

  #onSettled(batch: RunningBatch, outcome: BatchOutcome): void {
    const undelivered: BlobTask[] = [];
    for (const t of batch.tasks) {
      if (t.done) continue;
      if (batch.kind === 'foreground') t.fg = 'idle';
      else { t.bg = 'none'; t.bgSource = undefined; }
      undelivered.push(t);
    }
    if (batch.kind === 'background') this.#pace(batch.source, outcome, undelivered.length);
    if (undelivered.length === 0) return;
    this.#log('debug', `${batch.kind} batch of ${batch.tasks.length} from ${batch.source.id}: ` +
      `${undelivered.length} undelivered (${describeError(outcome.error)})`);
    this.#handleUndelivered(batch, outcome, undelivered);
  }

  /** Background pacing: a failed batch pauses its source for a backoff; a clean one resets it. */
  #pace(source: SourceState, outcome: BatchOutcome, undelivered: number): void {
    if (undelivered === 0) source.failures = 0;
    else if (outcome.blamed.size === 0) {
      source.failures++;
      source.pausedUntil = Date.now() + backoffDelay(source.failures, this.#cfg.retry);
    }
  }

  #handleUndelivered(batch: RunningBatch, outcome: BatchOutcome, undelivered: BlobTask[]): void {
    const cause = outcome.error ?? new Error('the fetcher resolved without delivering the blob');
    const charged: BlobTask[] = [];
    const free: BlobTask[] = [];
    for (const t of undelivered) {
      const blamed = outcome.blamed.size === 0 || outcome.blamed.has(t.oid);
      if (blamed) {
        t.attempts++;
        if (batch.tasks.length === 1 || outcome.blamed.has(t.oid)) t.soloFailures++;
        t.lastError = outcome.blamed.get(t.oid) ?? cause;
        if (batch.kind === 'foreground' && batch.tasks.length > 1) t.fgAlone = true;
      }
      if (this.#life.state !== 'open') {
        this.#flights.finish(t, new HydratorClosedError('hydrator', t.oid, t.lastError));
      } else if (this.#continueAfterFailure(t, blamed, batch) && batch.kind === 'background') {
        (blamed ? charged : free).push(t);
      }
    }
    this.#retryBackground(batch.source, charged, free);
    for (const t of undelivered) this.#dropIfIdle(t);
  }

  /** Gives up, or schedules the reader's retry; true when background should retry it. */
  #continueAfterFailure(t: BlobTask, charged: boolean, batch: RunningBatch): boolean {
    if (t.soloFailures >= this.#cfg.retry.attempts) {
      if (t.batches === 0) this.#giveUp(t);
      return false;
    }
    if (t.waiters.size === 0) return true;
    if (t.fg === 'idle') this.#retryForeground(t, charged ? backoffDelay(t.attempts, this.#cfg.retry) : 0);
    // The read retries it; background gets it back if the reader goes away first.
    if (batch.kind === 'background') t.returnTo = batch.source;
    return false;
  }

  #retryBackground(source: SourceState, charged: BlobTask[], free: BlobTask[]): void {
    if (source.closed || charged.length + free.length === 0) return;
    const { now, later } = retryGroups(charged, free);
    let worst = 0;
    for (const t of charged) worst = Math.max(worst, t.attempts);
    for (const t of [...charged, ...free]) { t.bg = 'retry'; t.bgSource = source; }
    for (const g of now) source.scheduleRetry(g, 0);
    for (const g of later) source.scheduleRetry(g, backoffDelay(worst, this.#cfg.retry));
  }

  #giveUp(t: BlobTask): void {
    const err = new HydrationFailedError(t.oid, `gave up after ${t.attempts} failed attempts (${t.soloFailures} on its own)`, t.lastError);
    this.#counters.failedBlobs++;
    this.#log('warn', `${err.message}: ${describeError(t.lastError)}`);
    for (const s of this.#sources.values()) s.queue.delete(t.oid);
    this.#unpendForeground(t);
    t.returnTo = undefined;
    this.#flights.finish(t, err);
  }

  /** Removes a task nobody needs; its background interest, if any, goes back to the queue. */
  #dropIfIdle(t: BlobTask): void {
    if (t.done || !t.idle) return;
    const back = t.returnTo as SourceState | undefined;
    if (back !== undefined && !back.closed && this.#life.state === 'open' && t.bgPriority !== undefined) {
      back.queue.push(t.oid, t.size, t.bgPriority);
      this.#dispatch.schedule();
    }
    this.#flights.remove(t);
  }

  // --- lifecycle --------------------------------------------------------------------------------

  #own(source: Source): SourceState {
    if (!(source instanceof SourceState) || !this.#mine.has(source)) {
      throw new TypeError('hydrator: source was not created by this hydrator');
    }
    return source;
  }

  #isIdle(): boolean {
    if (this.#dispatch.running.size > 0 || this.#flights.size > 0) return false;
    for (const s of this.#sources.values()) if (s.backgroundCount > 0 || s.fgPending.size > 0) return false;
    return true;
  }

  #checkIdle(): void {
    this.#life.checkIdle(() => this.#isIdle());
  }

  /** Drops all work not in flight; readers of those blobs get `err(oid)`. */
  #dropWork(err: (oid: Oid) => Error): void {
    this.#dispatch.stop();
    for (const s of this.#sources.values()) {
      s.clearBackground();
      s.fgPending.clear();
    }
    for (const t of [...this.#flights.values()]) {
      this.#unpendForeground(t);
      if (t.bg === 'retry') { t.bg = 'none'; t.bgSource = undefined; }
      t.returnTo = undefined;
      if (t.batches === 0) this.#flights.finish(t, err(t.oid));
    }
  }

  /** Source.close(): drops its work, rejects its readers, lets other readers of shared blobs go on. */
  async #closeSource(s: SourceState): Promise<void> {
    if (this.#sources.get(s.id) === s) this.#sources.delete(s.id);
    s.clearBackground();
    s.fgPending.clear();
    for (const t of [...this.#flights.values()]) {
      if (t.fg === 'pending' && t.fgSource === s) { t.fg = 'idle'; t.fgSource = undefined; }
      if (t.bg === 'retry' && t.bgSource === s) { t.bg = 'none'; t.bgSource = undefined; }
      if (t.returnTo === s) t.returnTo = undefined;
      for (const w of [...t.waiters]) if (w.source === s) w.settle(new HydratorClosedError(`source ${s.id}`, t.oid));
      if (t.waiters.size > 0 && t.fg === 'idle') this.#pendForeground(t);
      if (t.waiters.size === 0) this.#unpendForeground(t);
      this.#dropIfIdle(t);
    }
    this.#checkIdle();
    await s.drained();
  }
}
