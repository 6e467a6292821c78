// The opcode table: one row per FUSE operation we serve, read by the session for dispatch and
// by tests for coverage. A row decodes the request body, calls the handler method, and encodes
// the handler's result as the reply payload (the session adds fuse_out_header). Opcodes without
// a row (INIT, INTERRUPT and DESTROY are handled by the session itself) are answered ENOSYS.

import * as abi from './abi.js';
import {
  DirentBuffer, Reader, attrOutSize, encodeAttrOut, encodeEntryOut, encodeOpenOut, encodeStatfs,
  entryOutSize, readSafeU64, writeU64, DecodeError,
} from './codec.js';
import { FuseError } from './errno.js';
import type { AttrResult, CreateResult, FuseHandler, RequestContext, SetattrChanges } from './handler.js';
import type { Entry, OpenResult, StatfsResult } from './types.js';

/** What decoding depends on, fixed at INIT. */
export interface Negotiated {
  readonly minor: number;
  /** FUSE_SETXATTR_EXT agreed: fuse_setxattr_in is 16 bytes instead of 8. */
  readonly setxattrExt: boolean;
}

/** A reply payload (without fuse_out_header), or null for operations that take no reply. */
export type Payload = Buffer | readonly Buffer[] | null;

export interface OpRow<A = any, R = any> {
  readonly opcode: number;
  readonly name: abi.FuseOpcodeName;
  decode(r: Reader, neg: Negotiated): A;
  call(h: FuseHandler, ctx: RequestContext, nodeid: number, args: A): R | Promise<R>;
  encode(result: R, args: A, neg: Negotiated): Payload;
  /**
   * Node ids whose lookup count the reply adds to. When the reply cannot be delivered (the
   * request was interrupted meanwhile), the session hands them back to forget() so the
   * handler's counts stay equal to the kernel's.
   */
  references?(result: R, args: A): readonly number[];
}

const EMPTY: Buffer = Buffer.alloc(0);

function row<A, R>(name: abi.FuseOpcodeName, r: Omit<OpRow<A, R>, 'opcode' | 'name'>): OpRow<A, R> {
  return { opcode: abi.fuse_opcode[name], name, ...r };
}

/** The reply of every operation that creates a name (lookup, mknod, mkdir, symlink, link). */
function entryReply(e: Entry, _args: unknown, neg: Negotiated): Buffer {
  return entryPayload(e, neg);
}

function entryRefs(e: Entry): number[] {
  return e.nodeid ? [e.nodeid] : [];
}

function entryPayload(e: Entry, neg: Negotiated): Buffer {
  const b = Buffer.alloc(entryOutSize(neg.minor));
  encodeEntryOut(b, 0, e, neg.minor);
  return b;
}

function attrPayload(r: AttrResult, neg: Negotiated): Buffer {
  const b = Buffer.alloc(Math.max(abi.fuse_attr_out.size, attrOutSize(neg.minor)));
  encodeAttrOut(b, 0, r.attr, r.attrTimeout);
  return b.subarray(0, attrOutSize(neg.minor));
}

function openPayload(r: OpenResult): Buffer {
  const b = Buffer.alloc(abi.fuse_open_out.size);
  encodeOpenOut(b, 0, r);
  return b;
}

function u32Payload(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(v, 0);
  return b;
}

/** Applies the xattr size-probe protocol: size 0 asks for the length, too small is ERANGE. */
function xattrPayload(value: Buffer, size: number): Payload {
  if (size === 0) return u32Payload(value.length);
  if (value.length > size) throw new FuseError('ERANGE');
  return value;
}

const none = (): Payload => EMPTY;

/** Both FUSE_FORGET (one node) and FUSE_BATCH_FORGET (many) become handler.forget(items). */
function decodeBatchForget(r: Reader): { nodeid: number; nlookup: number }[] {
  const base = r.struct(abi.fuse_batch_forget_in);
  const count = r.buf.readUInt32LE(base + abi.fuse_batch_forget_in.o.count);
  const items: { nodeid: number; nlookup: number }[] = [];
  for (let i = 0; i < count; i++) {
    const b = r.struct(abi.fuse_forget_one);
    items.push({
      nodeid: readSafeU64(r.buf, b + abi.fuse_forget_one.o.nodeid),
      nlookup: readSafeU64(r.buf, b + abi.fuse_forget_one.o.nlookup),
    });
  }
  return items;
}

