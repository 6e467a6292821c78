// Extended attributes of the merged view: the user.* namespace only, persisted in the node's
// overlay row, checked in the order the VFS and tmpfs check (as memfs-xattr.ts). Other
// namespaces answer EOPNOTSUPP; a missing name ENODATA.

import { fail } from '../fuse/index.js';
import { XATTR_TOTAL_MAX_BYTES } from '../overlay/index.js';
import { nowNs, type WNode } from './worktree-nodes.js';

const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const USER_PREFIX = 'user.';

function checkName(node: WNode, name: string, write: boolean): void {
  const length = Buffer.byteLength(name);
  if (length === 0 || length > XATTR_NAME_MAX) fail('ERANGE');
  if (!name.startsWith(USER_PREFIX)) fail('EOPNOTSUPP');
  if (node.kind !== 'file' && node.kind !== 'dir') fail(write ? 'EPERM' : 'ENODATA');
  if (name.length === USER_PREFIX.length) fail('EINVAL');
}

export function setXattr(node: WNode, name: string, value: Buffer, flags: number): void {
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) fail('EINVAL');
  if (Buffer.byteLength(name) <= XATTR_NAME_MAX && value.length > XATTR_SIZE_MAX) fail('E2BIG');
  checkName(node, name, true);
  const exists = node.xattrs.has(name);
  if (exists && (flags & XATTR_CREATE) !== 0) fail('EEXIST');
  if (!exists && (flags & XATTR_REPLACE) !== 0) fail('ENODATA');
  let total = Buffer.byteLength(name) + value.length;
  for (const [k, v] of node.xattrs) if (k !== name) total += Buffer.byteLength(k) + v.length;
  if (total > XATTR_TOTAL_MAX_BYTES) fail('ENOSPC');
  node.xattrs.set(name, Buffer.from(value));
  node.ctimeNs = nowNs();
}

export function getXattr(node: WNode, name: string): Buffer {
  checkName(node, name, false);
  return node.xattrs.get(name) ?? fail('ENODATA');
}

export function listXattrs(node: WNode): string[] {
  return [...node.xattrs.keys()];
}

export function removeXattr(node: WNode, name: string): void {
  checkName(node, name, true);
  if (!node.xattrs.delete(name)) fail('ENODATA');
  node.ctimeNs = nowNs();
}
