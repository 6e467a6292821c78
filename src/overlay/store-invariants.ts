// OverlayStore.checkInvariants(): the store's written invariants (overlay-store.ts), checked
// against the database and the disk. Costs a full table read and a stat per backing file: for
// tests and `doctor`, never for a request path.

import { statSync } from 'node:fs';
import type { BackingFiles } from './backing-files.js';
import { decodeRow } from './row-codec.js';
import type { RowIndex } from './row-index.js';
import type { OverlayContent, OverlayRow } from './types.js';

export interface StoreSnapshotForCheck {
  index: RowIndex;
  files: BackingFiles;
  releases: readonly string[];
  nextIno: number;
  reservedIno: number;
  /** Raw rows of the repo read with SELECT_SQL. */
  stored: unknown[][];
  storedNextIno: number | undefined;
}

function sameContent(mem: OverlayContent, db: OverlayContent): boolean {
  // In memory `lost` is the stored `upper` of a file found missing at open().
  const m = mem.kind === 'lost' ? { kind: 'upper' as const, file: mem.file } : mem;
  if (m.kind !== db.kind) return false;
  switch (m.kind) {
    case 'base': return db.kind === 'base' && m.oid === db.oid;
    case 'upper': return db.kind === 'upper' && m.file === db.file;
    case 'symlink': return db.kind === 'symlink' && m.target.equals(db.target);
    default: return true;
  }
}

function sameXattrs(a: OverlayRow['xattrs'], b: OverlayRow['xattrs']): boolean {
  const ea = Object.entries(a ?? {});
  if (ea.length !== Object.keys(b ?? {}).length) return false;
  return ea.every(([k, v]) => b?.[k]?.equals(v) === true);
}

/** Field-by-field equality of a memory row and a stored row. */
export function sameRow(a: OverlayRow, b: OverlayRow): boolean {
  const keys = ['ino', 'parent', 'name', 'kind', 'mode', 'uid', 'gid', 'rdev', 'size', 'nlink', 'atimeNs', 'mtimeNs', 'ctimeNs', 'state', 'created'] as const;
  return keys.every((k) => a[k] === b[k]) && sameContent(a.content, b.content) && sameXattrs(a.xattrs, b.xattrs);
}

function checkMirror(s: StoreSnapshotForCheck): void {
  const stored = new Map<number, OverlayRow>();
  for (const raw of s.stored) {
    const r = decodeRow(raw, s.files.dir);
    stored.set(r.ino, r);
  }
  if (stored.size !== s.index.size) throw new Error(`overlay: ${s.index.size} rows in memory, ${stored.size} in the database`);
  for (const mem of s.index.values()) {
    const db = stored.get(mem.ino);
    if (!db || !sameRow(mem, db)) throw new Error(`overlay: row ${mem.ino} differs between memory and the database`);
  }
}

function checkFiles(s: StoreSnapshotForCheck): void {
  const released = new Set(s.releases);
  for (const r of s.index.values()) {
    if (r.ino >= s.nextIno) throw new Error(`overlay: row ${r.ino} >= next inode ${s.nextIno}`);
    if (r.content.kind !== 'upper' && r.content.kind !== 'lost') continue;
    const file = r.content.file;
    if (r.state !== 'present') throw new Error(`overlay: whiteout ${r.ino} names a file`);
    if (!s.files.belongsTo(file, r.ino)) throw new Error(`overlay: row ${r.ino} names ${file}, not one of its backing files`);
    if (released.has(file) || s.files.isHandedOut(file)) throw new Error(`overlay: ${file} is referenced and also released/handed out`);
    if (r.content.kind === 'upper' && !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      throw new Error(`overlay: row ${r.ino} names missing backing file ${file}`);
    }
  }
}

export function checkStoreInvariants(s: StoreSnapshotForCheck): void {
  s.index.checkInvariants();
  checkMirror(s);
  checkFiles(s);
  if (s.nextIno > s.reservedIno) throw new Error(`overlay: next inode ${s.nextIno} above the reserved mark ${s.reservedIno}`);
  if (s.storedNextIno !== s.reservedIno) throw new Error(`overlay: reserved mark ${s.reservedIno} != stored ${String(s.storedNextIno)}`);
}
