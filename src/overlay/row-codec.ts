// Overlay rows to and from `overlay_nodes` columns (schema: the overlay migration in
// src/registry/db.ts). One column table drives the INSERT, the SELECT and the decoder.
//
// Backing files are stored by name (`<ino>.<seq>`), not by absolute path, so the state root can
// move; the store joins the name with its upper directory when loading.

import { basename, join } from 'node:path';
import type { Oid } from '../model/ids.js';
import { parseBackingName } from './backing-files.js';
import { OverlayError } from './errors.js';
import type { OverlayContent, OverlayKind, OverlayRow, OverlayState } from './types.js';
import { checkRow } from './validate.js';

/** Column order of every statement and of a raw result row. */
export const COLUMNS = [
  'repo', 'ino', 'parent', 'name', 'kind', 'mode', 'uid', 'gid', 'rdev', 'size', 'nlink',
  'atime_ns', 'mtime_ns', 'ctime_ns', 'content_kind', 'content_ref', 'state', 'created', 'xattrs',
] as const;

export const UPSERT_SQL =
  `INSERT OR REPLACE INTO overlay_nodes (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;
/**
 * Time stamps are read as decimal text and parsed with BigInt: reading every integer column as
 * bigint (safeIntegers) costs twice as much at open() with 10k rows, and every other integer
 * column was checked to be a safe integer when written.
 */
export const SELECT_SQL =
  `SELECT ${COLUMNS.map((c) => (c.endsWith('_ns') ? `CAST(${c} AS TEXT)` : c)).join(', ')} FROM overlay_nodes WHERE repo = ?`;
export const DELETE_SQL = 'DELETE FROM overlay_nodes WHERE repo = ? AND ino = ?';

type SqlValue = string | number | bigint | Buffer | null;

function contentRef(c: OverlayContent): SqlValue {
  switch (c.kind) {
    case 'base': return c.oid;
    case 'upper':
    case 'lost': return basename(c.file);
    case 'symlink': return c.target;
    case 'none': return null;
  }
}

function encodeXattrs(x: OverlayRow['xattrs']): string | null {
  if (x === undefined) return null;
  const entries = Object.entries(x);
  if (entries.length === 0) return null;
  return JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, v.toString('base64')])));
}

/** Statement parameters for one row, in COLUMNS order. A `lost` file is stored as `upper`. */
export function encodeRow(repo: string, r: OverlayRow): SqlValue[] {
  return [
    repo, r.ino, r.parent, r.name, r.kind, r.mode, r.uid, r.gid, r.rdev, r.size, r.nlink,
    r.atimeNs, r.mtimeNs, r.ctimeNs, r.content.kind === 'lost' ? 'upper' : r.content.kind, contentRef(r.content),
    r.state, r.created ? 1 : 0, encodeXattrs(r.xattrs),
  ];
}

function corrupt(ino: unknown, why: string, cause?: unknown): never {
  throw new OverlayError('corrupt-row', `stored overlay row ${String(ino)}: ${why}`, typeof ino === 'number' ? ino : undefined, { cause });
}

/** Anything but a safe integer is corruption (a larger stored integer reads back inexact). */
function num(v: unknown, ino: unknown, col: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) corrupt(ino, `column ${col} is not a safe integer`);
  return v;
}

const DECIMAL_RE = /^-?[0-9]{1,19}$/;

/** A time stamp column read as text (SELECT_SQL). */
function big(v: unknown, ino: unknown, col: string): bigint {
  if (typeof v !== 'string' || !DECIMAL_RE.test(v)) corrupt(ino, `column ${col} is not an integer`);
  return BigInt(v);
}

function decodeContent(kind: unknown, ref: unknown, upperDir: string, ino: number): OverlayContent {
  if (kind === 'base' && typeof ref === 'string') return { kind: 'base', oid: ref as Oid };
  // A backing file name is a bare `<ino>.<seq>` of this very inode: nothing else may be joined to
  // the upper directory (a stored '../x' would point outside it).
  if (kind === 'upper' && typeof ref === 'string' && parseBackingName(ref)?.ino === ino) return { kind: 'upper', file: join(upperDir, ref) };
  if (kind === 'symlink' && Buffer.isBuffer(ref)) return { kind: 'symlink', target: ref };
  if (kind === 'none' && ref === null) return { kind: 'none' };
  return corrupt(ino, `content ${String(kind)} with a ${typeof ref} reference`);
}

function decodeXattrs(v: unknown, ino: number): Record<string, Buffer> | undefined {
  if (v === null) return undefined;
  try {
    const parsed = JSON.parse(String(v)) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, b]) => [k, Buffer.from(String(b), 'base64')]));
  } catch (err) {
    return corrupt(ino, 'xattrs are not valid JSON', err);
  }
}

/** One raw result row of SELECT_SQL → a checked, frozen row. */
export function decodeRow(raw: readonly unknown[], upperDir: string): OverlayRow {
  const [, inoV, parent, name, kind, mode, uid, gid, rdev, size, nlink, at, mt, ct, ck, ref, state, created, xattrs] = raw;
  const ino = num(inoV, inoV, 'ino');
  const xa = decodeXattrs(xattrs, ino);
  const row: OverlayRow = {
    ino, parent: num(parent, ino, 'parent'), name: String(name), kind: kind as OverlayKind,
    mode: num(mode, ino, 'mode'), uid: num(uid, ino, 'uid'), gid: num(gid, ino, 'gid'), rdev: num(rdev, ino, 'rdev'),
    size: num(size, ino, 'size'), nlink: num(nlink, ino, 'nlink'),
    atimeNs: big(at, ino, 'atime_ns'), mtimeNs: big(mt, ino, 'mtime_ns'), ctimeNs: big(ct, ino, 'ctime_ns'),
    content: decodeContent(ck, ref, upperDir, ino), state: state as OverlayState, created: num(created, ino, 'created') !== 0,
    ...(xa ? { xattrs: xa } : {}),
  };
  try {
    checkRow(row);
  } catch (err) {
    corrupt(ino, (err as Error).message, err);
  }
  // Built here from fresh values: freezing in place is enough (no defensive copy as in put).
  Object.freeze(row.content);
  if (row.xattrs) Object.freeze(row.xattrs);
  return Object.freeze(row);
}
