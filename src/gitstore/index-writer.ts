// Writes the git index (format version 2) for a snapshot before the mount is visible, with the
// stat data the mount will report, so that `git status` in the mount finds every entry clean by
// stat alone: no file is read, no blob is fetched (DESIGN decision 9). From then on only git
// writes the index.
//
// What git compares (ie_match_stat, core.checkStat=default, no USE_STDEV): ctime and mtime
// (seconds + nanoseconds), ino, uid, gid, size, and the mode's type/exec bit. st_dev is not
// compared on Linux builds, which matters: a FUSE mount's device number changes at every mount.
// An entry is "racily clean" (and re-read) only when its mtime is not older than the index file,
// never the case here: entries carry the commit time.

import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Oid } from '../model/ids.js';
import { GIT_MODE_GITLINK, GIT_MODE_SYMLINK } from '../model/tree.js';
import { encodeCacheTree, type TreeId } from './cache-tree.js';

export interface IndexEntry {
  path: string;
  /** Git mode: 100644, 100755, 120000, 160000. */
  mode: number;
  oid: Oid;
  /** Blob size; -1 when unknown (git will re-read that file once: its size won't match). */
  size: number;
  ino: number;
}

export interface IndexStat {
  /** ctime and mtime of every entry (the commit time the mount reports), seconds. */
  time: number;
  uid: number;
  gid: number;
  /**
   * Tree id of every directory of the entries, the root ('') included, from the same listing as
   * the entries (a tree is trusted to hold exactly the entries under its path): written as the
   * cache-tree extension (cache-tree.ts) when it covers the entries exactly.
   */
  trees?: readonly TreeId[];
  /**
   * Written as the fsmonitor extension ("FSMN" version 2: this token, no entry dirty), so the
   * first `git status` asks the hook what changed since `token` instead of lstat'ing every
   * entry (the daemon answers "nothing" for a mount nobody changed yet; fsmonitor-journal.ts).
   */
  fsmonitorToken?: string;
}

const HEADER = 12;
const FIXED = 62; // 10 x u32 stat fields, 20-byte sha1, u16 flags
const NAME_MASK = 0xfff;

function entrySize(nameLen: number): number {
  // The entry is NUL-padded to a multiple of 8 bytes, with at least one NUL.
  return (FIXED + nameLen + 8) & ~7;
}

/** Git's index order: byte order of the full path. */
function byPath(a: { name: Buffer }, b: { name: Buffer }): number {
  return Buffer.compare(a.name, b.name);
}

export function encodeIndex(entries: readonly IndexEntry[], st: IndexStat): Buffer {
  const rows = entries
    .filter((e) => e.oid.length === 40)
    .map((e) => ({ e, name: Buffer.from(e.path) }))
    .sort(byPath);
  // A tree spanning an entry that is not written would name the wrong content: all or nothing.
  const tree = st.trees && rows.length === entries.length ? encodeCacheTree(rows.map((r) => r.e.path), st.trees) : undefined;
  const fsmn = st.fsmonitorToken === undefined ? undefined : fsmonitorExtension(st.fsmonitorToken);
  const extensions = (tree ? 8 + tree.length : 0) + (fsmn ? 8 + fsmn.length : 0);
  const total = HEADER + rows.reduce((n, r) => n + entrySize(r.name.length), 0) + extensions + 20;
  const buf = Buffer.alloc(total);
  buf.write('DIRC', 0, 'latin1');
  buf.writeUInt32BE(2, 4);
  buf.writeUInt32BE(rows.length, 8);
  let pos = HEADER;
  for (const { e, name } of rows) {
    const statSize = e.mode === GIT_MODE_GITLINK ? 0 : Math.max(0, e.size) >>> 0;
    const fields = [st.time, 0, st.time, 0, 0, e.ino >>> 0, e.mode === GIT_MODE_SYMLINK ? 0o120000 : e.mode, st.uid, st.gid, statSize];
    fields.forEach((v, i) => buf.writeUInt32BE(v >>> 0, pos + i * 4));
    Buffer.from(e.oid, 'hex').copy(buf, pos + 40);
    buf.writeUInt16BE(Math.min(name.length, NAME_MASK), pos + 60);
    name.copy(buf, pos + FIXED);
    pos += entrySize(name.length);
  }
  for (const [sig, data] of [['TREE', tree], ['FSMN', fsmn]] as const) {
    if (!data) continue;
    buf.write(sig, pos, 'latin1');
    buf.writeUInt32BE(data.length, pos + 4);
    data.copy(buf, pos + 8);
    pos += 8 + data.length;
  }
  createHash('sha1').update(buf.subarray(0, pos)).digest().copy(buf, pos);
  return buf;
}

/**
 * FSMN version 2: u32 version, NUL-terminated token, u32 bitmap size, then the EWAH bitmap of
 * entries that are *not* fsmonitor-valid: here an empty one (u32 bit count 0, u32 word count 1,
 * one zero run-length word, u32 position of the last run-length word 0).
 */
function fsmonitorExtension(token: string): Buffer {
  if (token.includes('\0')) throw new Error('an fsmonitor token cannot hold a NUL');
  const t = Buffer.from(token);
  const ewah = Buffer.alloc(20);
  ewah.writeUInt32BE(1, 4);
  const out = Buffer.alloc(4 + t.length + 1 + 4 + ewah.length);
  out.writeUInt32BE(2, 0);
  t.copy(out, 4);
  out.writeUInt32BE(ewah.length, 4 + t.length + 1);
  ewah.copy(out, 4 + t.length + 5);
  return out;
}

/** Writes `<gitDir>/index` atomically (temp + rename). */
export async function writeIndex(gitDir: string, entries: readonly IndexEntry[], st: IndexStat): Promise<void> {
  const tmp = join(gitDir, 'index.artifact-fs.tmp');
  await writeFile(tmp, encodeIndex(entries, st));
  await rename(tmp, join(gitDir, 'index'));
}
