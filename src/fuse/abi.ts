// The Linux FUSE kernel ABI, mirrored once with the kernel's own names so that every constant
// and field can be grepped against include/uapi/linux/fuse.h. Friendlier names start above the
// codec (see handler.ts). We speak protocol 7.45 (kernel 6.16+) and degrade to older minors at
// INIT; fields added after 7.38 (the installed header) are marked with the minor that added them.
//
// 64-bit fields: node ids, file handles, sizes, offsets and times are decoded as JS `number`.
// We allocate node ids and handles ourselves (always < 2^53) and no file is 2^53 bytes; a value
// from the kernel that does not fit is rejected by the codec (EINVAL/EFBIG), never rounded.
// `unique`, lock owners and other opaque kernel cookies stay `bigint`.

import { struct } from './layout.js';

export const FUSE_KERNEL_VERSION = 7;
/** Highest minor we implement; the kernel and we settle on min(kernel, ours). */
export const FUSE_KERNEL_MINOR_VERSION = 45;
/** Oldest minor we accept: 7.12 added notifications and umask, both relied upon. */
export const FUSE_MIN_MINOR_VERSION = 12;
export const FUSE_ROOT_ID = 1;
export const FUSE_MIN_READ_BUFFER = 8192;
export const FUSE_COMPAT_ENTRY_OUT_SIZE = 120;
export const FUSE_COMPAT_ATTR_OUT_SIZE = 96;
export const FUSE_COMPAT_INIT_OUT_SIZE = 8;
export const FUSE_COMPAT_22_INIT_OUT_SIZE = 24;
export const FUSE_COMPAT_WRITE_IN_SIZE = 24;
export const FUSE_COMPAT_SETXATTR_IN_SIZE = 8;
export const FUSE_COMPAT_MKNOD_IN_SIZE = 8;
/** Bit set in out_header.unique of replies to FUSE_INTERRUPT requests (kernel FUSE_INT_REQ_BIT). */
export const FUSE_INT_REQ_BIT = 1n;

export const fuse_opcode = {
  FUSE_LOOKUP: 1,
  FUSE_FORGET: 2, // no reply
  FUSE_GETATTR: 3,
  FUSE_SETATTR: 4,
  FUSE_READLINK: 5,
  FUSE_SYMLINK: 6,
  FUSE_MKNOD: 8,
  FUSE_MKDIR: 9,
  FUSE_UNLINK: 10,
  FUSE_RMDIR: 11,
  FUSE_RENAME: 12,
  FUSE_LINK: 13,
  FUSE_OPEN: 14,
  FUSE_READ: 15,
  FUSE_WRITE: 16,
  FUSE_STATFS: 17,
  FUSE_RELEASE: 18,
  FUSE_FSYNC: 20,
  FUSE_SETXATTR: 21,
  FUSE_GETXATTR: 22,
  FUSE_LISTXATTR: 23,
  FUSE_REMOVEXATTR: 24,
  FUSE_FLUSH: 25,
  FUSE_INIT: 26,
  FUSE_OPENDIR: 27,
  FUSE_READDIR: 28,
  FUSE_RELEASEDIR: 29,
  FUSE_FSYNCDIR: 30,
  FUSE_GETLK: 31,
  FUSE_SETLK: 32,
  FUSE_SETLKW: 33,
  FUSE_ACCESS: 34,
  FUSE_CREATE: 35,
  FUSE_INTERRUPT: 36,
  FUSE_BMAP: 37,
  FUSE_DESTROY: 38,
  FUSE_IOCTL: 39,
  FUSE_POLL: 40,
  FUSE_NOTIFY_REPLY: 41,
  FUSE_BATCH_FORGET: 42,
  FUSE_FALLOCATE: 43,
  FUSE_READDIRPLUS: 44,
  FUSE_RENAME2: 45,
  FUSE_LSEEK: 46,
  FUSE_COPY_FILE_RANGE: 47,
  FUSE_SETUPMAPPING: 48,
  FUSE_REMOVEMAPPING: 49,
  FUSE_SYNCFS: 50,
  FUSE_TMPFILE: 51,
  FUSE_STATX: 52, // 7.39
  FUSE_COPY_FILE_RANGE_64: 53, // 7.45
} as const;
export type FuseOpcodeName = keyof typeof fuse_opcode;

