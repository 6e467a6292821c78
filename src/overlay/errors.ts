// Domain errors of the overlay store. Callers branch on `code`, never on the message. Every code
// is a programming error of the caller or damaged state, except 'closed' (shutdown races); the fs
// layer maps all of them to EIO. Node errors from the disk (ENOSPC, EIO, EDQUOT) pass through
// unchanged so the fs layer can keep their errno.

/** Every code an overlay error can carry, with what it means (one row per variant). */
export const OVERLAY_ERROR_CODES = {
  'invalid-row': 'a row broke a shape rule (kind/content/state/created/limits); nothing was written',
  'name-taken': 'another present overlay row already has this (parent, name); nothing was written',
  'unknown-backing-file': 'a row or release() named a backing file this store did not hand out, or one already released',
  'backing-file-referenced': 'release() of a backing file that a row still references',
  'corrupt-row': 'a stored row could not be decoded at open()',
  'unsupported-db': 'the database is not a WAL-mode file database (sync() flushes the WAL file)',
  'already-open': 'this overlay directory is already open in this process',
  closed: 'the store was closed',
} as const;

export type OverlayErrorCode = keyof typeof OVERLAY_ERROR_CODES;

export class OverlayError extends Error {
  readonly code: OverlayErrorCode;
  /** The inode concerned, when there is one. */
  readonly ino: number | undefined;
  constructor(code: OverlayErrorCode, message: string, ino?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OverlayError';
    this.code = code;
    this.ino = ino;
  }
}

export function isOverlayError(err: unknown, code?: OverlayErrorCode): err is OverlayError {
  return err instanceof OverlayError && (code === undefined || err.code === code);
}
