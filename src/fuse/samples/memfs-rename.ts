// rename(2) / renameat2(2) for memfs, with the errno order of Linux: do_renameat2() checks the
// flags, the source, NOREPLACE/EXCHANGE against the target and the ancestry traps of
// lock_rename(); vfs_rename() then treats "same inode" as success and checks the types; the
// filesystem finally refuses to replace a non-empty directory. Every check runs before the
// first change, so a failed rename changes nothing.

import { FUSE_ROOT_ID, RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../abi.js';
import { fail } from '../errno.js';
import { now, S_IFCHR, type DirInode, type Inode, type InodeTable } from './memfs-inode.js';

export interface RenameRequest {
  oldDir: DirInode;
  name: string;
  newDir: DirInode;
  newName: string;
  flags: number;
  /** Owner of the whiteout left behind by RENAME_WHITEOUT: the caller. */
  uid: number;
  gid: number;
}

export function renameEntry(table: InodeTable, req: RenameRequest): void {
  const { oldDir, name, newDir, newName, flags } = req;
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) fail('EINVAL');
  if (exchange && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) !== 0) fail('EINVAL');
  const src = child(table, oldDir, name) ?? fail('ENOENT');
  const dst = child(table, newDir, newName);
  if ((flags & RENAME_NOREPLACE) !== 0 && dst !== undefined) fail('EEXIST');
  if (exchange && dst === undefined) fail('ENOENT');
  // A directory cannot move below itself; the target cannot be an ancestor of the source.
  if (src.kind === 'dir' && isAncestor(table, src, newDir)) fail('EINVAL');
  if (dst?.kind === 'dir' && isAncestor(table, dst, oldDir)) fail(exchange ? 'EINVAL' : 'ENOTEMPTY');
  // Two names of one inode (or one name twice): POSIX says do nothing, and succeed.
  if (src === dst) return;
  if (dst !== undefined && !exchange) {
    if (src.kind === 'dir' && dst.kind !== 'dir') fail('ENOTDIR');
    if (src.kind !== 'dir' && dst.kind === 'dir') fail('EISDIR');
    if (dst.kind === 'dir' && dst.entries.size > 0) fail('ENOTEMPTY');
  }
  // The last step that can fail (ENOSPC), so it goes before any change.
  const whiteout = (flags & RENAME_WHITEOUT) !== 0
    ? table.newSpecial({ mode: S_IFCHR, uid: req.uid, gid: req.gid }, 0)
    : undefined;

  const t = now();
  if (exchange && dst !== undefined) swap(req, src, dst);
  else move(req, src, dst);
  if (whiteout !== undefined) {
    // tmpfs leaves a 0:0 character device where the source was, for overlayfs.
    oldDir.entries.add(name, whiteout.ino);
    whiteout.nlink = 1;
  }
  src.ctime = t;
  if (dst !== undefined) dst.ctime = t;
  oldDir.mtime = oldDir.ctime = newDir.mtime = newDir.ctime = t;
  if (dst !== undefined) table.release(dst);
}

function move(req: RenameRequest, src: Inode, dst: Inode | undefined): void {
  const { oldDir, newDir } = req;
  if (dst !== undefined) {
    newDir.entries.remove(req.newName);
    if (dst.kind === 'dir') {
      dst.nlink = 0;
      newDir.nlink--;
    } else {
      dst.nlink--;
    }
  }
  oldDir.entries.remove(req.name);
  newDir.entries.add(req.newName, src.ino);
  if (src.kind === 'dir' && oldDir !== newDir) reparent(src, oldDir, newDir);
}

/** RENAME_EXCHANGE: both names stay where they are (keeping their cookies) and trade inodes. */
function swap(req: RenameRequest, src: Inode, dst: Inode): void {
  const { oldDir, newDir } = req;
  oldDir.entries.relink(req.name, dst.ino);
  newDir.entries.relink(req.newName, src.ino);
  if (oldDir === newDir) return;
  if (src.kind === 'dir') reparent(src, oldDir, newDir);
  if (dst.kind === 'dir') reparent(dst, newDir, oldDir);
}

/** A directory's ".." now names `to`: the link count moves with it. */
function reparent(dir: DirInode, from: DirInode, to: DirInode): void {
  dir.parent = to.ino;
  from.nlink--;
  to.nlink++;
}

function child(table: InodeTable, dir: DirInode, name: string): Inode | undefined {
  const ino = dir.entries.get(name);
  return ino === undefined ? undefined : table.get(ino);
}

/** True when `dir` is `node` or lies below it. */
function isAncestor(table: InodeTable, node: DirInode, dir: DirInode): boolean {
  for (let cur: Inode | undefined = dir; cur?.kind === 'dir'; cur = table.get(cur.parent)) {
    if (cur === node) return true;
    if (cur.ino === FUSE_ROOT_ID) return false;
  }
  return false;
}