export const fuse_notify_code = {
  FUSE_NOTIFY_POLL: 1,
  FUSE_NOTIFY_INVAL_INODE: 2,
  FUSE_NOTIFY_INVAL_ENTRY: 3,
  FUSE_NOTIFY_STORE: 4,
  FUSE_NOTIFY_RETRIEVE: 5,
  FUSE_NOTIFY_DELETE: 6,
  FUSE_NOTIFY_RESEND: 7, // 7.40
  FUSE_NOTIFY_INC_EPOCH: 8, // 7.44
  FUSE_NOTIFY_PRUNE: 9, // 7.45
} as const;

/** INIT flags. Bits 32..63 travel in flags2 (only when FUSE_INIT_EXT is agreed); kept as bigint. */
export const FUSE_ASYNC_READ = 1n << 0n;
export const FUSE_POSIX_LOCKS = 1n << 1n;
export const FUSE_FILE_OPS = 1n << 2n;
export const FUSE_ATOMIC_O_TRUNC = 1n << 3n;
export const FUSE_EXPORT_SUPPORT = 1n << 4n;
export const FUSE_BIG_WRITES = 1n << 5n;
export const FUSE_DONT_MASK = 1n << 6n;
export const FUSE_SPLICE_WRITE = 1n << 7n;
export const FUSE_SPLICE_MOVE = 1n << 8n;
export const FUSE_SPLICE_READ = 1n << 9n;
export const FUSE_FLOCK_LOCKS = 1n << 10n;
export const FUSE_HAS_IOCTL_DIR = 1n << 11n;
export const FUSE_AUTO_INVAL_DATA = 1n << 12n;
export const FUSE_DO_READDIRPLUS = 1n << 13n;
export const FUSE_READDIRPLUS_AUTO = 1n << 14n;
export const FUSE_ASYNC_DIO = 1n << 15n;
export const FUSE_WRITEBACK_CACHE = 1n << 16n;
export const FUSE_NO_OPEN_SUPPORT = 1n << 17n;
export const FUSE_PARALLEL_DIROPS = 1n << 18n;
export const FUSE_HANDLE_KILLPRIV = 1n << 19n;
export const FUSE_POSIX_ACL = 1n << 20n;
export const FUSE_ABORT_ERROR = 1n << 21n;
export const FUSE_MAX_PAGES = 1n << 22n;
export const FUSE_CACHE_SYMLINKS = 1n << 23n;
export const FUSE_NO_OPENDIR_SUPPORT = 1n << 24n;
export const FUSE_EXPLICIT_INVAL_DATA = 1n << 25n;
export const FUSE_MAP_ALIGNMENT = 1n << 26n;
export const FUSE_SUBMOUNTS = 1n << 27n;
export const FUSE_HANDLE_KILLPRIV_V2 = 1n << 28n;
export const FUSE_SETXATTR_EXT = 1n << 29n;
export const FUSE_INIT_EXT = 1n << 30n;
export const FUSE_INIT_RESERVED = 1n << 31n;
export const FUSE_SECURITY_CTX = 1n << 32n;
export const FUSE_HAS_INODE_DAX = 1n << 33n;
export const FUSE_CREATE_SUPP_GROUP = 1n << 34n; // 7.39
export const FUSE_HAS_EXPIRE_ONLY = 1n << 35n;
export const FUSE_DIRECT_IO_ALLOW_MMAP = 1n << 36n; // 7.39
export const FUSE_PASSTHROUGH = 1n << 37n; // 7.40
export const FUSE_NO_EXPORT_SUPPORT = 1n << 38n; // 7.40
export const FUSE_HAS_RESEND = 1n << 39n; // 7.40
export const FUSE_ALLOW_IDMAP = 1n << 40n; // 7.41
export const FUSE_OVER_IO_URING = 1n << 41n; // 7.42
export const FUSE_REQUEST_TIMEOUT = 1n << 42n; // 7.43

/** fuse_setattr_in.valid */
export const FATTR_MODE = 1 << 0;
export const FATTR_UID = 1 << 1;
export const FATTR_GID = 1 << 2;
export const FATTR_SIZE = 1 << 3;
export const FATTR_ATIME = 1 << 4;
export const FATTR_MTIME = 1 << 5;
export const FATTR_FH = 1 << 6;
export const FATTR_ATIME_NOW = 1 << 7;
export const FATTR_MTIME_NOW = 1 << 8;
export const FATTR_LOCKOWNER = 1 << 9;
export const FATTR_CTIME = 1 << 10;
export const FATTR_KILL_SUIDGID = 1 << 11;

