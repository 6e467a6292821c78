// Reading a whole packfile held in memory (gitformat-pack(5)) into objects with their ids: what
// a protocol v2 `fetch` answers. Small packs only (a handful of blobs for a first read): the
// pack, its inflated entries and the resolved objects are all in memory at once, and inflating
// is synchronous. Big transfers stay with `git fetch`, which streams to disk.
//
// Layout: `PACK`, version (2 or 3, read alike), object count, the entries, then the SHA-1 of
// everything before it. An entry is a header (type + inflated size), for deltas a base
// reference, then one zlib stream. Node's inflateSync with `info: true` reports how many input
// bytes the stream used (`engine.bytesWritten`), which is where the next entry starts.
//
// Deltas are resolved from their bases outwards (as index-pack does): every whole object is a
// root, each resolved object releases the deltas waiting on its offset (OFS_DELTA) or its id
// (REF_DELTA, whose base may come later in the pack). An explicit stack, so chain depth costs no
// call stack; each delta is applied at most once, so cycles and missing bases simply stay
// unresolved and are reported at the end.

import { createHash } from 'node:crypto';
import { inflateSync, type Zlib } from 'node:zlib';
import type { Oid } from '../model/ids.js';
import { SHA1_BYTES, SUPPORTED_OBJECT_FORMAT, hashObject, type ObjectType } from './git-object.js';
import {
  MAX_OBJECT_BYTES,
  PackError,
  applyDelta,
  readBaseDistance,
  readEntryHeader,
  type PackEntryKind,
} from './pack-format.js';

export { PackError, type PackErrorCode, type PackEntryKind } from './pack-format.js';

/** Default bound on everything one pack inflates to: entries plus resolved delta results. */
export const DEFAULT_MAX_TOTAL_BYTES = 4 * 2 ** 30;

const PACK_SIGNATURE = Buffer.from('PACK', 'latin1');
const HEADER_BYTES = 12;
const READABLE_VERSIONS: ReadonlySet<number> = new Set([2, 3]);

export interface ReadPackOptions {
  /** The repository's object format (the `object-format` capability). Default 'sha1', the only one read. */
  objectFormat?: string;
  /** Largest object or delta, inflated (bytes). Default and ceiling MAX_OBJECT_BYTES (2 GiB - 1). */
  maxObjectBytes?: number;
  /** Largest sum of inflated entries and delta results (bytes). Default 4 GiB. */
  maxTotalBytes?: number;
}

/** One entry as stored: a whole object, or a delta and the reference to its base. */
export interface PackEntry {
  /** Offset of the entry header in the pack (what an OFS_DELTA's base distance counts back to). */
  readonly offset: number;
  readonly kind: PackEntryKind;
  /** Inflated data: the object's content, or delta instructions. */
  readonly data: Buffer;
  /** OFS_DELTA only: offset of the base entry (always an earlier entry). */
  readonly baseOffset?: number;
  /** REF_DELTA only: id of the base object (anywhere in the pack; a thin pack's is outside it). */
  readonly baseOid?: Oid;
}

export interface PackObject {
  readonly type: ObjectType;
  readonly data: Buffer;
}

interface Limits {
  maxObjectBytes: number;
  maxTotalBytes: number;
}

/**
 * Every object in `pack`, deltas resolved, keyed by the id computed from its content (so a key
 * always matches its data). Throws PackError: 'pack-corrupt' for anything malformed (checksum,
 * header, zlib, delta, a base not in the pack), 'pack-unsupported', 'pack-limit-exceeded'.
 */
export function readPack(pack: Buffer, opts: ReadPackOptions = {}): Map<Oid, PackObject> {
  const limits = limitsOf(opts);
  const budget = new Budget(limits.maxTotalBytes);
  const entries = parseEntries(pack, limits, budget);
  return resolveEntries(entries, limits, budget);
}

/** The entries of `pack` as stored, deltas unresolved; the checks readPack makes up to that point. */
export function readPackEntries(pack: Buffer, opts: ReadPackOptions = {}): PackEntry[] {
  const limits = limitsOf(opts);
  return parseEntries(pack, limits, new Budget(limits.maxTotalBytes));
}

