// What a git tree entry is, once indexed.

import type { Oid } from './ids.js';

/** Git's tree entry modes (octal). */
export const GIT_MODE_FILE = 0o100644;
export const GIT_MODE_EXEC = 0o100755;
export const GIT_MODE_SYMLINK = 0o120000;
export const GIT_MODE_TREE = 0o040000;
export const GIT_MODE_GITLINK = 0o160000;

export type GitObjectType = 'blob' | 'tree' | 'commit';

export interface TreeEntry {
  /** Repository-relative path with '/' separators; never empty, never '.'/'..' components. */
  path: string;
  mode: number;
  type: GitObjectType;
  oid: Oid;
}

/** A blob whose size may be known before its content. -1: unknown (no object-info). */
export interface BlobInfo {
  oid: Oid;
  size: number;
}