function decodeSetattr(r: Reader): SetattrChanges {
  const L = abi.fuse_setattr_in;
  const b = r.struct(L);
  const buf = r.buf;
  const valid = buf.readUInt32LE(b + L.o.valid);
  const c: SetattrChanges = {};
  if (valid & abi.FATTR_MODE) c.mode = buf.readUInt32LE(b + L.o.mode);
  if (valid & abi.FATTR_UID) c.uid = buf.readUInt32LE(b + L.o.uid);
  if (valid & abi.FATTR_GID) c.gid = buf.readUInt32LE(b + L.o.gid);
  if (valid & abi.FATTR_SIZE) c.size = sizeArg(buf, b + L.o.size);
  if (valid & abi.FATTR_ATIME_NOW) c.atime = 'now';
  else if (valid & abi.FATTR_ATIME) c.atime = { sec: readSafeU64(buf, b + L.o.atime), nsec: buf.readUInt32LE(b + L.o.atimensec) };
  if (valid & abi.FATTR_MTIME_NOW) c.mtime = 'now';
  else if (valid & abi.FATTR_MTIME) c.mtime = { sec: readSafeU64(buf, b + L.o.mtime), nsec: buf.readUInt32LE(b + L.o.mtimensec) };
  if (valid & abi.FATTR_CTIME) c.ctime = { sec: readSafeU64(buf, b + L.o.ctime), nsec: buf.readUInt32LE(b + L.o.ctimensec) };
  if (valid & abi.FATTR_FH) c.fh = readSafeU64(buf, b + L.o.fh);
  if (valid & abi.FATTR_KILL_SUIDGID) c.killSuidgid = true;
  return c;
}

/** Sizes and offsets past 2^53 cannot be files we hold: EFBIG, like a filesystem size limit. */
function sizeArg(buf: Buffer, off: number): number {
  try {
    return readSafeU64(buf, off);
  } catch (e) {
    if (e instanceof DecodeError) throw new FuseError('EFBIG');
    throw e;
  }
}

/** `writeFlags`: fuse_write_in.write_flags (FUSE_WRITE_*); 0 for reads. */
type RWArgs = { fh: number; offset: number; size: number; flags: number; writeFlags: number };

function decodeReadWrite(r: Reader, L: typeof abi.fuse_read_in | typeof abi.fuse_write_in, minor: number): RWArgs {
  // Before 7.9 fuse_write_in was 24 bytes (no lock_owner / flags).
  const size = L === abi.fuse_write_in && minor < 9 ? abi.FUSE_COMPAT_WRITE_IN_SIZE : L.size;
  const b = r.struct(L, size);
  return {
    fh: readSafeU64(r.buf, b + L.o.fh),
    offset: sizeArg(r.buf, b + L.o.offset),
    size: r.buf.readUInt32LE(b + L.o.size),
    flags: size >= L.size ? r.buf.readUInt32LE(b + L.o.flags) : 0,
    writeFlags: L === abi.fuse_write_in ? r.buf.readUInt32LE(b + abi.fuse_write_in.o.write_flags) : 0,
  };
}

function decodeOpen(r: Reader): number {
  const b = r.struct(abi.fuse_open_in);
  return r.buf.readUInt32LE(b + abi.fuse_open_in.o.flags);
}

function decodeFsync(r: Reader): { fh: number; datasync: boolean } {
  const L = abi.fuse_fsync_in;
  const b = r.struct(L);
  return { fh: readSafeU64(r.buf, b + L.o.fh), datasync: (r.buf.readUInt32LE(b + L.o.fsync_flags) & abi.FUSE_FSYNC_FDATASYNC) !== 0 };
}

function decodeRelease(r: Reader): { fh: number; flags: number } {
  const L = abi.fuse_release_in;
  const b = r.struct(L);
  return { fh: readSafeU64(r.buf, b + L.o.fh), flags: r.buf.readUInt32LE(b + L.o.flags) };
}

type RenameArgs = { name: string; newParent: number; newName: string; flags: number };

function decodeRename(r: Reader, two: boolean): RenameArgs {
  const L = two ? abi.fuse_rename2_in : abi.fuse_rename_in;
  const b = r.struct(L);
  const newParent = readSafeU64(r.buf, b);
  const flags = two ? r.buf.readUInt32LE(b + abi.fuse_rename2_in.o.flags) : 0;
  const name = r.cstring();
  return { name, newParent, newName: r.cstring(), flags };
}

function decodeGetxattrSize(r: Reader): number {
  const b = r.struct(abi.fuse_getxattr_in);
  return r.buf.readUInt32LE(b + abi.fuse_getxattr_in.o.size);
}