/** fuse_open_out.open_flags */
export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_NONSEEKABLE = 1 << 2;
export const FOPEN_CACHE_DIR = 1 << 3;
export const FOPEN_STREAM = 1 << 4;
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;
export const FOPEN_PASSTHROUGH = 1 << 7; // 7.40

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
export const FUSE_EXPIRE_ONLY = 1 << 0;

/** renameat2(2) flags as carried by fuse_rename2_in.flags. */
export const RENAME_NOREPLACE = 1 << 0;
export const RENAME_EXCHANGE = 1 << 1;
export const RENAME_WHITEOUT = 1 << 2;

// ---- struct layouts -------------------------------------------------------------------------

export const fuse_attr = struct('fuse_attr', {
  ino: 'u64', size: 'u64', blocks: 'u64', atime: 'u64', mtime: 'u64', ctime: 'u64',
  atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32', mode: 'u32', nlink: 'u32',
  uid: 'u32', gid: 'u32', rdev: 'u32', blksize: 'u32', flags: 'u32',
});

export const fuse_kstatfs = struct('fuse_kstatfs', {
  blocks: 'u64', bfree: 'u64', bavail: 'u64', files: 'u64', ffree: 'u64',
  bsize: 'u32', namelen: 'u32', frsize: 'u32', padding: 'u32', spare: ['u32', 6],
});

export const fuse_in_header = struct('fuse_in_header', {
  len: 'u32', opcode: 'u32', unique: 'u64', nodeid: 'u64', uid: 'u32', gid: 'u32', pid: 'u32',
  total_extlen: 'u16', padding: 'u16',
});
export const fuse_out_header = struct('fuse_out_header', { len: 'u32', error: 'i32', unique: 'u64' });

