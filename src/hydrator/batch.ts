// One batch = one BlobFetcher.fetch() call. Deliveries are verified into the cache as they
// arrive (one at a time, as the port promises) and reported at once, so a reader waiting for
// the first blob of a batch does not wait for the last. The outcome says what was stored, which
// deliveries were themselves bad (blamed on that blob alone) and why the batch ended early.

import type { Oid } from '../model/ids.js';
import type { BlobCache } from './blob-cache.js';
import { isHydratorError } from './errors.js';
import type { BlobFetcher } from './ports.js';

export interface BatchOutcome {
  /** Blobs stored in the cache by this batch. */
  readonly delivered: ReadonlySet<Oid>;
  /** Blobs whose own delivery was bad (corrupt content), with the error: charged alone. */
  readonly blamed: ReadonlyMap<Oid, unknown>;
  /** Why fetch() rejected (or the abort reason), undefined when it resolved. */
  readonly error: unknown;
}

export interface BatchRequest {
  readonly fetcher: BlobFetcher;
  readonly cache: BlobCache;
  /** oid → expected size (-1: unknown, the size the fetcher reports is used). */
  readonly blobs: ReadonlyMap<Oid, number>;
  /** Aborts the fetch: destroy or the batch's timeout. */
  readonly signal: AbortSignal;
  /** A reader is waiting (foreground batch). */
  readonly urgent?: boolean;
  /** Called once per blob stored, synchronously after its rename. */
  readonly onStored: (oid: Oid, size: number, path: string) => void;
}

/**
 * Blobs up to this size are read into memory as they are delivered and written to the cache in
 * the background, WRITES_IN_FLIGHT at a time, so that the fetcher streams the next blob while the
 * threadpool writes earlier ones (one blob at a time costs ~4 threadpool round trips per blob).
 */
export const BUFFERED_BLOB_MAX = 256 * 1024;
export const WRITES_IN_FLIGHT = 32;

async function collect(content: AsyncIterable<Buffer>, size: number, signal: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of content) {
    signal.throwIfAborted();
    parts.push(c);
    n += c.length;
    if (n > size) break; // more than announced: the cache's verification will refuse it
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Runs the batch to its end; never rejects. Returns as soon as `signal` aborts. */
export async function runBatch(req: BatchRequest): Promise<BatchOutcome> {
  const delivered = new Set<Oid>();
  const blamed = new Map<Oid, unknown>();
  let over = false;
  const writes = new Set<Promise<void>>();
  let writeError: unknown;
  const store = (oid: Oid, expected: number, data: Buffer): void => {
    const w = req.cache.writeBuffer(oid, expected, data).then(
      (path) => { delivered.add(oid); req.onStored(oid, data.length, path); },
      (err: unknown) => {
        if (isHydratorError(err, 'blob-corrupt')) blamed.set(oid, err);
        writeError ??= err;
      },
    ).finally(() => writes.delete(w));
    writes.add(w);
  };
  const deliver = async (oid: Oid, size: number, content: AsyncIterable<Buffer>): Promise<void> => {
    // A fetcher that delivers after it settled, or after the abort, is refused.
    if (over) throw new Error('delivery after the batch ended');
    req.signal.throwIfAborted();
    const expected = req.blobs.get(oid);
    if (expected === undefined || delivered.has(oid)) {
      for await (const _ of content) req.signal.throwIfAborted();
      return;
    }
    const known = expected >= 0 ? expected : size;
    if (known <= BUFFERED_BLOB_MAX) {
      const data = await collect(content, known, req.signal);
      while (writes.size >= WRITES_IN_FLIGHT) await Promise.race(writes);
      store(oid, known, data);
      return;
    }
    try {
      const path = await req.cache.write(oid, known, content, req.signal);
      delivered.add(oid);
      req.onStored(oid, req.cache.sizeOf(oid) ?? size, path);
    } catch (err) {
      if (isHydratorError(err, 'blob-corrupt')) blamed.set(oid, err);
      throw err;
    }
  };
  let error: unknown;
  try {
    await untilAborted(req.fetcher.fetch([...req.blobs.keys()], deliver, req.signal, { urgent: req.urgent ?? false }), req.signal);
  } catch (err) {
    error = err ?? new Error('fetch rejected without a reason');
  } finally {
    over = true;
  }
  await Promise.all(writes);
  error ??= writeError;
  return { delivered, blamed, error };
}

/**
 * Settles like `p`, or rejects with the abort reason as soon as `signal` aborts: a fetcher that
 * ignores its signal must not hold a batch slot (or close()/destroy()) forever.
 */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/**
 * A batch's signal: aborted by `parent` (destroy) or after `timeoutMs`. Explicit listeners and
 * a cleared timer rather than AbortSignal.any/timeout, so nothing outlives the batch.
 */
export function batchSignal(parent: AbortSignal, timeoutMs: number): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onParent = (): void => ac.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => {
    const err = new Error(`batch timed out after ${timeoutMs} ms`);
    err.name = 'TimeoutError';
    ac.abort(err);
  }, timeoutMs);
  return {
    signal: ac.signal,
    dispose: () => {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
