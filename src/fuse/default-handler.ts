// A handler that answers ENOSYS to everything, to extend with the operations a filesystem
// supports. The kernel remembers ENOSYS for several operations (open, flush, fsync, access,
// xattrs…) and stops sending them; forget has no reply and does nothing here.

import { fail } from './errno.js';
import type { FuseHandler } from './handler.js';

export class DefaultHandler implements FuseHandler {
  lookup(): never { return fail('ENOSYS'); }
  forget(): void {}
  getattr(): never { return fail('ENOSYS'); }
  setattr(): never { return fail('ENOSYS'); }
  readlink(): never { return fail('ENOSYS'); }
  symlink(): never { return fail('ENOSYS'); }
  mknod(): never { return fail('ENOSYS'); }
  mkdir(): never { return fail('ENOSYS'); }
  unlink(): never { return fail('ENOSYS'); }
  rmdir(): never { return fail('ENOSYS'); }
  rename(): never { return fail('ENOSYS'); }
  link(): never { return fail('ENOSYS'); }
  open(): never { return fail('ENOSYS'); }
  read(): never { return fail('ENOSYS'); }
  write(): never { return fail('ENOSYS'); }
  statfs(): never { return fail('ENOSYS'); }
  release(): never { return fail('ENOSYS'); }
  fsync(): never { return fail('ENOSYS'); }
  flush(): never { return fail('ENOSYS'); }
  setxattr(): never { return fail('ENOSYS'); }
  getxattr(): never { return fail('ENOSYS'); }
  listxattr(): never { return fail('ENOSYS'); }
  removexattr(): never { return fail('ENOSYS'); }
  opendir(): never { return fail('ENOSYS'); }
  readdir(): never { return fail('ENOSYS'); }
  releasedir(): never { return fail('ENOSYS'); }
  fsyncdir(): never { return fail('ENOSYS'); }
  access(): never { return fail('ENOSYS'); }
  create(): never { return fail('ENOSYS'); }
  lseek(): never { return fail('ENOSYS'); }
  fallocate(): never { return fail('ENOSYS'); }
}