export const fuse_entry_out = struct('fuse_entry_out', {
  nodeid: 'u64', generation: 'u64', entry_valid: 'u64', attr_valid: 'u64',
  entry_valid_nsec: 'u32', attr_valid_nsec: 'u32', attr: fuse_attr,
});
export const fuse_forget_in = struct('fuse_forget_in', { nlookup: 'u64' });
export const fuse_forget_one = struct('fuse_forget_one', { nodeid: 'u64', nlookup: 'u64' });
export const fuse_batch_forget_in = struct('fuse_batch_forget_in', { count: 'u32', dummy: 'u32' });
export const fuse_getattr_in = struct('fuse_getattr_in', { getattr_flags: 'u32', dummy: 'u32', fh: 'u64' });
export const fuse_attr_out = struct('fuse_attr_out', {
  attr_valid: 'u64', attr_valid_nsec: 'u32', dummy: 'u32', attr: fuse_attr,
});
export const fuse_mknod_in = struct('fuse_mknod_in', { mode: 'u32', rdev: 'u32', umask: 'u32', padding: 'u32' });
export const fuse_mkdir_in = struct('fuse_mkdir_in', { mode: 'u32', umask: 'u32' });
export const fuse_rename_in = struct('fuse_rename_in', { newdir: 'u64' });
export const fuse_rename2_in = struct('fuse_rename2_in', { newdir: 'u64', flags: 'u32', padding: 'u32' });
export const fuse_link_in = struct('fuse_link_in', { oldnodeid: 'u64' });
export const fuse_setattr_in = struct('fuse_setattr_in', {
  valid: 'u32', padding: 'u32', fh: 'u64', size: 'u64', lock_owner: 'u64',
  atime: 'u64', mtime: 'u64', ctime: 'u64', atimensec: 'u32', mtimensec: 'u32', ctimensec: 'u32',
  mode: 'u32', unused4: 'u32', uid: 'u32', gid: 'u32', unused5: 'u32',
});
export const fuse_open_in = struct('fuse_open_in', { flags: 'u32', open_flags: 'u32' });
export const fuse_create_in = struct('fuse_create_in', { flags: 'u32', mode: 'u32', umask: 'u32', open_flags: 'u32' });
/** backing_id (7.40) replaced `padding`; we never use passthrough, so it stays 0. */
export const fuse_open_out = struct('fuse_open_out', { fh: 'u64', open_flags: 'u32', padding: 'u32' });
export const fuse_release_in = struct('fuse_release_in', { fh: 'u64', flags: 'u32', release_flags: 'u32', lock_owner: 'u64' });
export const fuse_flush_in = struct('fuse_flush_in', { fh: 'u64', unused: 'u32', padding: 'u32', lock_owner: 'u64' });
export const fuse_read_in = struct('fuse_read_in', {
  fh: 'u64', offset: 'u64', size: 'u32', read_flags: 'u32', lock_owner: 'u64', flags: 'u32', padding: 'u32',
});
export const fuse_write_in = struct('fuse_write_in', {
  fh: 'u64', offset: 'u64', size: 'u32', write_flags: 'u32', lock_owner: 'u64', flags: 'u32', padding: 'u32',
});
export const fuse_write_out = struct('fuse_write_out', { size: 'u32', padding: 'u32' });
export const fuse_statfs_out = struct('fuse_statfs_out', { st: fuse_kstatfs });
export const fuse_fsync_in = struct('fuse_fsync_in', { fh: 'u64', fsync_flags: 'u32', padding: 'u32' });
export const fuse_setxattr_in = struct('fuse_setxattr_in', { size: 'u32', flags: 'u32', setxattr_flags: 'u32', padding: 'u32' });
export const fuse_getxattr_in = struct('fuse_getxattr_in', { size: 'u32', padding: 'u32' });
export const fuse_getxattr_out = struct('fuse_getxattr_out', { size: 'u32', padding: 'u32' });
export const fuse_access_in = struct('fuse_access_in', { mask: 'u32', padding: 'u32' });
export const fuse_init_in = struct('fuse_init_in', {
  major: 'u32', minor: 'u32', max_readahead: 'u32', flags: 'u32', flags2: 'u32', unused: ['u32', 11],
});
/** 7.40 turned unused[0] into max_stack_depth; 7.43 turned the next 16 bits into request_timeout. */
export const fuse_init_out = struct('fuse_init_out', {
  major: 'u32', minor: 'u32', max_readahead: 'u32', flags: 'u32',
  max_background: 'u16', congestion_threshold: 'u16', max_write: 'u32', time_gran: 'u32',
  max_pages: 'u16', map_alignment: 'u16', flags2: 'u32', unused: ['u32', 7],
});
export const fuse_interrupt_in = struct('fuse_interrupt_in', { unique: 'u64' });
export const fuse_fallocate_in = struct('fuse_fallocate_in', {
  fh: 'u64', offset: 'u64', length: 'u64', mode: 'u32', padding: 'u32',
});
export const fuse_dirent = struct('fuse_dirent', { ino: 'u64', off: 'u64', namelen: 'u32', type: 'u32' });
export const fuse_direntplus = struct('fuse_direntplus', { entry_out: fuse_entry_out, dirent: fuse_dirent });
export const fuse_notify_inval_inode_out = struct('fuse_notify_inval_inode_out', { ino: 'u64', off: 'i64', len: 'i64' });
export const fuse_notify_inval_entry_out = struct('fuse_notify_inval_entry_out', { parent: 'u64', namelen: 'u32', flags: 'u32' });
export const fuse_notify_delete_out = struct('fuse_notify_delete_out', { parent: 'u64', child: 'u64', namelen: 'u32', padding: 'u32' });
export const fuse_lseek_in = struct('fuse_lseek_in', { fh: 'u64', offset: 'u64', whence: 'u32', padding: 'u32' });
export const fuse_lseek_out = struct('fuse_lseek_out', { offset: 'u64' });
export const fuse_ext_header = struct('fuse_ext_header', { size: 'u32', type: 'u32' });

/** offsetof(struct fuse_dirent, name): the name follows the fixed part. */
export const FUSE_NAME_OFFSET = fuse_dirent.size;
export const FUSE_NAME_OFFSET_DIRENTPLUS = fuse_direntplus.size;
/** Variable-length records are padded to 8 bytes (FUSE_REC_ALIGN). */
export function FUSE_REC_ALIGN(x: number): number {
  return (x + 7) & ~7;
}
