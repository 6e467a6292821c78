// The byte-level pieces of git's pack format (gitformat-pack(5)): entry headers, the two
// variable-length integer encodings, and delta instructions. Pure functions over buffers that
// may come from anyone: every read is bounds-checked, every size is capped before anything is
// allocated, and every loop consumes input, so hostile bytes end in PackError, never in a
// crash, a huge allocation or a hang. Walking a whole pack is pack-reader.ts's job.

import type { ObjectType } from './git-object.js';

export type PackErrorCode =
  /** The bytes are not a well-formed pack: bad header, checksum, zlib stream, delta, base. */
  | 'pack-corrupt'
  /** Well-formed as far as we can tell, but a pack version or object format we do not read. */
  | 'pack-unsupported'
  /** An object or the whole pack is larger than the caller's bound. */
  | 'pack-limit-exceeded';

export class PackError extends Error {
  readonly code: PackErrorCode;
  /** Byte offset of the pack entry at fault, when one is. */
  readonly offset: number | undefined;
  constructor(code: PackErrorCode, message: string, offset?: number, options?: ErrorOptions) {
    super(offset === undefined ? message : `${message} (entry at offset ${offset})`, options);
    this.name = 'PackError';
    this.code = code;
    this.offset = offset;
  }
}

/** What a pack entry holds: a whole object, or a delta against a base named by offset or id. */
export type PackEntryKind = ObjectType | 'ofs-delta' | 'ref-delta';

/** The 3-bit type code of an entry header; 0 is invalid and 5 reserved, so both are absent. */
export const PACK_ENTRY_KINDS: ReadonlyMap<number, PackEntryKind> = new Map<number, PackEntryKind>([
  [1, 'commit'],
  [2, 'tree'],
  [3, 'blob'],
  [4, 'tag'],
  [6, 'ofs-delta'],
  [7, 'ref-delta'],
]);

/** Largest object we agree to hold in memory: below Node's Buffer limit on every platform. */
export const MAX_OBJECT_BYTES = 2 ** 31 - 1;

/** Bytes of the copy instruction's size field when it encodes 0 (the format's special case). */
const COPY_SIZE_ZERO = 0x10000;

function corrupt(message: string, offset?: number): PackError {
  return new PackError('pack-corrupt', message, offset);
}

function byteAt(buf: Buffer, pos: number, what: string): number {
  const b = buf[pos];
  if (b === undefined) throw corrupt(`truncated ${what}`);
  return b;
}

export interface EntryHeader {
  kind: PackEntryKind;
  /** Declared size of the inflated data: the object, or the delta instructions. */
  size: number;
  /** Offset of the first byte after the header. */
  next: number;
}

/**
 * An entry header at `pos`: bit 7 continues, bits 6-4 the type, bits 3-0 the low size bits,
 * then 7 size bits per byte, least significant first. Sizes above `maxSize` are refused while
 * decoding, so a run of continuation bytes cannot overflow a number.
 */
export function readEntryHeader(buf: Buffer, pos: number, maxSize: number): EntryHeader {
  const start = pos;
  let b = byteAt(buf, pos++, 'entry header');
  const kind = PACK_ENTRY_KINDS.get((b >> 4) & 7);
  if (kind === undefined) throw corrupt(`invalid object type ${(b >> 4) & 7}`, start);
  let size = b & 0x0f;
  let scale = 16;
  while (b & 0x80) {
    b = byteAt(buf, pos++, 'entry header');
    size += (b & 0x7f) * scale;
    scale *= 128;
    if (size > maxSize) break; // stop before the arithmetic stops being exact
  }
  if (size > maxSize) throw new PackError('pack-limit-exceeded', `object larger than the ${maxSize} bytes allowed`, start);
  return { kind, size, next: pos };
}

/**
 * An OFS_DELTA's distance back to its base. Not the plain varint: big-endian 7-bit groups, and
 * each continuation adds one before shifting (so every length has its own range and no value
 * has two encodings). A distance beyond `limit` (the entry's own offset) is refused as soon as
 * it is seen, which also keeps the arithmetic exact.
 */
export function readBaseDistance(buf: Buffer, pos: number, limit: number): { distance: number; next: number } {
  let b = byteAt(buf, pos++, 'delta base offset');
  let distance = b & 0x7f;
  while (b & 0x80) {
    b = byteAt(buf, pos++, 'delta base offset');
    distance = (distance + 1) * 128 + (b & 0x7f);
    if (distance > limit) break;
  }
  if (distance === 0 || distance > limit) throw corrupt(`delta base offset ${distance} points outside the pack`);
  return { distance, next: pos };
}

/** A delta's source or target size: plain little-endian base-128, capped at `maxSize`. */
export function readDeltaSize(delta: Buffer, pos: number, maxSize: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  let b: number;
  do {
    b = byteAt(delta, pos++, 'delta size');
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (value > maxSize) throw new PackError('pack-limit-exceeded', `delta result larger than the ${maxSize} bytes allowed`);
  } while (b & 0x80);
  return { value, next: pos };
}

/** Called once per instruction with the bytes it contributes: `src[start, end)`. */
type SpanVisitor = (src: Buffer, start: number, end: number) => void;

/**
 * Decodes delta instructions from `pos`. Copy (bit 7 set): bits 0-3 say which offset bytes and
 * bits 4-6 which size bytes follow, little-endian; size 0 means 0x10000. Insert (1-127): that
 * many literal bytes follow. Opcode 0 is reserved.
 */
function walkDelta(delta: Buffer, pos: number, base: Buffer, visit: SpanVisitor): void {
  while (pos < delta.length) {
    const op = delta[pos++]!;
    if (op & 0x80) {
      let offset = 0;
      let size = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) offset += byteAt(delta, pos++, 'delta copy') * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) size += byteAt(delta, pos++, 'delta copy') * 2 ** (8 * i);
      if (size === 0) size = COPY_SIZE_ZERO;
      if (offset + size > base.length) throw corrupt('delta copies past the end of its base');
      visit(base, offset, offset + size);
    } else if (op !== 0) {
      if (pos + op > delta.length) throw corrupt('delta insert runs past the end of the delta');
      visit(delta, pos, pos + op);
      pos += op;
    } else {
      throw corrupt('delta uses reserved opcode 0');
    }
  }
}

/**
 * The object `delta` makes from `base`. The instructions are checked in a first pass (bounds,
 * and that they produce exactly the declared target size) before the target is allocated, so a
 * delta claiming gigabytes costs nothing unless its instructions really produce them.
 */
export function applyDelta(base: Buffer, delta: Buffer, maxSize: number): Buffer {
  const source = readDeltaSize(delta, 0, MAX_OBJECT_BYTES);
  if (source.value !== base.length) {
    throw corrupt(`delta expects a base of ${source.value} bytes, base has ${base.length}`);
  }
  const target = readDeltaSize(delta, source.next, maxSize);
  let produced = 0;
  walkDelta(delta, target.next, base, (_src, start, end) => {
    produced += end - start;
    if (produced > target.value) throw corrupt(`delta produces more than its declared ${target.value} bytes`);
  });
  if (produced !== target.value) throw corrupt(`delta produces ${produced} bytes, declared ${target.value}`);
  const out = Buffer.allocUnsafe(produced);
  let at = 0;
  walkDelta(delta, target.next, base, (src, start, end) => {
    at += src.copy(out, at, start, end);
  });
  return out;
}
