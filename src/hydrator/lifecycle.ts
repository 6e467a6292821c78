// The hydrator's lifecycle and its waits: 'open' → close() → 'closing' → 'closed', or
// destroy(err) → 'destroyed' from any state. close() drains, destroy() aborts; both idempotent
// and each returns the same promise every time. Drain waits are bounded by the batches' own
// timeouts (and destroy aborts those), so they take no timeout of their own.

import { HydrationAbortedError, HydratorClosedError } from './errors.js';

export type HydratorState = 'open' | 'closing' | 'closed' | 'destroyed';

interface IdleWaiter {
  resolve(): void;
  reject(err: Error): void;
}

export class HydratorLifecycle {
  #state: HydratorState = 'open';
  readonly #abort = new AbortController();
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;
  readonly #drainWaiters = new Set<{ done: () => boolean; resolve: () => void }>();
  readonly #idleWaiters = new Set<IdleWaiter>();

  get state(): HydratorState {
    return this.#state;
  }

  /** Aborted by destroy(): every running fetch listens to it. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Runs `begin` once (it stops intake and returns the drain); later calls get the same promise. */
  close(begin: () => Promise<void>): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#destroying !== undefined) return (this.#closing = this.#destroying);
    this.#state = 'closing';
    this.#closing = begin().then(() => {
      if (this.#state === 'closing') this.#state = 'closed';
      this.checkIdle(() => true);
    });
    return this.#closing;
  }

  destroy(err: Error | undefined, begin: () => Promise<void>): Promise<void> {
    if (this.#destroying !== undefined) return this.#destroying;
    this.#state = 'destroyed';
    this.#abort.abort(err ?? new HydratorClosedError('hydrator'));
    for (const w of this.#idleWaiters) w.reject(new HydratorClosedError('hydrator', undefined, err));
    this.#idleWaiters.clear();
    this.#destroying = begin();
    return this.#destroying;
  }

  /** Resolves once `done()` holds; re-checked by checkDrained(). */
  drained(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.add({ done, resolve }));
  }

  checkDrained(): void {
    for (const w of this.#drainWaiters) {
      if (w.done()) {
        this.#drainWaiters.delete(w);
        w.resolve();
      }
    }
  }

  whenIdle(isIdle: () => boolean, signal: AbortSignal | undefined): Promise<void> {
    if (this.#state === 'destroyed') return Promise.reject(new HydratorClosedError('hydrator'));
    if (signal?.aborted) return Promise.reject(new HydrationAbortedError(undefined, signal.reason));
    if (isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#idleWaiters.delete(waiter);
        reject(new HydrationAbortedError(undefined, signal?.reason));
      };
      const waiter: IdleWaiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(); },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err); },
      };
      this.#idleWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  checkIdle(isIdle: () => boolean): void {
    if (this.#idleWaiters.size === 0 || this.#state === 'destroyed' || !isIdle()) return;
    for (const w of this.#idleWaiters) w.resolve();
    this.#idleWaiters.clear();
  }
}
