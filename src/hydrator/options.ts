// Hydrator options (units and defaults documented where declared), the stats it reports, and
// the resolved configuration the rest of the hydrator reads.

import type { BlobCache } from './blob-cache.js';
import type { Oid } from '../model/ids.js';
import { DEFAULT_RETRY, type RetryOptions } from './retry.js';

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_FOREGROUND_CONCURRENCY = 2;
export const DEFAULT_BATCH_MAX_BLOBS = 2000;
export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FOREGROUND_BATCH_MAX_BLOBS = 64;
export const DEFAULT_READ_DEADLINE_MS = 60_000;
export const DEFAULT_BATCH_TIMEOUT_MS = 10 * 60_000;

export type HydratorLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type HydratorLog = (level: HydratorLogLevel, message: string) => void;

export interface HydratorOptions {
  cache: BlobCache;
  /** Background batches running at once. Default 4 (daemon --hydration-concurrency). */
  concurrency?: number;
  /** Foreground (explicit read) batches running at once, on top of `concurrency`. Default 2. */
  foregroundConcurrency?: number;
  /** Most blobs in one background batch. Default 2000. */
  batchMaxBlobs?: number;
  /** Most bytes (known sizes; an unknown size counts 64 KiB) in one background batch. Default 64 MiB. */
  batchMaxBytes?: number;
  /** Most blobs in one foreground batch. Default 64. */
  foregroundBatchMaxBlobs?: number;
  /** Attempts per blob and backoff between them. Defaults: 5 attempts, 200 ms doubling to 5 s. */
  retry?: RetryOptions;
  /** How long one ensure() waits at most, in ms; also a foreground batch's timeout. Default 60 s. */
  readDeadlineMs?: number;
  /** Timeout of one background batch, in ms; it is then aborted and retried. Default 10 min. */
  batchTimeoutMs?: number;
  /** One line per event; default: warn and error on stderr. */
  log?: HydratorLog;
}

export interface HydratorStats {
  /** Blobs waiting: background queues, retry groups, reads waiting for a foreground slot. */
  queued: number;
  /** Blobs in running batches (a blob in two batches counts twice). */
  inflight: number;
  /** Blobs stored by this hydrator, and their bytes. */
  hydratedBlobs: number;
  hydratedBytes: number;
  /** Blobs given up after their retries. */
  failedBlobs: number;
  /** fetch() calls made. */
  fetchBatches: number;
}

export interface EnqueueItem {
  oid: Oid;
  /** Content size in bytes, -1 when unknown. */
  size: number;
  /** Repository-relative path: decides the priority class. */
  path: string;
}

export interface HydratorConfig {
  readonly concurrency: number;
  readonly foregroundConcurrency: number;
  readonly batchMaxBlobs: number;
  readonly batchMaxBytes: number;
  readonly foregroundBatchMaxBlobs: number;
  readonly retry: Readonly<Required<RetryOptions>>;
  readonly readDeadlineMs: number;
  readonly batchTimeoutMs: number;
}

export function resolveOptions(o: HydratorOptions): HydratorConfig {
  const retry = { ...DEFAULT_RETRY, ...o.retry };
  positive(retry.attempts, 'retry.attempts');
  return {
    concurrency: positive(o.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency'),
    foregroundConcurrency: positive(o.foregroundConcurrency ?? DEFAULT_FOREGROUND_CONCURRENCY, 'foregroundConcurrency'),
    batchMaxBlobs: positive(o.batchMaxBlobs ?? DEFAULT_BATCH_MAX_BLOBS, 'batchMaxBlobs'),
    batchMaxBytes: positive(o.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES, 'batchMaxBytes'),
    foregroundBatchMaxBlobs: positive(o.foregroundBatchMaxBlobs ?? DEFAULT_FOREGROUND_BATCH_MAX_BLOBS, 'foregroundBatchMaxBlobs'),
    retry,
    readDeadlineMs: positive(o.readDeadlineMs ?? DEFAULT_READ_DEADLINE_MS, 'readDeadlineMs'),
    batchTimeoutMs: positive(o.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS, 'batchTimeoutMs'),
  };
}

export const stderrLog: HydratorLog = (level, message) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`hydrator ${level}: ${message}\n`);
};

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`hydrator: ${name} must be a positive number, got ${n}`);
  return n;
}
