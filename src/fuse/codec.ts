// Decoding kernel requests and encoding replies. Every read is bounds-checked against the
// message length; a short or inconsistent message throws DecodeError, which the session answers
// with EINVAL (or drops, when not even the header is readable). Encoders write into buffers the
// caller owns so that the hot replies (entry, attr, read data) need no intermediate copies.

import {
  fuse_attr, fuse_attr_out, fuse_direntplus, fuse_dirent, fuse_entry_out, fuse_in_header,
  fuse_kstatfs, fuse_open_out, fuse_out_header, FUSE_NAME_OFFSET, FUSE_NAME_OFFSET_DIRENTPLUS,
  FUSE_REC_ALIGN, FUSE_COMPAT_ENTRY_OUT_SIZE, FUSE_COMPAT_ATTR_OUT_SIZE,
} from './abi.js';
import type { Attr, DirentInput, DirentList, Entry, OpenResult, StatfsResult } from './types.js';
import { direntType } from './types.js';

export class DecodeError extends Error {
  readonly code = 'EFUSEDECODE';
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const TWO32 = 2 ** 32;
/** Largest high word of a u64 that still gives a safe integer. */
const MAX_SAFE_HI = Math.floor(Number.MAX_SAFE_INTEGER / TWO32);

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  /** Length of request extensions, in bytes (total_extlen is in 8-byte units). */
  extlen: number;
}

/** Reads fuse_in_header; throws DecodeError when the message is shorter than its header says. */
export function decodeInHeader(msg: Buffer): InHeader {
  if (msg.length < fuse_in_header.size) throw new DecodeError(`message of ${msg.length} bytes is shorter than fuse_in_header`);
  const o = fuse_in_header.o;
  const len = msg.readUInt32LE(o.len);
  if (len !== msg.length) throw new DecodeError(`header says ${len} bytes, read ${msg.length}`);
  return {
    len,
    opcode: msg.readUInt32LE(o.opcode),
    unique: msg.readBigUInt64LE(o.unique),
    nodeid: readSafeU64(msg, o.nodeid),
    uid: msg.readUInt32LE(o.uid),
    gid: msg.readUInt32LE(o.gid),
    pid: msg.readUInt32LE(o.pid),
    extlen: msg.readUInt16LE(o.total_extlen) * 8,
  };
}

/** A u64 as a number; values past 2^53 are not representable and are rejected, never rounded. */
export function readSafeU64(buf: Buffer, off: number): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi > MAX_SAFE_HI) throw new DecodeError(`u64 at ${off} exceeds 2^53`);
  return hi * TWO32 + lo;
}

export function writeU64(buf: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  buf.writeUInt32LE(v - hi * TWO32, off);
  buf.writeUInt32LE(hi >>> 0, off + 4);
}

/** Signed 64-bit: only -1 needs care in practice (notify_inval_inode len = -1 means "to the end"). */
export function writeI64(buf: Buffer, off: number, v: number): void {
  if (v < 0) buf.writeBigInt64LE(BigInt(v), off);
  else writeU64(buf, off, v);
}

/**
 * A bounds-checked cursor over a request body. `end` excludes request extensions, which follow
 * the body and are not ours to parse as arguments.
 */
export class Reader {
  pos: number;
  constructor(readonly buf: Buffer, start: number, readonly end: number) {
    this.pos = start;
  }
  #need(n: number, what: string): number {
    const at = this.pos;
    if (at + n > this.end) throw new DecodeError(`truncated ${what}: need ${n} bytes at ${at}, have ${this.end - at}`);
    this.pos = at + n;
    return at;
  }
  /** Reads a struct: returns its base offset; fields are read with buf.readX(base + L.o.field). */
  struct(layout: { size: number; name: string }, size = layout.size): number {
    return this.#need(size, layout.name);
  }
  /** A NUL-terminated name (file names, xattr names, symlink targets are read with bytes()). */
  cstring(what = 'name'): string {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new DecodeError(`unterminated ${what}`);
    const s = decodeName(this.buf, this.pos, nul);
    this.pos = nul + 1;
    return s;
  }
  /** A NUL-terminated byte string, as a view (copy it to keep it). */
  cbytes(what = 'bytes'): Buffer {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new DecodeError(`unterminated ${what}`);
    const b = this.buf.subarray(this.pos, nul);
    this.pos = nul + 1;
    return b;
  }
  bytes(n: number, what = 'data'): Buffer {
    const at = this.#need(n, what);
    return this.buf.subarray(at, at + n);
  }
}

/**
 * File names are bytes to the kernel and strings to us. We decode UTF-8 and reject names that
 * do not survive the round trip (EILSEQ at the session) rather than silently renaming them.
 */
function decodeName(buf: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) { ascii = false; break; }
  }
  if (ascii) return buf.toString('latin1', start, end);
  const s = buf.toString('utf8', start, end);
  if (Buffer.byteLength(s) !== end - start || !Buffer.from(s).equals(buf.subarray(start, end))) {
    throw new InvalidNameError();
  }
  return s;
}

export class InvalidNameError extends Error {
  readonly code = 'EILSEQ';
  constructor() {
    super('file name is not valid UTF-8');
    this.name = 'InvalidNameError';
  }
}

// ---- encoders ---------------------------------------------------------------------------------

export function encodeOutHeader(buf: Buffer, len: number, error: number, unique: bigint): void {
  buf.writeUInt32LE(len, fuse_out_header.o.len);
  buf.writeInt32LE(error, fuse_out_header.o.error);
  buf.writeBigUInt64LE(unique, fuse_out_header.o.unique);
}

