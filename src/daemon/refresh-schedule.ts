// When the refresh loop fetches next. Pure functions: the loop (refresh.ts) and its unit test
// share them.

/** Backoff never waits longer than this, unless the repo's own interval is longer. */
export const MAX_BACKOFF_MS = 15 * 60_000;

/** setTimeout fires at once for delays over 2^31-1 ms; longer waits are taken in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Delay after an attempt, given the consecutive failures so far (0: the attempt succeeded):
 * the interval after a success; after n failures interval · 2^n, capped at
 * max(interval, MAX_BACKOFF_MS), less up to 10 % jitter (repos that failed together do not retry
 * in lockstep). Backoff only ever lengthens the wait: a failing remote is never asked more often
 * than its configured interval.
 */
export function refreshDelay(intervalMs: number, failures: number, random: () => number = Math.random): number {
  if (failures <= 0) return intervalMs;
  const full = Math.min(intervalMs * 2 ** Math.min(failures, 30), Math.max(intervalMs, MAX_BACKOFF_MS));
  return Math.max(intervalMs, Math.round(full * (1 - 0.1 * random())));
}

/**
 * Milliseconds from `now` until the next attempt, counted from the end of the last attempt (or
 * the clone, before any): a daemon restart does not postpone an overdue refresh, and a shorter
 * interval set while one is pending takes effect from the last attempt, not from the change.
 * Never negative, never more than the full delay (a clock that jumped back).
 */
export function dueIn(lastAttemptMs: number, intervalMs: number, failures: number, now: number, random?: () => number): number {
  const delay = refreshDelay(intervalMs, failures, random);
  const last = Number.isFinite(lastAttemptMs) ? lastAttemptMs : now;
  return Math.min(delay, Math.max(0, last + delay - now));
}
