// Shape checks for overlay rows, run on every put and on every row loaded at open(), and the
// defensive copy that makes stored rows immutable. A row that fails is never written: the
// database and the in-memory map only ever hold rows that pass (INVARIANT of the store).
//
// What is checked here is what one row can tell on its own (KIND_RULES, limits, reserved inodes).
// What needs the other rows (names unique per directory, backing files owned by this store) is
// checked by the store.

import { isOid } from '../model/ids.js';
import { GITFILE_INO, ROOT_INO } from '../snapshot/snapshot.js';
import { OverlayError } from './errors.js';
import {
  INT64_MAX, INT64_MIN, KIND_RULES, NAME_MAX_BYTES, type OverlayContent, type OverlayRow, S_IFMT, SYMLINK_MAX_BYTES,
  XATTR_NAME_MAX_BYTES, XATTR_TOTAL_MAX_BYTES, XATTR_VALUE_MAX_BYTES,
} from './types.js';

const UINT32_MAX = 0xffff_ffff;
/** Matches a lone surrogate (with the u flag a valid pair is one code point, not Cs). */
const LONE_SURROGATE = /\p{Cs}/u;

function fail(row: { ino?: unknown }, why: string): never {
  const ino = typeof row.ino === 'number' ? row.ino : undefined;
  throw new OverlayError('invalid-row', `overlay row ${String(row.ino)}: ${why}`, ino);
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= UINT32_MAX;
}

function isTime(t: unknown): t is bigint {
  return typeof t === 'bigint' && t >= INT64_MIN && t <= INT64_MAX;
}