/** Splits fractional seconds into the kernel's (sec, nsec) pair; negative means 0. */
function writeTimeout(buf: Buffer, secOff: number, nsecOff: number, seconds: number): void {
  const s = seconds > 0 ? seconds : 0;
  const whole = Math.floor(s);
  writeU64(buf, secOff, whole);
  buf.writeUInt32LE(Math.min(999_999_999, Math.round((s - whole) * 1e9)), nsecOff);
}

export function encodeAttr(buf: Buffer, base: number, a: Attr): void {
  const o = fuse_attr.o;
  writeU64(buf, base + o.ino, a.ino);
  writeU64(buf, base + o.size, a.size);
  writeU64(buf, base + o.blocks, a.blocks ?? Math.ceil(a.size / 512));
  writeU64(buf, base + o.atime, a.atimeSec);
  writeU64(buf, base + o.mtime, a.mtimeSec);
  writeU64(buf, base + o.ctime, a.ctimeSec);
  buf.writeUInt32LE(a.atimeNsec, base + o.atimensec);
  buf.writeUInt32LE(a.mtimeNsec, base + o.mtimensec);
  buf.writeUInt32LE(a.ctimeNsec, base + o.ctimensec);
  buf.writeUInt32LE(a.mode >>> 0, base + o.mode);
  buf.writeUInt32LE(a.nlink, base + o.nlink);
  buf.writeUInt32LE(a.uid, base + o.uid);
  buf.writeUInt32LE(a.gid, base + o.gid);
  buf.writeUInt32LE(a.rdev ?? 0, base + o.rdev);
  buf.writeUInt32LE(a.blksize ?? 4096, base + o.blksize);
  buf.writeUInt32LE(0, base + o.flags);
}

/** fuse_entry_out; protocol minors below 9 get the 120-byte compat form. Returns bytes written. */
export function encodeEntryOut(buf: Buffer, base: number, e: Entry, minor: number): number {
  const o = fuse_entry_out.o;
  writeU64(buf, base + o.nodeid, e.nodeid);
  writeU64(buf, base + o.generation, e.generation ?? 0);
  writeTimeout(buf, base + o.entry_valid, base + o.entry_valid_nsec, e.entryTimeout);
  writeTimeout(buf, base + o.attr_valid, base + o.attr_valid_nsec, e.attrTimeout);
  encodeAttr(buf, base + o.attr, e.attr);
  return minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE : fuse_entry_out.size;
}

export function entryOutSize(minor: number): number {
  return minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE : fuse_entry_out.size;
}

export function attrOutSize(minor: number): number {
  return minor < 9 ? FUSE_COMPAT_ATTR_OUT_SIZE : fuse_attr_out.size;
}

export function encodeAttrOut(buf: Buffer, base: number, attr: Attr, attrTimeout: number): void {
  const o = fuse_attr_out.o;
  writeTimeout(buf, base + o.attr_valid, base + o.attr_valid_nsec, attrTimeout);
  buf.writeUInt32LE(0, base + o.dummy);
  encodeAttr(buf, base + o.attr, attr);
}

export function encodeOpenOut(buf: Buffer, base: number, r: OpenResult): void {
  const o = fuse_open_out.o;
  writeU64(buf, base + o.fh, r.fh);
  buf.writeUInt32LE(r.openFlags ?? 0, base + o.open_flags);
  buf.writeUInt32LE(0, base + o.padding);
}

export function encodeStatfs(buf: Buffer, base: number, s: StatfsResult): void {
  const o = fuse_kstatfs.o;
  buf.fill(0, base, base + fuse_kstatfs.size);
  writeU64(buf, base + o.blocks, s.blocks);
  writeU64(buf, base + o.bfree, s.bfree);
  writeU64(buf, base + o.bavail, s.bavail);
  writeU64(buf, base + o.files, s.files);
  writeU64(buf, base + o.ffree, s.ffree);
  buf.writeUInt32LE(s.bsize, base + o.bsize);
  buf.writeUInt32LE(s.namelen, base + o.namelen);
  buf.writeUInt32LE(s.frsize, base + o.frsize);
}

/**
 * The READDIR / READDIRPLUS reply: a buffer of the size the kernel asked for, filled with
 * 8-byte-aligned records until the next one does not fit.
 */
export class DirentBuffer implements DirentList {
  readonly buf: Buffer;
  /** Node ids of READDIRPLUS entries with attributes: each one is a kernel lookup reference. */
  readonly references: number[] = [];
  #pos = 0;
  constructor(size: number, readonly plus: boolean, readonly minor: number) {
    this.buf = Buffer.alloc(size);
  }
  get length(): number {
    return this.#pos;
  }
  add(d: DirentInput): boolean {
    const nameLen = Buffer.byteLength(d.name);
    const fixed = this.plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
    const rec = FUSE_REC_ALIGN(fixed + nameLen);
    if (this.#pos + rec > this.buf.length) return false;
    const base = this.#pos;
    let dirent = base;
    const type = d.type ?? (d.entry ? direntType(d.entry.attr.mode) : 0);
    if (this.plus) {
      if (d.entry) {
        encodeEntryOut(this.buf, base, d.entry, this.minor);
        if (d.entry.nodeid) this.references.push(d.entry.nodeid);
      }
      // else: left zeroed; nodeid 0 tells the kernel "no attributes for this one".
      dirent = base + fuse_direntplus.o.dirent;
    }
    const o = fuse_dirent.o;
    writeU64(this.buf, dirent + o.ino, d.ino);
    writeU64(this.buf, dirent + o.off, d.off);
    this.buf.writeUInt32LE(nameLen, dirent + o.namelen);
    this.buf.writeUInt32LE(type, dirent + o.type);
    this.buf.write(d.name, dirent + fuse_dirent.size, nameLen, 'utf8');
    this.#pos = base + rec;
    return true;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.#pos);
  }
}
