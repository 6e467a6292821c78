// Retry policy: bounded attempts per blob, exponential backoff between them.

/** Defaults for HydratorOptions.retry. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

export interface RetryOptions {
  /** Fetch attempts per blob before it is given up (hydration-failed). Default 5. */
  attempts?: number;
  /** Delay after the first failure, in ms; doubles per further failure. Default 200. */
  baseDelayMs?: number;
  /** Cap of the delay, in ms. Default 5000. */
  maxDelayMs?: number;
}

/**
 * Delay before the next attempt after `failures` consecutive failures (>= 1): base · 2^(n-1),
 * capped, with "equal jitter" (between half and all of it) so that blobs that failed together
 * and sources that failed together do not retry in lockstep.
 */
export function backoffDelay(failures: number, retry: Readonly<Required<RetryOptions>>): number {
  const full = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return full / 2 + Math.random() * (full / 2);
}
