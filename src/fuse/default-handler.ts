// A handler that answers ENOSYS to everything, to extend with the operations a filesystem
// supports. The kernel remembers ENOSYS for several operations (open, flush, fsync, access,
// xattrs…) and stops sending them; forget has no reply and does nothing here.

import { fail } from './errno.js';
import type { FuseHandler } from './handler.js';

type P<K extends keyof FuseHandler> = Parameters<NonNullable<FuseHandler[K]>>;
type R<K extends keyof FuseHandler> = ReturnType<NonNullable<FuseHandler[K]>>;

export class DefaultHandler implements FuseHandler {
  lookup(..._a: P<'lookup'>): R<'lookup'> { return fail('ENOSYS'); }
  forget(..._a: P<'forget'>): void {}
  getattr(..._a: P<'getattr'>): R<'getattr'> { return fail('ENOSYS'); }
  setattr(..._a: P<'setattr'>): R<'setattr'> { return fail('ENOSYS'); }
  readlink(..._a: P<'readlink'>): R<'readlink'> { return fail('ENOSYS'); }
  symlink(..._a: P<'symlink'>): R<'symlink'> { return fail('ENOSYS'); }
  mknod(..._a: P<'mknod'>): R<'mknod'> { return fail('ENOSYS'); }
  mkdir(..._a: P<'mkdir'>): R<'mkdir'> { return fail('ENOSYS'); }
  unlink(..._a: P<'unlink'>): R<'unlink'> { return fail('ENOSYS'); }
  rmdir(..._a: P<'rmdir'>): R<'rmdir'> { return fail('ENOSYS'); }
  rename(..._a: P<'rename'>): R<'rename'> { return fail('ENOSYS'); }
  link(..._a: P<'link'>): R<'link'> { return fail('ENOSYS'); }
  open(..._a: P<'open'>): R<'open'> { return fail('ENOSYS'); }
  read(..._a: P<'read'>): R<'read'> { return fail('ENOSYS'); }
  write(..._a: P<'write'>): R<'write'> { return fail('ENOSYS'); }
  statfs(..._a: P<'statfs'>): R<'statfs'> { return fail('ENOSYS'); }
  release(..._a: P<'release'>): R<'release'> { return fail('ENOSYS'); }
  fsync(..._a: P<'fsync'>): R<'fsync'> { return fail('ENOSYS'); }
  flush(..._a: P<'flush'>): R<'flush'> { return fail('ENOSYS'); }
  setxattr(..._a: P<'setxattr'>): R<'setxattr'> { return fail('ENOSYS'); }
  getxattr(..._a: P<'getxattr'>): R<'getxattr'> { return fail('ENOSYS'); }
  listxattr(..._a: P<'listxattr'>): R<'listxattr'> { return fail('ENOSYS'); }
  removexattr(..._a: P<'removexattr'>): R<'removexattr'> { return fail('ENOSYS'); }
  opendir(..._a: P<'opendir'>): R<'opendir'> { return fail('ENOSYS'); }
  readdir(..._a: P<'readdir'>): R<'readdir'> { return fail('ENOSYS'); }
  releasedir(..._a: P<'releasedir'>): R<'releasedir'> { return fail('ENOSYS'); }
  fsyncdir(..._a: P<'fsyncdir'>): R<'fsyncdir'> { return fail('ENOSYS'); }
  access(..._a: P<'access'>): R<'access'> { return fail('ENOSYS'); }
  create(..._a: P<'create'>): R<'create'> { return fail('ENOSYS'); }
  lseek(..._a: P<'lseek'>): R<'lseek'> { return fail('ENOSYS'); }
  fallocate(..._a: P<'fallocate'>): R<'fallocate'> { return fail('ENOSYS'); }
}
