// Hand-made packs for tests: what real git never writes (a REF_DELTA before its base, cycles,
// reserved opcodes, lying sizes), written from the format description, independent of the
// reader's code. Also encodes delta instructions, and a side-band response around a pack.

import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import type { Oid } from '../../model/ids.js';
import { encodePktLine, FLUSH_PKT } from '../pkt-line.js';

/** Type codes of entry headers. */
export const TYPE = { commit: 1, tree: 2, blob: 3, tag: 4, ofsDelta: 6, refDelta: 7 } as const;

export interface EntrySpec {
  /** 3-bit type code (any value, for hostile tests). */
  code: number;
  /** Inflated data: content or delta instructions. */
  data: Buffer;
  /** OFS_DELTA: index of the base entry in this list (must be earlier). */
  ofsBase?: number;
  /** OFS_DELTA: a raw distance instead (hostile tests). */
  ofsDistance?: number;
  /** REF_DELTA: the base object's id. */
  refBase?: Oid;
  /** Size written in the header; default data.length. */
  declaredSize?: number;
  /** The compressed bytes written instead of deflate(data). */
  raw?: Buffer;
}

/** The entry header: type and size, 4 bits then 7 bits per byte, least significant first. */
export function entryHeader(code: number, size: number): Buffer {
  const out: number[] = [];
  let byte = ((code & 7) << 4) | (size % 16);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out.push(byte | 0x80);
    byte = rest % 128;
    rest = Math.floor(rest / 128);
  }
  out.push(byte);
  return Buffer.from(out);
}

/** An OFS_DELTA distance: big-endian 7-bit groups, each continuation adding one. */
export function encodeDistance(distance: number): Buffer {
  const out = [distance & 0x7f];
  let n = distance >>> 7;
  while (n > 0) {
    n -= 1;
    out.unshift(0x80 | (n & 0x7f));
    n >>>= 7;
  }
  return Buffer.from(out);
}

/** Packs `entries` with a correct header, count and checksum (unless `count` says otherwise). */
export function buildPack(entries: readonly EntrySpec[], opts: { count?: number; version?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(opts.version ?? 2, 4);
  header.writeUInt32BE(opts.count ?? entries.length, 8);
  const parts: Buffer[] = [header];
  const offsets: number[] = [];
  let at = header.length;
  for (const e of entries) {
    offsets.push(at);
    const part = Buffer.concat([
      entryHeader(e.code, e.declaredSize ?? e.data.length),
      baseRef(e, at, offsets),
      e.raw ?? deflateSync(e.data),
    ]);
    parts.push(part);
    at += part.length;
  }
  return seal(Buffer.concat(parts));
}

function baseRef(e: EntrySpec, at: number, offsets: readonly number[]): Buffer {
  if (e.ofsDistance !== undefined) return encodeDistance(e.ofsDistance);
  if (e.ofsBase !== undefined) return encodeDistance(at - offsets[e.ofsBase]!);
  if (e.refBase !== undefined) return Buffer.from(e.refBase, 'hex');
  return Buffer.alloc(0);
}

/** Appends the SHA-1 trailer. */
export function seal(body: Buffer): Buffer {
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/** Replaces the trailer of `pack` with a correct one (for packs altered on purpose). */
export function reseal(pack: Buffer): Buffer {
  return seal(pack.subarray(0, pack.length - 20));
}

function sizeVarint(n: number): Buffer {
  const out: number[] = [];
  do {
    const b = n % 128;
    n = Math.floor(n / 128);
    out.push(n > 0 ? b | 0x80 : b);
  } while (n > 0);
  return Buffer.from(out);
}

/** Delta instructions: source size, target size, then the ops. */
export function delta(sourceSize: number, targetSize: number, ...ops: Buffer[]): Buffer {
  return Buffer.concat([sizeVarint(sourceSize), sizeVarint(targetSize), ...ops]);
}

/** A copy op; a size of 0x10000 is written as no size bytes (the format's special case). */
export function copyOp(offset: number, size: number): Buffer {
  let op = 0x80;
  const bytes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = Math.floor(offset / 2 ** (8 * i)) & 0xff;
    if (b) { op |= 1 << i; bytes.push(b); }
  }
  const encoded = size === 0x10000 ? 0 : size;
  for (let i = 0; i < 3; i++) {
    const b = (encoded >> (8 * i)) & 0xff;
    if (b) { op |= 0x10 << i; bytes.push(b); }
  }
  return Buffer.from([op, ...bytes]);
}

/** An insert op with 1-127 literal bytes. */
export function insertOp(bytes: Buffer | string): Buffer {
  const b = Buffer.from(bytes);
  if (b.length < 1 || b.length > 127) throw new RangeError('insert op carries 1-127 bytes');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** A v2 fetch response: `packfile`, the pack on side-band 1 in `chunk`-byte packets, flush. */
export function sidebandResponse(pack: Buffer, chunk = 65515): Buffer {
  const parts = [encodePktLine('packfile\n')];
  for (let i = 0; i < pack.length; i += chunk) {
    parts.push(encodePktLine(Buffer.concat([Buffer.from([1]), pack.subarray(i, i + chunk)])));
  }
  parts.push(FLUSH_PKT);
  return Buffer.concat(parts);
}