/**
 * A directory entry name as Linux allows it, and one that survives UTF-8 storage unchanged
 * (a lone surrogate would come back as U+FFFD, i.e. as another name).
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'name must be a non-empty string';
  if (name === '.' || name === '..') return `name ${JSON.stringify(name)} is reserved`;
  if (name.includes('/') || name.includes('\0')) return 'name contains "/" or NUL';
  if (LONE_SURROGATE.test(name)) return 'name is not well-formed UTF-16 (lone surrogate)';
  if (Buffer.byteLength(name) > NAME_MAX_BYTES) return `name longer than ${NAME_MAX_BYTES} bytes`;
  return undefined;
}

function checkPlace(row: OverlayRow): void {
  if (!Number.isSafeInteger(row.ino) || row.ino < ROOT_INO || row.ino === GITFILE_INO) fail(row, 'ino is not a usable inode number');
  if (!Number.isSafeInteger(row.parent) || row.parent < 0 || row.parent === GITFILE_INO) fail(row, `bad parent ${row.parent}`);
  if (row.ino === ROOT_INO) {
    // The root is never renamed, unlinked or created: only its metadata can change.
    if (row.parent !== ROOT_INO || row.name !== '') fail(row, 'the root row must name itself as parent, with name ""');
    if (row.kind !== 'dir' || row.created || row.state !== 'present') fail(row, 'the root row must be a present base dir');
    return;
  }
  if (row.parent === row.ino) fail(row, 'a row cannot be its own parent');
  const why = nameProblem(row.name);
  if (why) fail(row, why);
}

function checkAttrs(row: OverlayRow): void {
  if (!Object.hasOwn(KIND_RULES, row.kind)) fail(row, `unknown kind ${JSON.stringify(row.kind)}`);
  const rule = KIND_RULES[row.kind];
  if (!isU32(row.mode) || (row.mode & S_IFMT) !== rule.ifmt) fail(row, `mode ${row.mode?.toString(8)} does not match kind ${row.kind}`);
  if (!isU32(row.uid) || !isU32(row.gid) || !isU32(row.nlink)) fail(row, 'uid, gid and nlink must be 32-bit unsigned integers');
  if (!isU32(row.rdev) || (row.rdev !== 0 && !rule.hasRdev)) fail(row, `rdev ${row.rdev} not allowed for ${row.kind}`);
  if (!Number.isSafeInteger(row.size) || row.size < -1) fail(row, `bad size ${row.size}`);
  if (row.size === -1 && row.content?.kind !== 'base') fail(row, 'size -1 (unknown) is allowed for base content only');
  if (!isTime(row.atimeNs) || !isTime(row.mtimeNs) || !isTime(row.ctimeNs)) fail(row, 'time stamps must be bigint nanoseconds in int64 range');
  if (typeof row.created !== 'boolean') fail(row, 'created must be a boolean');
}

function checkContent(row: OverlayRow): void {
  const c = row.content;
  if (row.state === 'whiteout') {
    // A whiteout only says "this base inode is gone": it holds no file, no target.
    if (row.created || !KIND_RULES[row.kind].inBase) fail(row, 'an overlay-only inode is deleted, never whited out');
    if (c?.kind !== 'none') fail(row, 'a whiteout row holds no content (kind "none")');
    return;
  }
  if (row.state !== 'present') fail(row, `unknown state ${JSON.stringify(row.state)}`);
  const rule = KIND_RULES[row.kind];
  const effective = c?.kind === 'lost' ? 'upper' : c?.kind;
  if (effective === undefined || !rule.contents.includes(effective)) fail(row, `content ${c?.kind} not allowed for ${row.kind}`);
  if (!row.created && !rule.inBase) fail(row, `a ${row.kind} cannot come from the base snapshot (created must be true)`);
  if (c.kind === 'base' && !isOid(c.oid)) fail(row, 'base content needs a full lowercase object id');
  if ((c.kind === 'upper' || c.kind === 'lost') && typeof c.file !== 'string') fail(row, 'upper content needs a file path');
  if (c.kind === 'symlink') {
    const t = c.target;
    if (!Buffer.isBuffer(t) || t.length === 0 || t.length > SYMLINK_MAX_BYTES || t.includes(0)) {
      fail(row, `symlink target must be 1..${SYMLINK_MAX_BYTES} bytes without NUL`);
    }
    if (row.size !== t.length) fail(row, 'a symlink row\'s size is its target\'s length');
  }
}

function checkXattrs(row: OverlayRow): void {
  if (row.xattrs === undefined) return;
  if (row.xattrs === null || typeof row.xattrs !== 'object') fail(row, 'xattrs must be an object');
  let total = 0;
  for (const [name, value] of Object.entries(row.xattrs)) {
    const n = Buffer.byteLength(name);
    if (n === 0 || n > XATTR_NAME_MAX_BYTES || name.includes('\0') || LONE_SURROGATE.test(name)) fail(row, `bad xattr name ${JSON.stringify(name)}`);
    if (!Buffer.isBuffer(value) || value.length > XATTR_VALUE_MAX_BYTES) fail(row, `xattr ${name}: value must be a Buffer <= ${XATTR_VALUE_MAX_BYTES} bytes`);
    total += n + value.length;
  }
  if (total > XATTR_TOTAL_MAX_BYTES) fail(row, `xattrs exceed ${XATTR_TOTAL_MAX_BYTES} bytes`);
}

/** Throws OverlayError('invalid-row') when the row breaks a rule it can be judged on alone. */
export function checkRow(row: OverlayRow): void {
  if (row === null || typeof row !== 'object') fail({}, 'not an object');
  checkAttrs(row);
  checkPlace(row);
  checkContent(row);
  checkXattrs(row);
}

function copyContent(c: OverlayContent): OverlayContent {
  // Buffers are copied (and so owned by the store): a caller reusing its buffer cannot change a
  // stored row behind the database's back. Typed arrays cannot be frozen, hence the copy. A
  // frozen content object (taken from a stored row) is shared as it is.
  if (c.kind === 'symlink') return Object.freeze({ kind: 'symlink', target: Buffer.from(c.target) });
  return Object.isFrozen(c) ? c : Object.freeze({ ...c });
}

/** A frozen copy of a checked row: what the store keeps and hands out. */
export function freezeRow(r: OverlayRow): OverlayRow {
  // Field by field rather than spread: one object shape for every stored row, and no extra
  // properties a caller may have attached.
  const copy = {
    ino: r.ino, parent: r.parent, name: r.name, kind: r.kind, mode: r.mode, uid: r.uid, gid: r.gid, rdev: r.rdev,
    size: r.size, nlink: r.nlink, atimeNs: r.atimeNs, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs,
    content: copyContent(r.content), state: r.state, created: r.created,
  };
  if (r.xattrs === undefined || Object.keys(r.xattrs).length === 0) return Object.freeze(copy);
  const x: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(r.xattrs)) x[k] = Buffer.from(v);
  return Object.freeze({ ...copy, xattrs: Object.freeze(x) });
}
