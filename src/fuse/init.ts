// FUSE_INIT negotiation. The kernel offers its protocol version and capability flags; we answer
// with min(kernel minor, ours) and the subset of capabilities we want and it offers. What was
// agreed is recorded in ConnectionInfo for handlers (readdirplus, expire-only invalidation…).

import * as abi from './abi.js';
import { Reader, DecodeError } from './codec.js';
import type { ConnectionInfo } from './types.js';

/** Knobs for INIT. Defaults suit a read-mostly filesystem that invalidates caches precisely. */
export interface InitOptions {
  /** FUSE_WRITEBACK_CACHE: the kernel buffers writes and flushes them later. Default off. */
  writebackCache?: boolean;
  /** READDIRPLUS: 'auto' lets the kernel choose per directory (default), 'always', or 'off'. */
  readdirplus?: 'auto' | 'always' | 'off';
  /**
   * FUSE_EXPORT_SUPPORT: the handler answers lookups of "." and ".." so the mount can be
   * exported over NFS. Default off, and then FUSE_NO_EXPORT_SUPPORT is sent where offered.
   */
  exportSupport?: boolean;
  /**
   * Data cache policy. 'auto' (FUSE_AUTO_INVAL_DATA, default): the kernel drops cached pages when
   * it sees mtime or size change. 'explicit' (FUSE_EXPLICIT_INVAL_DATA): only notify_inval_inode
   * drops them — for filesystems whose file contents are immutable per generation.
   */
  dataCache?: 'auto' | 'explicit';
  /** Pages per request (FUSE_MAX_PAGES): bounds READ reply size. Default 256 (1 MiB). */
  maxPages?: number;
  /** Kernel readahead window in bytes; capped by what the kernel offers. Default 1 MiB. */
  maxReadahead?: number;
  /** Background (async read-ahead, async direct io) requests in flight. Default 64. */
  maxBackground?: number;
  /** FUSE_ATOMIC_O_TRUNC: O_TRUNC arrives in open() flags instead of a separate setattr. Default off. */
  atomicOTrunc?: boolean;
  /**
   * FUSE_HANDLE_KILLPRIV_V2: the filesystem clears set-id bits itself (FUSE_WRITE_KILL_SUIDGID on
   * WRITE, FATTR_KILL_SUIDGID on SETATTR) and keeps no security.capability xattr. The kernel then
   * marks the superblock SB_NOSEC and stops asking GETXATTR("security.capability") before every
   * write of an inode (one round trip per WRITE otherwise). Default off.
   */
  handleKillpriv?: boolean;
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
}

export function decodeInitIn(r: Reader): InitIn {
  const L = abi.fuse_init_in;
  // Kernels before 7.36 send only the first 16 bytes; flags2 is valid only with FUSE_INIT_EXT.
  if (r.end - r.pos < 16) throw new DecodeError('truncated fuse_init_in');
  const b = r.pos;
  const major = r.buf.readUInt32LE(b + L.o.major);
  const minor = r.buf.readUInt32LE(b + L.o.minor);
  let flags = BigInt(r.buf.readUInt32LE(b + L.o.flags));
  if ((flags & abi.FUSE_INIT_EXT) !== 0n && r.end - r.pos >= 20) {
    flags |= BigInt(r.buf.readUInt32LE(b + L.o.flags2)) << 32n;
  }
  return { major, minor, maxReadahead: r.buf.readUInt32LE(b + L.o.max_readahead), flags };
}

export interface InitOutcome {
  /** The reply payload (fuse_init_out, truncated to the size the agreed minor knows). */
  payload: Buffer;
  /** Undefined when the kernel must retry with a lower major version. */
  info?: ConnectionInfo;
}

