// The shape of an overlay row: how one inode differs from the base snapshot, or that it is new
// (docs/overlay-design.md). The store records rows; the fs layer decides what they mean for
// rename, unlink, nlink and errno. This file holds the types and the one table of shape rules
// (KIND_RULES) that validation, decoding and tests all read.
//
// 64-bit fields: time stamps are bigint nanoseconds (they do not fit a double); every other
// integer (ino, size, mode, ids, rdev, nlink) is a number and must be a safe integer.

import type { Oid } from '../model/ids.js';

export type OverlayKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';
export type OverlayState = 'present' | 'whiteout';

/**
 * Where an inode's content lives.
 * - `base`: a blob of the repository, by id: still the base blob (a metadata-only change: chmod,
 *   touch, mv of a tracked file), or, after a generation switch, the blob a node showed before
 *   (a file the new commit changed or no longer tracks keeps what the work tree showed).
 * - `upper`: the whole content is in a backing file owned by the store (absolute path).
 * - `symlink`: the target of a symlink created in the overlay (bytes, not a string: targets are
 *   arbitrary bytes).
 * - `none`: directories, fifos, sockets, devices (rdev is in the row); every whiteout.
 * - `lost`: only ever produced by OverlayStore.open(): the row named a backing file that was not
 *   there (see the store's file comment). The fs layer answers EIO for its content; putting a row
 *   with new content repairs it. A put may carry `lost` over unchanged (e.g. a chmod).
 */
export type OverlayContent =
  | { readonly kind: 'base'; readonly oid: Oid }
  | { readonly kind: 'upper'; readonly file: string }
  | { readonly kind: 'symlink'; readonly target: Buffer }
  | { readonly kind: 'none' }
  | { readonly kind: 'lost'; readonly file: string };

export type ContentKind = OverlayContent['kind'];

/**
 * One inode of the overlay. Rows handed out by the store are frozen (their Buffers are copies the
 * store owns: do not write into them); change a row by putting a new object (`{ ...row, mode }`).
 */
export interface OverlayRow {
  readonly ino: number;
  /** Directory inode holding this entry. 0: unlinked but still open. The root row names itself. */
  readonly parent: number;
  /** One path component (no '/', no NUL, not '.' or '..', <= 255 UTF-8 bytes); '' for the root. */
  readonly name: string;
  readonly kind: OverlayKind;
  /** st_mode including the S_IFMT bits, which must match `kind` (KIND_RULES.ifmt). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Device number of chardev/blockdev rows; 0 for every other kind. */
  readonly rdev: number;
  /**
   * Content size in bytes. For `upper` content the backing file's length is the truth and this a
   * cache the fs layer refreshes when it puts the row; open() re-reads it from the file (writes
   * that reached the file but not the row survive a crash, as on a native filesystem). -1 means
   * unknown and is allowed for `base` content only. Symlinks: the target's length.
   */
  readonly size: number;
  /** Recorded as told; the fs layer does nlink bookkeeping across names. */
  readonly nlink: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly content: OverlayContent;
  /** `whiteout`: a base inode that is gone. Only base inodes are whited out; their content is `none`. */
  readonly state: OverlayState;
  /** True when the inode exists only in the overlay (not in the base snapshot). */
  readonly created: boolean;
  /** Extended attributes (the fs layer serves user.* only). Absent or empty: none. */
  readonly xattrs?: Readonly<Record<string, Buffer>>;
}

export interface KindRule {
  /** The S_IFMT bits `mode` must carry. */
  readonly ifmt: number;
  /** Content kinds allowed for a present row (`lost` counts as `upper`). */
  readonly contents: readonly ContentKind[];
  /** Whether a base snapshot can hold this kind (so a row of it may have created = false). */
  readonly inBase: boolean;
  /** Whether rdev may be non-zero. */
  readonly hasRdev: boolean;
}

/**
 * One row per kind. A base gitlink is represented as a `dir`. Created rows never use `base`
 * content (there is no base blob to refer to).
 */
export const KIND_RULES: Readonly<Record<OverlayKind, KindRule>> = {
  file: { ifmt: 0o100000, contents: ['base', 'upper'], inBase: true, hasRdev: false },
  dir: { ifmt: 0o040000, contents: ['none'], inBase: true, hasRdev: false },
  symlink: { ifmt: 0o120000, contents: ['base', 'symlink'], inBase: true, hasRdev: false },
  fifo: { ifmt: 0o010000, contents: ['none'], inBase: false, hasRdev: false },
  socket: { ifmt: 0o140000, contents: ['none'], inBase: false, hasRdev: false },
  chardev: { ifmt: 0o020000, contents: ['none'], inBase: false, hasRdev: true },
  blockdev: { ifmt: 0o060000, contents: ['none'], inBase: false, hasRdev: true },
};

export const OVERLAY_KINDS = Object.keys(KIND_RULES) as readonly OverlayKind[];
export const S_IFMT = 0o170000;

/** Linux NAME_MAX, in UTF-8 bytes. */
export const NAME_MAX_BYTES = 255;
/** Linux PATH_MAX (4096 including the NUL): the longest symlink target we record. */
export const SYMLINK_MAX_BYTES = 4095;
/** Linux XATTR_NAME_MAX / XATTR_SIZE_MAX. */
export const XATTR_NAME_MAX_BYTES = 255;
export const XATTR_VALUE_MAX_BYTES = 65_536;
/** Bound on one row's xattrs (names + values), so a hostile caller cannot grow a row without end. */
export const XATTR_TOTAL_MAX_BYTES = 256 * 1024;

/** Signed 64-bit range of SQLite INTEGER, where time stamps are stored. */
export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
