// The gate behind an async add-repo's mount: requests wait here until the repo is prepared.
//
// States: 'waiting' → open() → 'open' (final), or → fail(reason) → 'failed' → reset() →
// 'waiting' again (a retried preparation). Waiters are released by open() (resolve), fail()
// (FuseError EIO) or their own AbortSignal (FuseError EINTR: the kernel interrupted the request
// because the calling process got a signal). A wait never outlives its request: the session
// aborts every in-flight request's signal when the mount goes away.

import { FuseError } from '../fuse/index.js';

export type GateState = 'waiting' | 'open' | 'failed';

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class ReadyGate {
  #state: GateState = 'waiting';
  #reason = '';
  // INVARIANT: empty unless #state is 'waiting'.
  readonly #waiters = new Set<Waiter>();

  get state(): GateState { return this.#state; }
  /** Why the gate failed ('' unless failed). */
  get reason(): string { return this.#reason; }
  /** Requests waiting now (tests, diagnostics). */
  get waiting(): number { return this.#waiters.size; }

  /**
   * Resolves when the gate opens; rejects FuseError('EIO') when it is (or becomes) failed and
   * FuseError('EINTR') when `signal` fires first.
   */
  wait(signal: AbortSignal): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'failed') return Promise.reject(new FuseError('EIO', this.#reason));
    if (signal.aborted) return Promise.reject(new FuseError('EINTR'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.delete(w);
        reject(new FuseError('EINTR'));
      };
      const w: Waiter = {
        resolve: () => { signal.removeEventListener('abort', onAbort); resolve(); },
        reject: (err) => { signal.removeEventListener('abort', onAbort); reject(err); },
      };
      this.#waiters.add(w);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Releases every waiter; from now on wait() resolves at once. Idempotent; final. */
  open(): void {
    if (this.#state === 'open') return;
    this.#state = 'open';
    this.#reason = '';
    this.#settle((w) => w.resolve());
  }

  /** Fails every waiter and every later wait with EIO until reset(). Ignored once open. */
  fail(reason: string): void {
    if (this.#state === 'open') return;
    this.#state = 'failed';
    this.#reason = reason;
    this.#settle((w) => w.reject(new FuseError('EIO', reason)));
  }

  /** failed → waiting (the preparation is retried). Ignored in any other state. */
  reset(): void {
    if (this.#state !== 'failed') return;
    this.#state = 'waiting';
    this.#reason = '';
  }

  #settle(fn: (w: Waiter) => void): void {
    const all = [...this.#waiters];
    this.#waiters.clear();
    for (const w of all) fn(w);
  }
}
