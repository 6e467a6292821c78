// Friendly value types shared by the handler API and the codec.

/** File attributes as the kernel caches them. Times are seconds + nanoseconds since the epoch. */
export interface Attr {
  ino: number;
  size: number;
  /** 512-byte blocks; derived from size when omitted. */
  blocks?: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
  /** Type and permission bits (S_IFREG | 0o644 …). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev?: number;
  blksize?: number;
}

/** A lookup result: node id plus how long the kernel may cache the name and the attributes. */
export interface Entry {
  /** 0 means "negative entry": the kernel caches the absence of the name for entryTimeout. */
  nodeid: number;
  /** nodeid + generation must be unique for the life of the filesystem. */
  generation?: number;
  /** Seconds (fractions allowed) the kernel may trust the name → node mapping. */
  entryTimeout: number;
  /** Seconds the kernel may trust `attr`. */
  attrTimeout: number;
  attr: Attr;
}

export interface OpenResult {
  fh: number;
  /** FOPEN_* flags: FOPEN_KEEP_CACHE keeps page cache across opens, FOPEN_DIRECT_IO bypasses it… */
  openFlags?: number;
}

export interface StatfsResult {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** d_type values carried in fuse_dirent.type (DT_* from <dirent.h>). */
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/** DT_* for a mode's file-type bits. */
export function direntType(mode: number): number {
  return (mode & 0o170000) >> 12;
}

export interface DirentInput {
  name: string;
  ino: number;
  /** This entry's resume cookie: passing it back as readdir `offset` continues after it. */
  off: number;
  /** DT_* type; derived from entry.attr.mode when an entry is given. */
  type?: number;
  /** READDIRPLUS only: the entry to hand the kernel (counts as a lookup when nodeid != 0). */
  entry?: Entry;
}

/** A reply buffer for READDIR/READDIRPLUS that the handler fills. */
export interface DirentList {
  /** True for READDIRPLUS: pass `entry` with each add (or nodeid 0 to give no attributes). */
  readonly plus: boolean;
  /** Appends one entry; false when it did not fit (it was not added and holds no reference). */
  add(d: DirentInput): boolean;
}

/** What INIT agreed, for handlers that adapt (readdirplus, notification support…). */
export interface ConnectionInfo {
  readonly major: number;
  readonly minor: number;
  /** Kernel-offered capability flags (bigint, FUSE_* from abi.ts). */
  readonly kernelFlags: bigint;
  /** Flags we asked for and the kernel offered: the agreed capabilities. */
  readonly flags: bigint;
  readonly maxWrite: number;
  readonly maxReadahead: number;
  readonly maxPages: number;
  readonly timeGran: number;
}