function limitsOf(opts: ReadPackOptions): Limits {
  const format = opts.objectFormat ?? SUPPORTED_OBJECT_FORMAT;
  if (format !== SUPPORTED_OBJECT_FORMAT) {
    throw new PackError('pack-unsupported', `cannot read ${format} packs: only ${SUPPORTED_OBJECT_FORMAT} repositories are supported`);
  }
  return {
    maxObjectBytes: Math.min(opts.maxObjectBytes ?? MAX_OBJECT_BYTES, MAX_OBJECT_BYTES),
    maxTotalBytes: opts.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES,
  };
}

/** Counts bytes held against the pack's bound. */
class Budget {
  #left: number;
  constructor(total: number) {
    this.#left = total;
  }

  get left(): number {
    return this.#left;
  }

  spend(bytes: number, offset: number): void {
    this.#left -= bytes;
    if (this.#left < 0) throw new PackError('pack-limit-exceeded', 'pack inflates to more than the allowed total', offset);
  }
}

/** Checks the envelope (signature, version, checksum) and returns the declared object count. */
function readPackHeader(pack: Buffer): number {
  if (pack.length < HEADER_BYTES + SHA1_BYTES) throw new PackError('pack-corrupt', `pack of ${pack.length} bytes is too short`);
  if (!pack.subarray(0, 4).equals(PACK_SIGNATURE)) throw new PackError('pack-corrupt', 'not a pack (no PACK signature)');
  const version = pack.readUInt32BE(4);
  if (!READABLE_VERSIONS.has(version)) throw new PackError('pack-unsupported', `pack version ${version}`);
  // Checked first: a truncated or altered pack fails here, before any byte of it is trusted.
  const end = pack.length - SHA1_BYTES;
  const digest = createHash('sha1').update(pack.subarray(0, end)).digest();
  if (!digest.equals(pack.subarray(end))) throw new PackError('pack-corrupt', 'pack checksum mismatch (truncated or altered)');
  return pack.readUInt32BE(8);
}

function parseEntries(pack: Buffer, limits: Limits, budget: Budget): PackEntry[] {
  const count = readPackHeader(pack);
  const end = pack.length - SHA1_BYTES;
  const entries: PackEntry[] = [];
  let pos = HEADER_BYTES;
  // Each entry takes at least one byte, so a false count ends at `end`, not in a long loop.
  for (let i = 0; i < count; i++) {
    if (pos >= end) throw new PackError('pack-corrupt', `pack ends after ${i} of ${count} objects`);
    const { entry, next } = readEntry(pack, pos, end, limits.maxObjectBytes, budget);
    entries.push(entry);
    pos = next;
  }
  if (pos !== end) throw new PackError('pack-corrupt', `${end - pos} stray bytes after the last of ${count} objects`);
  return entries;
}

function readEntry(pack: Buffer, offset: number, end: number, maxObjectBytes: number, budget: Budget): { entry: PackEntry; next: number } {
  const header = readEntryHeader(pack.subarray(0, end), offset, maxObjectBytes);
  // The declared size is exactly what inflating allocates (any other outcome is an error).
  budget.spend(header.size, offset);
  let at = header.next;
  let baseOffset: number | undefined;
  let baseOid: Oid | undefined;
  if (header.kind === 'ofs-delta') {
    // The base is a whole entry after the pack header and before this one.
    const base = readBaseDistance(pack.subarray(0, end), at, offset - HEADER_BYTES);
    baseOffset = offset - base.distance;
    at = base.next;
  } else if (header.kind === 'ref-delta') {
    if (at + SHA1_BYTES > end) throw new PackError('pack-corrupt', 'truncated delta base id', offset);
    baseOid = pack.toString('hex', at, at + SHA1_BYTES) as Oid;
    at += SHA1_BYTES;
  }
  const { data, used } = inflateEntry(pack.subarray(at, end), header.size, offset);
  const entry: PackEntry = { offset, kind: header.kind, data, ...(baseOffset !== undefined && { baseOffset }), ...(baseOid && { baseOid }) };
  return { entry, next: at + used };
}

/**
 * Inflates the one zlib stream at the start of `input`. The output is capped at the declared
 * size (a stream that would inflate further fails instead of allocating), and must reach it.
 */
function inflateEntry(input: Buffer, size: number, offset: number): { data: Buffer; used: number } {
  let result: { buffer: Buffer; engine: Zlib };
  try {
    // `info: true` is missing from @types/node's signature; the runtime returns { buffer, engine }.
    result = inflateSync(input, { info: true, maxOutputLength: Math.max(1, size) } as object) as unknown as typeof result;
  } catch (err) {
    throw new PackError('pack-corrupt', `object data does not inflate to its declared ${size} bytes: ${(err as Error).message}`, offset, { cause: err });
  }
  if (result.buffer.length !== size) {
    throw new PackError('pack-corrupt', `object data inflates to ${result.buffer.length} bytes, header says ${size}`, offset);
  }
  return { data: result.buffer, used: result.engine.bytesWritten };
}

function isDelta(kind: PackEntryKind): kind is 'ofs-delta' | 'ref-delta' {
  return kind === 'ofs-delta' || kind === 'ref-delta';
}

interface Waiting {
  byOffset: Map<number, PackEntry[]>;
  byOid: Map<Oid, PackEntry[]>;
}

/** Deltas grouped by the base they wait for; an OFS base must be the start of an entry. */
function groupDeltas(entries: readonly PackEntry[]): Waiting {
  const starts = new Set(entries.map((e) => e.offset));
  const waiting: Waiting = { byOffset: new Map(), byOid: new Map() };
  const add = <K>(map: Map<K, PackEntry[]>, key: K, e: PackEntry): void => {
    const list = map.get(key);
    if (list) list.push(e);
    else map.set(key, [e]);
  };
  for (const e of entries) {
    if (e.baseOffset !== undefined) {
      if (!starts.has(e.baseOffset)) throw new PackError('pack-corrupt', `delta base offset ${e.baseOffset} is not an entry`, e.offset);
      add(waiting.byOffset, e.baseOffset, e);
    } else if (e.baseOid !== undefined) {
      add(waiting.byOid, e.baseOid, e);
    }
  }
  return waiting;
}

/** The deltas waiting on this object, removed so that none is ever applied twice. */
function takeWaiting(waiting: Waiting, offset: number, oid: Oid): PackEntry[] {
  const out = [...(waiting.byOffset.get(offset) ?? []), ...(waiting.byOid.get(oid) ?? [])];
  waiting.byOffset.delete(offset);
  waiting.byOid.delete(oid);
  return out;
}

function resolveEntries(entries: readonly PackEntry[], limits: Limits, budget: Budget): Map<Oid, PackObject> {
  const waiting = groupDeltas(entries);
  const objects = new Map<Oid, PackObject>();
  const resolved = new Set<number>();
  const stack: Array<{ offset: number; oid: Oid; object: PackObject }> = [];
  const record = (offset: number, object: PackObject): void => {
    const oid = hashObject(object.type, object.data);
    objects.set(oid, object);
    resolved.add(offset);
    stack.push({ offset, oid, object });
  };
  for (const e of entries) if (!isDelta(e.kind)) record(e.offset, { type: e.kind as ObjectType, data: e.data });
  for (let base = stack.pop(); base; base = stack.pop()) {
    for (const delta of takeWaiting(waiting, base.offset, base.oid)) {
      if (resolved.has(delta.offset)) continue;
      const max = Math.min(limits.maxObjectBytes, Math.max(0, budget.left));
      const data = wrapDelta(() => applyDelta(base.object.data, delta.data, max), delta.offset);
      budget.spend(data.length, delta.offset);
      record(delta.offset, { type: base.object.type, data });
    }
  }
  const stuck = entries.find((e) => !resolved.has(e.offset));
  if (stuck) throw unresolved(stuck, objects);
  return objects;
}

/** applyDelta's errors know the delta, not where it is: add the entry offset. */
function wrapDelta(apply: () => Buffer, offset: number): Buffer {
  try {
    return apply();
  } catch (err) {
    if (err instanceof PackError && err.offset === undefined) throw new PackError(err.code, err.message, offset, { cause: err });
    throw err;
  }
}

function unresolved(entry: PackEntry, objects: ReadonlyMap<Oid, PackObject>): PackError {
  if (entry.baseOid !== undefined && !objects.has(entry.baseOid)) {
    return new PackError('pack-corrupt', `delta base ${entry.baseOid} is not in the pack (a thin pack?)`, entry.offset);
  }
  return new PackError('pack-corrupt', 'delta chain never reaches a whole object (a cycle)', entry.offset);
}
