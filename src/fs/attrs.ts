// File attributes of base (snapshot) nodes: what `stat` shows before and after hydration.

import type { Attr } from '../fuse/index.js';
import { GITFILE_INO, type SnapNode } from '../snapshot/snapshot.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export interface AttrContext {
  uid: number;
  gid: number;
  /** Commit time: mtime/ctime/atime of every base node. */
  time: number;
}

/** Mode with type bits: files keep git's 0644/0755, symlinks 0777, trees and gitlinks 0755 dirs. */
export function modeOf(n: SnapNode): number {
  switch (n.kind) {
    case 'file': return S_IFREG | (n.mode & 0o111 ? 0o755 : 0o644);
    case 'symlink': return S_IFLNK | 0o777;
    default: return S_IFDIR | 0o755;
  }
}

export function gitfileAttr(size: number, c: AttrContext): Attr {
  return {
    ino: GITFILE_INO, size, mode: S_IFREG | 0o644, nlink: 1, uid: c.uid, gid: c.gid,
    atimeSec: c.time, atimeNsec: 0, mtimeSec: c.time, mtimeNsec: 0, ctimeSec: c.time, ctimeNsec: 0,
  };
}
