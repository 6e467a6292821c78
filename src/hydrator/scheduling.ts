// Pure scheduling decisions of the hydrator, kept apart from its state machine so they can be
// read (and tested) on their own: which source goes next, how big a batch is, how a failed
// batch is retried.

import type { BlobTask } from './flights.js';
import { PRIORITY, type Priority } from './priority.js';
import type { RetryGroup } from './source.js';

/**
 * Smallest background batch. While the queue is short a batch is queue/concurrency blobs, so a
 * 5,000-blob repository goes out as four parallel requests rather than one 2,000-blob request,
 * two more and an idle pipe; this floor keeps the tail of the queue from becoming a string of
 * ever smaller requests, each paying a git process and a round trip (measured: with a floor of
 * 32 the last 1,700 blobs of a 5,470-blob repo took 12 batches).
 */
export const BACKGROUND_MIN_BATCH_BLOBS = 256;

/** How many blobs the next background batch of a source with `queued` blobs may take. */
export function backgroundBatchLimit(queued: number, concurrency: number, maxBlobs: number): number {
  return Math.max(1, Math.min(maxBlobs, Math.max(BACKGROUND_MIN_BATCH_BLOBS, Math.ceil(queued / concurrency))));
}

/**
 * The candidate with the best (lowest) priority; among equals, round-robin by `turn` so one busy
 * repository cannot starve the others.
 */
export function pickByPriority<T>(candidates: readonly T[], priorityOf: (c: T) => number, turn: number): T | undefined {
  let best = Infinity;
  for (const c of candidates) best = Math.min(best, priorityOf(c));
  const tied = candidates.filter((c) => priorityOf(c) === best);
  return tied.length === 0 ? undefined : tied[turn % tied.length];
}

/**
 * The next foreground batch from a source's pending reads, oldest first, up to `max`. A blob
 * marked `fgAlone` (it failed in a shared batch before) goes out alone: when it is at the head it
 * is the whole batch, otherwise it waits for its turn at the head.
 */
export function takeForegroundTasks(pending: ReadonlyMap<unknown, BlobTask>, max: number): BlobTask[] {
  const out: BlobTask[] = [];
  for (const task of pending.values()) {
    if (task.fgAlone) {
      if (out.length === 0) return [task];
      continue;
    }
    out.push(task);
    if (out.length >= max) break;
  }
  return out;
}

/**
 * Retry groups for the undelivered blobs of a failed background batch. Blobs not to blame (the
 * batch died on another blob's bad delivery) go back at once, in one group. Charged blobs are
 * split in two halves that retry separately, after a backoff: a blob that always breaks its
 * batch (say, one the server does not have) is isolated in log2(n) rounds, and since only
 * failures on its own count towards giving a blob up (see Hydrator), its neighbours survive it.
 * The source's own backoff (one pause per failed batch) bounds the request rate meanwhile.
 */
export function retryGroups(charged: readonly BlobTask[], free: readonly BlobTask[]): { now: RetryGroup[]; later: RetryGroup[] } {
  const now = free.length > 0 ? [group(free)] : [];
  if (charged.length === 0) return { now, later: [] };
  const half = Math.ceil(charged.length / 2);
  const parts = charged.length > 1 ? [charged.slice(0, half), charged.slice(half)] : [charged];
  return { now, later: parts.map(group) };
}

function group(tasks: readonly BlobTask[]): RetryGroup {
  let priority = Infinity;
  for (const t of tasks) priority = Math.min(priority, t.bgPriority ?? Infinity);
  return { tasks, priority: Number.isFinite(priority) ? (priority as Priority) : PRIORITY.other };
}
