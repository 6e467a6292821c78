// Waiting with a way out: every wait in gitstore ends on its own signal or a timeout.

/** Resolves like `p`, but rejects with the signal's reason as soon as `signal` aborts. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** `signal` combined with a timeout; `timedOut()` tells which one fired. */
/** One bounded exchange with a remote: its signal and whether the bound (not the caller) ended it. */
export interface Exchange {
  signal: AbortSignal;
  timedOut: () => boolean;
}

export function withTimeout(timeoutMs: number, signal?: AbortSignal): Exchange {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  return { signal: combined, timedOut: () => timeout.aborted && !(signal?.aborted ?? false) };
}
