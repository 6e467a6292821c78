// Extended attributes for memfs: the user.* namespace only, checked in the order the VFS and
// tmpfs check (name length, value size, namespace, file type, then existence).

import { fail } from '../errno.js';
import { now, type Inode } from './memfs-inode.js';

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const USER_PREFIX = 'user.';

type Access = 'read' | 'write';

function checkName(node: Inode, name: string, access: Access): void {
  const length = Buffer.byteLength(name);
  if (length === 0 || length > XATTR_NAME_MAX) fail('ERANGE');
  // trusted.*, security.* and system.* would need their own rules; this sample keeps to user.*.
  if (!name.startsWith(USER_PREFIX)) fail('EOPNOTSUPP');
  // xattr_permission(): user.* attributes exist only on regular files and directories.
  if (node.kind !== 'file' && node.kind !== 'dir') fail(access === 'write' ? 'EPERM' : 'ENODATA');
  if (name.length === USER_PREFIX.length) fail('EINVAL');
}

export function setXattr(node: Inode, name: string, value: Buffer, flags: number): void {
  if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) fail('EINVAL');
  if (Buffer.byteLength(name) <= XATTR_NAME_MAX && value.length > XATTR_SIZE_MAX) fail('E2BIG');
  checkName(node, name, 'write');
  const exists = node.xattrs.has(name);
  if (exists && (flags & XATTR_CREATE) !== 0) fail('EEXIST');
  if (!exists && (flags & XATTR_REPLACE) !== 0) fail('ENODATA');
  // `value` is a view into the request buffer; replacing keeps the name's place in the list.
  node.xattrs.set(name, Buffer.from(value));
  node.ctime = now();
}

export function getXattr(node: Inode, name: string): Buffer {
  checkName(node, name, 'read');
  return node.xattrs.get(name) ?? fail('ENODATA');
}

export function listXattrs(node: Inode): string[] {
  return [...node.xattrs.keys()];
}

export function removeXattr(node: Inode, name: string): void {
  checkName(node, name, 'write');
  if (!node.xattrs.delete(name)) fail('ENODATA');
  node.ctime = now();
}
