// Why a repository source could not be acquired: one class, stable codes (checks go by code).
// 'usage' is bad input (the CLI exits 2); the rest are refusals of what the remote or the prepared
// git dir holds. Messages never carry credentials (URLs pass through redactUrl first).

export type SourceErrorCode =
  | 'usage'
  | 'remote-unreachable'
  | 'ref-not-found'
  | 'auth-failed'
  | 'fetch-failed'
  | 'rewind-refused'
  | 'commit-mismatch';

export class SourceError extends Error {
  constructor(readonly code: SourceErrorCode, message: string) {
    super(message);
    this.name = 'SourceError';
  }
}
