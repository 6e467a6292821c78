// rename(2) / renameat2(2) on the merged view, with Linux's errno order (as memfs-rename.ts):
// flags, source, NOREPLACE/EXCHANGE against the target, ancestry traps, same inode, types, a
// non-empty target directory. Every check runs before the first change, and every change is one
// overlay transaction: the moved row(s), the replaced target (whiteout, or deleted when it was
// overlay-only; parent 0 while open), and the two directories' times. O(1) rows whatever the
// size of a moved tree: children keep naming their directory by inode.

import { fail, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../fuse/index.js';
import { GITFILE_INO } from '../snapshot/snapshot.js';
import { nowNs, type NodeTable, type WNode } from './worktree-nodes.js';

export interface RenameArgs {
  oldDir: WNode;
  name: string;
  newDir: WNode;
  newName: string;
  flags: number;
}

/** Returns the node that lost its last name (the caller finalises it when nothing holds it). */
export function renameEntry(table: NodeTable, a: RenameArgs): WNode | undefined {
  const { oldDir, name, newDir, newName, flags } = a;
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) fail('EINVAL');
  if (exchange && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) !== 0) fail('EINVAL');
  // Overlay whiteout devices are not ours to create: overlayfs on top of this mount is unsupported.
  if ((flags & RENAME_WHITEOUT) !== 0) fail('EINVAL');
  const oldEntries = table.entries(oldDir);
  const newEntries = table.entries(newDir);
  const srcIno = oldEntries.get(name) ?? fail('ENOENT');
  const dstIno = newEntries.get(newName);
  if ((flags & RENAME_NOREPLACE) !== 0 && dstIno !== undefined) fail('EEXIST');
  if (exchange && dstIno === undefined) fail('ENOENT');
  // The synthesized .git file is not in the overlay: it cannot move or be replaced.
  if (srcIno === GITFILE_INO || dstIno === GITFILE_INO) fail('EPERM');
  const src = table.get(srcIno, oldDir.ino) ?? fail('ENOENT');
  const dst = dstIno === undefined ? undefined : table.get(dstIno, newDir.ino);
  if (src.kind === 'dir' && table.isAncestorOf(src, newDir)) fail('EINVAL');
  if (dst?.kind === 'dir' && table.isAncestorOf(dst, oldDir)) fail(exchange ? 'EINVAL' : 'ENOTEMPTY');
  if (src === dst) return undefined;
  if (dst !== undefined && !exchange) {
    if (src.kind === 'dir' && dst.kind !== 'dir') fail('ENOTDIR');
    if (src.kind !== 'dir' && dst.kind === 'dir') fail('EISDIR');
    if (dst.kind === 'dir' && table.entries(dst).size > 0) fail('ENOTEMPTY');
  }
  const t = nowNs();
  const before = snapshotOf([src, dst, oldDir, newDir]);
  let gone: WNode | undefined;
  if (exchange && dst !== undefined) {
    oldEntries.relink(name, dst.ino);
    newEntries.relink(newName, src.ino);
    src.parent = newDir.ino;
    src.name = newName;
    dst.parent = oldDir.ino;
    dst.name = name;
    if (oldDir !== newDir) {
      if (src.kind === 'dir') { oldDir.subdirs--; newDir.subdirs++; }
      if (dst.kind === 'dir') { newDir.subdirs--; oldDir.subdirs++; }
    }
  } else {
    if (dst !== undefined) {
      newEntries.remove(newName);
      if (dst.kind === 'dir') newDir.subdirs--;
      dst.parent = 0;
      gone = dst;
    }
    oldEntries.remove(name);
    newEntries.add(newName, src.ino);
    if (src.kind === 'dir' && oldDir !== newDir) { oldDir.subdirs--; newDir.subdirs++; }
    src.parent = newDir.ino;
    src.name = newName;
  }
  src.ctimeNs = t;
  if (dst) dst.ctimeNs = t;
  oldDir.mtimeNs = oldDir.ctimeNs = newDir.mtimeNs = newDir.ctimeNs = t;
  try {
    commit(table, src, dst, gone, oldDir, newDir);
  } catch (err) {
    // Memory follows the database: undo the in-memory move (names and counts) and rethrow.
    restore(before);
    rebuild(table, oldDir, newDir);
    throw err;
  }
  return gone;
}

function commit(table: NodeTable, src: WNode, dst: WNode | undefined, gone: WNode | undefined, oldDir: WNode, newDir: WNode): void {
  const puts = [src, oldDir];
  if (newDir !== oldDir) puts.push(newDir);
  const deletes: number[] = [];
  if (dst && !gone) puts.push(dst);
  if (gone) {
    // Replaced: kept as an unlinked row while open (parent 0), else whiteout / deleted.
    if (gone.openCount > 0) puts.push(gone);
    else if (gone.created) deletes.push(gone.ino);
    else {
      table.store.putMany([...puts.map((n) => table.rowOf(n)), table.whiteoutRow(gone)], deletes);
      return;
    }
  }
  table.persist(puts, deletes);
}

type Saved = Array<[WNode, Partial<WNode>]>;

function snapshotOf(nodes: Array<WNode | undefined>): Saved {
  const out: Saved = [];
  for (const n of nodes) if (n) out.push([n, { parent: n.parent, name: n.name, subdirs: n.subdirs, ctimeNs: n.ctimeNs, mtimeNs: n.mtimeNs }]);
  return out;
}

function restore(saved: Saved): void {
  for (const [n, v] of saved) Object.assign(n, v);
}

/** After a failed commit the directories' entries are rebuilt from the committed rows. */
function rebuild(_table: NodeTable, oldDir: WNode, newDir: WNode): void {
  delete oldDir.entries;
  delete newDir.entries;
}
