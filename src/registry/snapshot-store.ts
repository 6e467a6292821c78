// Persisting and loading snapshots (one generation per commit) and their stable inodes.

import type { Oid } from '../model/ids.js';
import type { TreeEntry } from '../model/tree.js';
import { FIRST_ENTRY_INO, Snapshot, type NodeTimes } from '../snapshot/snapshot.js';
import type { Db } from './db.js';

export interface StoredSnapshot {
  commit: Oid;
  commitTime: number;
  entries: Array<TreeEntry & { size: number; ino: number }>;
}

/** Inodes for a new generation: a path keeps its inode; new paths get fresh numbers. */
export function assignInodes(previous: ReadonlyMap<string, number>, paths: Iterable<string>): Map<string, number> {
  let next = FIRST_ENTRY_INO;
  for (const ino of previous.values()) next = Math.max(next, ino + 1);
  const out = new Map<string, number>();
  for (const p of paths) out.set(p, previous.get(p) ?? next++);
  return out;
}

export function saveSnapshot(db: Db, repo: string, generation: number, s: StoredSnapshot): void {
  const insert = db.prepare('INSERT INTO entries (repo, generation, path, mode, type, oid, size, ino) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  db.prepare('INSERT INTO snapshots (repo, generation, commit_oid, commit_time) VALUES (?, ?, ?, ?)').run(repo, generation, s.commit, s.commitTime);
  for (const e of s.entries) insert.run(repo, generation, e.path, e.mode, e.type, e.oid, e.size, e.ino);
}

const TYPE_OF_KIND = { dir: 'tree', gitlink: 'commit', file: 'blob', symlink: 'blob' } as const;

/**
 * Persists `snapshot` as the repo's generation `generation` and makes it current: its entries
 * and own time stamps, the repos row, and the previous generations dropped. Run inside the
 * caller's transaction (WorkTreeFs.rebase commits it with the overlay rows).
 */
export function saveGeneration(db: Db, repo: string, generation: number, snapshot: Snapshot): void {
  const insert = db.prepare('INSERT INTO entries (repo, generation, path, mode, type, oid, size, ino) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertTimes = db.prepare('INSERT INTO entry_times (repo, generation, ino, atime_ns, mtime_ns, ctime_ns) VALUES (?, ?, ?, ?, ?, ?)');
  db.prepare('INSERT INTO snapshots (repo, generation, commit_oid, commit_time) VALUES (?, ?, ?, ?)').run(repo, generation, snapshot.commit, snapshot.commitTime);
  for (const { path, node: n } of snapshot.nodes()) {
    insert.run(repo, generation, path, n.mode, TYPE_OF_KIND[n.kind], n.oid, n.size, n.ino);
    if (n.times) insertTimes.run(repo, generation, n.ino, n.times.atimeNs, n.times.mtimeNs, n.times.ctimeNs);
  }
  db.prepare('DELETE FROM snapshots WHERE repo = ? AND generation < ?').run(repo, generation);
  db.prepare('UPDATE repos SET generation = ? WHERE name = ?').run(generation, repo);
}

export function loadSnapshot(db: Db, repo: string, generation: number): Snapshot | undefined {
  const head = db.prepare('SELECT commit_oid, commit_time FROM snapshots WHERE repo = ? AND generation = ?').get(repo, generation) as
    { commit_oid: string; commit_time: number } | undefined;
  if (!head) return undefined;
  const rows = db.prepare('SELECT path, mode, type, oid, size, ino FROM entries WHERE repo = ? AND generation = ?').raw().all(repo, generation) as
    Array<[string, number, TreeEntry['type'], Oid, number, number]>;
  // Parents before children: ls-tree order guarantees it when stored, SQLite order does not.
  rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const sizes = new Map<string, number>();
  const inos = new Map<string, number>();
  const entries: TreeEntry[] = rows.map(([path, mode, type, oid, size, ino]) => {
    if (size >= 0) sizes.set(oid, size);
    inos.set(path, ino);
    return { path, mode, type, oid };
  });
  const times = new Map<number, NodeTimes>();
  const timeRows = db.prepare('SELECT ino, atime_ns, mtime_ns, ctime_ns FROM entry_times WHERE repo = ? AND generation = ?').safeIntegers(true).raw()
    .all(repo, generation) as Array<[bigint, bigint, bigint, bigint]>;
  for (const [ino, atimeNs, mtimeNs, ctimeNs] of timeRows) times.set(Number(ino), { atimeNs, mtimeNs, ctimeNs });
  return Snapshot.build({
    commit: head.commit_oid as Oid, commitTime: head.commit_time, entries, sizes, inodeOf: (p) => inos.get(p)!,
    ...(times.size ? { timesOf: (p: string) => times.get(inos.get(p)!) } : {}),
  });
}

/**
 * Records a size learned after the fact (the server gave no sizes and a stat hydrated the file),
 * so the next mount reports it without hydrating again.
 */
export function recordSize(db: Db, repo: string, generation: number, ino: number, size: number): void {
  db.prepare('UPDATE entries SET size = ? WHERE repo = ? AND generation = ? AND ino = ?').run(size, repo, generation, ino);
}
