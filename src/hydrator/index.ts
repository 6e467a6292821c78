// The hydrator layer (L3): blob cache, priority classification, queue and the Hydrator itself.
// Network access goes through the BlobFetcher port, implemented in gitstore/.

export { BlobCache, type BlobCacheOptions, STALE_TEMP_MS, TEMP_PREFIX } from './blob-cache.js';
export {
  BlobCorruptError, HYDRATOR_ERROR_CODES, HydrationAbortedError, HydrationFailedError, HydratorClosedError,
  HydratorError, type HydratorErrorCode, isHydratorError,
} from './errors.js';
export {
  DEFAULT_BATCH_MAX_BLOBS, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_TIMEOUT_MS, DEFAULT_CONCURRENCY,
  DEFAULT_FOREGROUND_BATCH_MAX_BLOBS, DEFAULT_FOREGROUND_CONCURRENCY, DEFAULT_READ_DEADLINE_MS,
  type EnqueueItem, type HydrationSource, Hydrator, type HydratorLog, type HydratorLogLevel, type HydratorOptions,
  type HydratorState, type HydratorStats, type Source,
} from './hydrator.js';
export type { BlobFetcher } from './ports.js';
export {
  type BackgroundClass, classify, CLASSIFICATION_ROWS, type ClassificationRow, LARGE_BLOB_BYTES, matchRow, PRIORITY,
  PRIORITY_CLASSES, PRIORITY_COUNT, type Priority, type PriorityClass,
} from './priority.js';
export { BlobQueue, type QueuedBlob, UNKNOWN_SIZE_ESTIMATE } from './queue.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry.js';