function wantedFlags(o: InitOptions): bigint {
  let f = abi.FUSE_ASYNC_READ | abi.FUSE_BIG_WRITES | abi.FUSE_PARALLEL_DIROPS | abi.FUSE_MAX_PAGES |
    abi.FUSE_CACHE_SYMLINKS | abi.FUSE_SETXATTR_EXT | abi.FUSE_INIT_EXT | abi.FUSE_HAS_EXPIRE_ONLY |
    abi.FUSE_ASYNC_DIO;
  if (o.writebackCache) f |= abi.FUSE_WRITEBACK_CACHE;
  const rdp = o.readdirplus ?? 'auto';
  if (rdp !== 'off') f |= abi.FUSE_DO_READDIRPLUS;
  if (rdp === 'auto') f |= abi.FUSE_READDIRPLUS_AUTO;
  f |= o.exportSupport ? abi.FUSE_EXPORT_SUPPORT : abi.FUSE_NO_EXPORT_SUPPORT;
  f |= (o.dataCache ?? 'auto') === 'explicit' ? abi.FUSE_EXPLICIT_INVAL_DATA : abi.FUSE_AUTO_INVAL_DATA;
  if (o.atomicOTrunc) f |= abi.FUSE_ATOMIC_O_TRUNC;
  if (o.handleKillpriv) f |= abi.FUSE_HANDLE_KILLPRIV_V2;
  return f;
}

/**
 * Answers INIT. `maxWrite` is what our device can read in one message minus the request header
 * room (see device.ts); the kernel never sends a WRITE larger than that.
 */
export function negotiateInit(k: InitIn, o: InitOptions, maxWrite: number): InitOutcome {
  const L = abi.fuse_init_out;
  const payload = Buffer.alloc(L.size);
  payload.writeUInt32LE(abi.FUSE_KERNEL_VERSION, L.o.major);
  if (k.major > abi.FUSE_KERNEL_VERSION) {
    // Newer major: answer with ours only; the kernel sends a new INIT with our major.
    payload.writeUInt32LE(abi.FUSE_KERNEL_MINOR_VERSION, L.o.minor);
    return { payload: payload.subarray(0, abi.FUSE_COMPAT_INIT_OUT_SIZE) };
  }
  if (k.major < abi.FUSE_KERNEL_VERSION || k.minor < abi.FUSE_MIN_MINOR_VERSION) {
    throw new Error(`kernel FUSE protocol ${k.major}.${k.minor} is older than the 7.${abi.FUSE_MIN_MINOR_VERSION} we need`);
  }
  const minor = Math.min(k.minor, abi.FUSE_KERNEL_MINOR_VERSION);
  const flags = wantedFlags(o) & k.flags;
  const maxPages = flags & abi.FUSE_MAX_PAGES ? Math.min(o.maxPages ?? 256, 0xffff) : 32;
  const maxReadahead = Math.min(k.maxReadahead, o.maxReadahead ?? 1 << 20);
  const maxBackground = o.maxBackground ?? 64;
  payload.writeUInt32LE(minor, L.o.minor);
  payload.writeUInt32LE(maxReadahead, L.o.max_readahead);
  payload.writeUInt32LE(Number(flags & 0xffffffffn), L.o.flags);
  payload.writeUInt16LE(maxBackground, L.o.max_background);
  payload.writeUInt16LE(Math.floor((maxBackground * 3) / 4), L.o.congestion_threshold);
  payload.writeUInt32LE(maxWrite, L.o.max_write);
  payload.writeUInt32LE(1, L.o.time_gran);
  payload.writeUInt16LE(maxPages, L.o.max_pages);
  payload.writeUInt32LE(Number(flags >> 32n), L.o.flags2);
  const size = minor < 5 ? abi.FUSE_COMPAT_INIT_OUT_SIZE : minor < 23 ? abi.FUSE_COMPAT_22_INIT_OUT_SIZE : L.size;
  return {
    payload: payload.subarray(0, size),
    info: { major: abi.FUSE_KERNEL_VERSION, minor, kernelFlags: k.flags, flags, maxWrite, maxReadahead, maxPages, timeGran: 1 },
  };
}