function readdirRow(name: 'FUSE_READDIR' | 'FUSE_READDIRPLUS'): OpRow {
  const plus = name === 'FUSE_READDIRPLUS';
  return row<RWArgs & { list: DirentBuffer }, void>(name, {
    decode: (r, neg) => {
      const a = decodeReadWrite(r, abi.fuse_read_in, neg.minor);
      return { ...a, list: new DirentBuffer(a.size, plus, neg.minor) };
    },
    call: (h, ctx, n, a) => h.readdir(ctx, n, a.fh, a.offset, a.list),
    encode: (_r, a) => a.list.bytes(),
    references: (_r, a) => a.list.references,
  });
}

export const OPS: readonly OpRow[] = [
  row<string, Entry>('FUSE_LOOKUP', {
    decode: (r) => r.cstring(),
    call: (h, ctx, n, name) => h.lookup(ctx, n, name),
    encode: entryReply,
    references: entryRefs,
  }),
  row<number, void>('FUSE_FORGET', {
    decode: (r) => readSafeU64(r.buf, r.struct(abi.fuse_forget_in) + abi.fuse_forget_in.o.nlookup),
    call: (h, _ctx, nodeid, nlookup) => h.forget([{ nodeid, nlookup }]),
    encode: () => null,
  }),
  row<{ nodeid: number; nlookup: number }[], void>('FUSE_BATCH_FORGET', {
    decode: decodeBatchForget,
    call: (h, _ctx, _n, items) => h.forget(items),
    encode: () => null,
  }),
  row<number | undefined, AttrResult>('FUSE_GETATTR', {
    decode: (r, neg) => {
      if (neg.minor < 9) return undefined;
      const L = abi.fuse_getattr_in;
      const b = r.struct(L);
      const flags = r.buf.readUInt32LE(b + L.o.getattr_flags);
      return flags & abi.FUSE_GETATTR_FH ? readSafeU64(r.buf, b + L.o.fh) : undefined;
    },
    call: (h, ctx, n, fh) => h.getattr(ctx, n, fh),
    encode: (res, _a, neg) => attrPayload(res, neg),
  }),
  row<SetattrChanges, AttrResult>('FUSE_SETATTR', {
    decode: decodeSetattr,
    call: (h, ctx, n, c) => h.setattr(ctx, n, c),
    encode: (res, _a, neg) => attrPayload(res, neg),
  }),
  row<void, Buffer>('FUSE_READLINK', {
    decode: () => undefined,
    call: (h, ctx, n) => h.readlink(ctx, n),
    encode: (target) => target,
  }),
  row<{ name: string; target: Buffer }, Entry>('FUSE_SYMLINK', {
    decode: (r) => {
      const name = r.cstring();
      return { name, target: Buffer.from(r.cbytes('symlink target')) };
    },
    call: (h, ctx, n, a) => h.symlink(ctx, n, a.name, a.target),
    encode: entryReply,
    references: entryRefs,
  }),
  row<{ mode: number; rdev: number; umask: number; name: string }, Entry>('FUSE_MKNOD', {
    decode: (r, neg) => {
      const L = abi.fuse_mknod_in;
      const b = r.struct(L, neg.minor < 12 ? abi.FUSE_COMPAT_MKNOD_IN_SIZE : L.size);
      const umask = neg.minor < 12 ? 0 : r.buf.readUInt32LE(b + L.o.umask);
      return { mode: r.buf.readUInt32LE(b + L.o.mode), rdev: r.buf.readUInt32LE(b + L.o.rdev), umask, name: r.cstring() };
    },
    call: (h, ctx, n, a) => h.mknod(ctx, n, a.name, a.mode, a.rdev, a.umask),
    encode: entryReply,
    references: entryRefs,
  }),
  row<{ mode: number; umask: number; name: string }, Entry>('FUSE_MKDIR', {
    decode: (r) => {
      const L = abi.fuse_mkdir_in;
      const b = r.struct(L);
      return { mode: r.buf.readUInt32LE(b + L.o.mode), umask: r.buf.readUInt32LE(b + L.o.umask), name: r.cstring() };
    },
    call: (h, ctx, n, a) => h.mkdir(ctx, n, a.name, a.mode, a.umask),
    encode: entryReply,
    references: entryRefs,
  }),
  row<string, void>('FUSE_UNLINK', { decode: (r) => r.cstring(), call: (h, ctx, n, name) => h.unlink(ctx, n, name), encode: none }),
  row<string, void>('FUSE_RMDIR', { decode: (r) => r.cstring(), call: (h, ctx, n, name) => h.rmdir(ctx, n, name), encode: none }),
  row<RenameArgs, void>('FUSE_RENAME', {
    decode: (r) => decodeRename(r, false),
    call: (h, ctx, n, a) => h.rename(ctx, n, a.name, a.newParent, a.newName, a.flags),
    encode: none,
  }),
  row<RenameArgs, void>('FUSE_RENAME2', {
    decode: (r) => decodeRename(r, true),
    call: (h, ctx, n, a) => h.rename(ctx, n, a.name, a.newParent, a.newName, a.flags),
    encode: none,
  }),
  row<{ oldNode: number; name: string }, Entry>('FUSE_LINK', {
    decode: (r) => {
      const b = r.struct(abi.fuse_link_in);
      return { oldNode: readSafeU64(r.buf, b + abi.fuse_link_in.o.oldnodeid), name: r.cstring() };
    },
    // The request's nodeid is the new parent; the node being linked travels in the body.
    call: (h, ctx, n, a) => h.link(ctx, a.oldNode, n, a.name),
    encode: entryReply,
    references: entryRefs,
  }),
  row<number, OpenResult>('FUSE_OPEN', { decode: decodeOpen, call: (h, ctx, n, f) => h.open(ctx, n, f), encode: openPayload }),
  row<RWArgs, Buffer | Buffer[]>('FUSE_READ', {
    decode: (r, neg) => decodeReadWrite(r, abi.fuse_read_in, neg.minor),
    call: (h, ctx, n, a) => h.read(ctx, n, a.fh, a.offset, a.size),
    encode: (data, a) => clampData(data, a.size),
  }),
  row<RWArgs & { data: Buffer }, number>('FUSE_WRITE', {
    decode: (r, neg) => {
      const a = decodeReadWrite(r, abi.fuse_write_in, neg.minor);
      return { ...a, data: r.bytes(a.size, 'write data') };
    },
    call: (h, ctx, n, a) => h.write(ctx, n, a.fh, a.offset, a.data, a.flags, a.writeFlags),
    encode: (written) => u32Payload(written),
  }),
  row<void, StatfsResult>('FUSE_STATFS', {
    decode: () => undefined,
    call: (h, ctx, n) => h.statfs(ctx, n),
    encode: (s, _a, neg) => {
      const b = Buffer.alloc(abi.fuse_statfs_out.size);
      encodeStatfs(b, 0, s);
      return neg.minor < 4 ? b.subarray(0, 48) : b;
    },
  }),
  row<{ fh: number; flags: number }, void>('FUSE_RELEASE', {
    decode: decodeRelease,
    call: (h, ctx, n, a) => h.release(ctx, n, a.fh, a.flags),
    encode: none,
  }),
  row<{ fh: number; datasync: boolean }, void>('FUSE_FSYNC', {
    decode: decodeFsync,
    call: (h, ctx, n, a) => h.fsync(ctx, n, a.fh, a.datasync),
    encode: none,
  }),
  row<{ name: string; value: Buffer; flags: number }, void>('FUSE_SETXATTR', {
    decode: (r, neg) => {
      const L = abi.fuse_setxattr_in;
      const b = r.struct(L, neg.setxattrExt ? L.size : abi.FUSE_COMPAT_SETXATTR_IN_SIZE);
      const size = r.buf.readUInt32LE(b + L.o.size);
      const flags = r.buf.readUInt32LE(b + L.o.flags);
      const name = r.cstring('xattr name');
      return { name, value: Buffer.from(r.bytes(size, 'xattr value')), flags };
    },
    call: (h, ctx, n, a) => h.setxattr(ctx, n, a.name, a.value, a.flags),
    encode: none,
  }),
  row<{ size: number; name: string }, Buffer>('FUSE_GETXATTR', {
    decode: (r) => {
      const size = decodeGetxattrSize(r);
      return { size, name: r.cstring('xattr name') };
    },
    call: (h, ctx, n, a) => h.getxattr(ctx, n, a.name),
    encode: (value, a) => xattrPayload(value, a.size),
  }),
  row<number, string[]>('FUSE_LISTXATTR', {
    decode: decodeGetxattrSize,
    call: (h, ctx, n) => h.listxattr(ctx, n),
    encode: (names, size) => xattrPayload(Buffer.from(names.map((s) => s + '\0').join('')), size),
  }),
  row<string, void>('FUSE_REMOVEXATTR', {
    decode: (r) => r.cstring('xattr name'),
    call: (h, ctx, n, name) => h.removexattr(ctx, n, name),
    encode: none,
  }),
  row<{ fh: number; lockOwner: bigint }, void>('FUSE_FLUSH', {
    decode: (r) => {
      const L = abi.fuse_flush_in;
      const b = r.struct(L);
      return { fh: readSafeU64(r.buf, b + L.o.fh), lockOwner: r.buf.readBigUInt64LE(b + L.o.lock_owner) };
    },
    call: (h, ctx, n, a) => h.flush(ctx, n, a.fh, a.lockOwner),
    encode: none,
  }),
  row<number, OpenResult>('FUSE_OPENDIR', { decode: decodeOpen, call: (h, ctx, n, f) => h.opendir(ctx, n, f), encode: openPayload }),
  readdirRow('FUSE_READDIR'),
  readdirRow('FUSE_READDIRPLUS'),
  row<{ fh: number; flags: number }, void>('FUSE_RELEASEDIR', {
    decode: decodeRelease,
    call: (h, ctx, n, a) => h.releasedir(ctx, n, a.fh),
    encode: none,
  }),
  row<{ fh: number; datasync: boolean }, void>('FUSE_FSYNCDIR', {
    decode: decodeFsync,
    call: (h, ctx, n, a) => h.fsyncdir(ctx, n, a.fh, a.datasync),
    encode: none,
  }),
  row<number, void>('FUSE_ACCESS', {
    decode: (r) => {
      const b = r.struct(abi.fuse_access_in);
      return r.buf.readUInt32LE(b + abi.fuse_access_in.o.mask);
    },
    call: (h, ctx, n, mask) => h.access(ctx, n, mask),
    encode: none,
  }),
  row<{ flags: number; mode: number; umask: number; name: string }, CreateResult>('FUSE_CREATE', {
    decode: (r) => {
      const L = abi.fuse_create_in;
      const b = r.struct(L);
      const buf = r.buf;
      return { flags: buf.readUInt32LE(b + L.o.flags), mode: buf.readUInt32LE(b + L.o.mode), umask: buf.readUInt32LE(b + L.o.umask), name: r.cstring() };
    },
    call: (h, ctx, n, a) => h.create(ctx, n, a.name, a.mode, a.flags, a.umask),
    encode: (res, _a, neg) => [entryPayload(res.entry, neg), openPayload(res.open)],
    references: (res) => entryRefs(res.entry),
  }),
  row<{ fh: number; offset: number; whence: number }, number>('FUSE_LSEEK', {
    decode: (r) => {
      const L = abi.fuse_lseek_in;
      const b = r.struct(L);
      return { fh: readSafeU64(r.buf, b + L.o.fh), offset: sizeArg(r.buf, b + L.o.offset), whence: r.buf.readUInt32LE(b + L.o.whence) };
    },
    call: (h, ctx, n, a) => h.lseek(ctx, n, a.fh, a.offset, a.whence),
    encode: (off) => {
      const b = Buffer.alloc(abi.fuse_lseek_out.size);
      writeU64(b, 0, off);
      return b;
    },
  }),
  row<{ fh: number; offset: number; length: number; mode: number }, void>('FUSE_FALLOCATE', {
    decode: (r) => {
      const L = abi.fuse_fallocate_in;
      const b = r.struct(L);
      const buf = r.buf;
      return { fh: readSafeU64(buf, b + L.o.fh), offset: sizeArg(buf, b + L.o.offset), length: sizeArg(buf, b + L.o.length), mode: buf.readUInt32LE(b + L.o.mode) };
    },
    call: (h, ctx, n, a) => h.fallocate(ctx, n, a.fh, a.offset, a.length, a.mode),
    encode: none,
  }),
];

/** Dispatch index by opcode number. */
export const OPS_BY_OPCODE: ReadonlyMap<number, OpRow> = new Map(OPS.map((r) => [r.opcode, r]));

/** Names by opcode number, for every opcode the ABI defines (logging of unknown ops). */
export const OPCODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(abi.fuse_opcode).map(([k, v]) => [v, k]),
);

function clampData(data: Buffer | Buffer[], max: number): Payload {
  if (!Array.isArray(data)) return data.length > max ? data.subarray(0, max) : data;
  let left = max;
  const out: Buffer[] = [];
  for (const d of data) {
    if (left <= 0) break;
    out.push(d.length > left ? d.subarray(0, left) : d);
    left -= d.length;
  }
  return out;
}
