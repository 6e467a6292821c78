// One Source per mounted repository: where its blobs are fetched from (its BlobFetcher) and the
// work waiting for that fetcher: the background queue, retry groups in backoff, and explicit
// reads waiting for a foreground slot. The Hydrator schedules across sources.

import type { Oid } from '../model/ids.js';
import type { BlobTask } from './flights.js';
import type { BlobFetcher } from './ports.js';
import type { Priority } from './priority.js';
import { BlobQueue } from './queue.js';

/** The handle a repository holds; obtained from Hydrator.addSource(). */
export interface Source {
  readonly id: string;
  readonly closed: boolean;
  /**
   * Drops this source's queued and retrying work and rejects its readers that are still waiting
   * (code 'closed'); resolves once its running batches have settled (each is bounded by its own
   * timeout). Idempotent.
   */
  close(): Promise<void>;
}

/** Blobs of a failed background batch that go back to the fetcher together, after a delay. */
export interface RetryGroup {
  readonly tasks: readonly BlobTask[];
  readonly priority: Priority;
}

export interface SourceHooks {
  /** Work became due (a retry group's backoff ended). */
  wake(): void;
  /** The Source.close() implementation, run once. */
  close(source: SourceState): Promise<void>;
}

export class SourceState implements Source {
  readonly id: string;
  readonly fetcher: BlobFetcher;
  readonly queue = new BlobQueue();
  // INVARIANT: fgPending holds exactly the tasks with fg === 'pending' && fgSource === this.
  readonly fgPending = new Map<Oid, BlobTask>();
  /** Consecutive failed background batches; a success resets it. */
  failures = 0;
  /** No background batch starts before this time (ms epoch): backoff after failures. */
  pausedUntil = 0;
  /** Running batches (both kinds) using this fetcher. */
  running = 0;
  readonly #hooks: SourceHooks;
  // INVARIANT: #retryTimers has one live timer per group in backoff; #retryWaiting counts their blobs.
  readonly #retryTimers = new Map<NodeJS.Timeout, RetryGroup>();
  #retryWaiting = 0;
  readonly #retryReady: RetryGroup[] = [];
  #closing: Promise<void> | undefined;
  readonly #drainWaiters: Array<() => void> = [];

  constructor(id: string, fetcher: BlobFetcher, hooks: SourceHooks) {
    this.id = id;
    this.fetcher = fetcher;
    this.#hooks = hooks;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  close(): Promise<void> {
    this.#closing ??= this.#hooks.close(this);
    return this.#closing;
  }

  /** Resolves when no batch of this source is running (each is bounded by its timeout). */
  drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  checkDrained(): void {
    if (this.running === 0) for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  /** Blobs waiting here for background work: queued plus in retry groups. */
  get backgroundCount(): number {
    let n = this.queue.size + this.#retryWaiting;
    for (const g of this.#retryReady) n += g.tasks.length;
    return n;
  }

  /** Priority of the next background batch, or undefined when there is none due. */
  nextPriority(): Priority | undefined {
    const retry = this.#retryReady[0]?.priority;
    const queued = this.queue.bestPriority();
    if (retry === undefined) return queued;
    return queued === undefined || retry <= queued ? retry : queued;
  }

  /** The due retry group when it comes before the queue's best, else undefined. */
  takeRetryGroup(): RetryGroup | undefined {
    const queued = this.queue.bestPriority();
    const head = this.#retryReady[0];
    if (head === undefined || (queued !== undefined && queued < head.priority)) return undefined;
    return this.#retryReady.shift();
  }

  scheduleRetry(group: RetryGroup, delayMs: number): void {
    if (delayMs <= 0) {
      this.#retryReady.push(group);
      return;
    }
    this.#retryWaiting += group.tasks.length;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.#retryWaiting -= group.tasks.length;
      this.#retryReady.push(group);
      this.#hooks.wake();
    }, delayMs);
    this.#retryTimers.set(timer, group);
  }

  /** Every task in a retry group, due or not (for dropping them on close). */
  retryTasks(): BlobTask[] {
    const out: BlobTask[] = [];
    for (const g of [...this.#retryReady, ...this.#retryTimers.values()]) out.push(...g.tasks);
    return out;
  }

  /** Drops all background work and its timers (foreground work is the hydrator's to settle). */
  clearBackground(): void {
    for (const timer of this.#retryTimers.keys()) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#retryWaiting = 0;
    this.#retryReady.length = 0;
    this.queue.clear();
  }

  checkInvariants(): void {
    this.queue.checkInvariants();
    let waiting = 0;
    for (const g of this.#retryTimers.values()) waiting += g.tasks.length;
    if (waiting !== this.#retryWaiting) throw new Error(`source ${this.id}: retry count ${this.#retryWaiting} != ${waiting}`);
    for (const [oid, task] of this.fgPending) {
      if (task.oid !== oid || task.fg !== 'pending' || task.fgSource !== this || task.done) {
        throw new Error(`source ${this.id}: bad foreground entry ${oid}`);
      }
    }
    if (this.running < 0) throw new Error(`source ${this.id}: negative running count`);
  }
}
