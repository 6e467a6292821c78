// Domain errors of the hydrator. Callers branch on `code`, never on the message. fs/ maps them
// to errno: 'blob-corrupt' and 'hydration-failed' become EIO, 'aborted' EINTR, 'closed' EIO.

import type { Oid } from '../model/ids.js';

/** Every code a hydrator error can carry, with what it means (one row per variant). */
export const HYDRATOR_ERROR_CODES = {
  'blob-corrupt': 'fetched content did not match the blob id or the expected size',
  'hydration-failed': 'the blob could not be fetched within the retry budget or the read deadline',
  aborted: 'the caller stopped waiting (its AbortSignal fired); the fetch goes on for others',
  closed: 'the hydrator or the source was closed or destroyed before the blob arrived',
} as const;

export type HydratorErrorCode = keyof typeof HYDRATOR_ERROR_CODES;

export class HydratorError extends Error {
  readonly code: HydratorErrorCode;
  /** The blob concerned, when there is one. */
  readonly oid: Oid | undefined;
  constructor(code: HydratorErrorCode, message: string, oid?: Oid, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HydratorError';
    this.code = code;
    this.oid = oid;
  }
}

/** A delivered blob whose size or hash disagreed with its id; nothing was stored. */
export class BlobCorruptError extends HydratorError {
  readonly expectedSize: number;
  readonly actualSize: number;
  /** The id the content actually hashes to ('' when the size check failed first). */
  readonly actualOid: string;
  constructor(oid: Oid, expectedSize: number, actualSize: number, actualOid: string) {
    const what = actualOid === '' ? `size ${actualSize}, expected ${expectedSize}` : `content hashes to ${actualOid}`;
    super('blob-corrupt', `blob ${oid} is corrupt: ${what}`, oid);
    this.name = 'BlobCorruptError';
    this.expectedSize = expectedSize;
    this.actualSize = actualSize;
    this.actualOid = actualOid;
  }
}

/** The blob could not be hydrated; `cause` is the last failure seen (or the deadline). */
export class HydrationFailedError extends HydratorError {
  constructor(oid: Oid, reason: string, cause: unknown) {
    super('hydration-failed', `hydration of ${oid} failed: ${reason}`, oid, { cause });
    this.name = 'HydrationFailedError';
  }
}

/** The waiter's own signal aborted; named AbortError like the platform's abort errors. */
export class HydrationAbortedError extends HydratorError {
  constructor(oid: Oid | undefined, reason: unknown) {
    super('aborted', oid === undefined ? 'wait aborted' : `wait for ${oid} aborted`, oid, { cause: reason });
    this.name = 'AbortError';
  }
}

export class HydratorClosedError extends HydratorError {
  constructor(what: string, oid?: Oid, cause?: unknown) {
    super('closed', `${what} is closed`, oid, { cause });
    this.name = 'HydratorClosedError';
  }
}

export function isHydratorError(err: unknown, code?: HydratorErrorCode): err is HydratorError {
  return err instanceof HydratorError && (code === undefined || err.code === code);
}
