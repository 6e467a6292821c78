// All errno encoding in one place. Handlers return values or throw; the session turns whatever
// was thrown into one errno with toErrno(): a FuseError carries its errno, a Node system error
// keeps its own (ENOSPC, EACCES, EEXIST… reach the caller unchanged), anything else is EIO and
// is reported once through onUnexpected. Expected errnos are never logged.

import { constants } from 'node:os';

/** Linux errno numbers by name (ENOENT: 2, …), from the running platform. */
export const errno = constants.errno;
export type ErrnoName = keyof typeof constants.errno;

/** A filesystem outcome that is not a success: carries the errno the caller will see. */
export class FuseError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(code: ErrnoName, message?: string) {
    // Expected outcomes (ENOENT on a negative lookup…) are frequent and never logged: skip the
    // stack trace capture, which costs more than the rest of a lookup.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? code);
    Error.stackTraceLimit = limit;
    this.name = 'FuseError';
    this.code = code;
    this.errno = errno[code];
  }
}

/** Shorthand for `throw new FuseError(code)` in handlers. */
export function fail(code: ErrnoName, message?: string): never {
  throw new FuseError(code, message);
}

const nodeCodes = new Map<string, number>(Object.entries(errno));

/**
 * Maps anything thrown by a handler to a positive errno. `onUnexpected` is called for errors
 * that are not errno-shaped (bugs, domain errors without a mapping); the caller logs them.
 */
export function toErrno(err: unknown, onUnexpected?: (err: unknown) => void): number {
  if (err instanceof FuseError) return err.errno;
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') {
      const n = nodeCodes.get(code);
      if (n !== undefined) return n;
    }
    // Errors made by the filesystem layers may carry an errno number directly.
    const no = (err as { errno?: unknown }).errno;
    if (typeof no === 'number' && Number.isInteger(no) && no !== 0) return Math.abs(no);
  }
  onUnexpected?.(err);
  return errno.EIO;
}
