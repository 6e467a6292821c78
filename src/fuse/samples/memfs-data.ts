// File contents for memfs: a sparse map of 1 MiB chunks, each a buffer that grows geometrically
// plus one state byte per 4 KiB page.
//
// Why chunks rather than one growing Buffer: a single buffer is copied whole every time it grows
// and cannot exceed buffer.constants.MAX_LENGTH, while tmpfs stores a 1-byte write at offset
// 8 GiB in one page. With chunks a large file is never copied on growth, holes cost nothing, and
// per-page states let st_blocks, SEEK_DATA and SEEK_HOLE answer exactly what tmpfs answers.
// Inside a chunk the buffer still grows geometrically (×2 from one page), so small files stay
// small and a sequential writer pays a handful of reallocations per chunk, never one per write.
//
// Reads hand out subarray views of the chunk buffers (or of a shared zero buffer for holes),
// never copies; a read that straddles chunks returns several views for writev.

import { fail } from '../errno.js';

export const PAGE_SIZE = 4096;
export const CHUNK_SIZE = 1 << 20;
const PAGES_PER_CHUNK = CHUNK_SIZE / PAGE_SIZE;
/** Offsets are JS numbers (see abi.ts); a file never ends past this. tmpfs allows 2^63 - 1. */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** lseek(2) whence values the kernel forwards (SEEK_SET/CUR/END it answers itself). */
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
/** fallocate(2) modes tmpfs supports; anything else is EOPNOTSUPP. */
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;

/** Page states, as tmpfs distinguishes them. */
const HOLE = 0; // no page: reads as zeros, no blocks
const UNWRITTEN = 1; // fallocated: counted in st_blocks, reads as zeros, still a hole to SEEK_DATA
const WRITTEN = 2; // written at least once

const EMPTY = Buffer.alloc(0);
// INVARIANT: never written to. Every read of a hole returns a view of it.
let zeroes: Buffer | undefined;
function zeroView(length: number): Buffer {
  zeroes ??= Buffer.alloc(CHUNK_SIZE);
  return zeroes.subarray(0, length);
}

/** The page budget shared by all files of one filesystem: statfs numbers and ENOSPC. */
export class SpaceBudget {
  readonly capacityPages: number;
  // INVARIANT: equals the sum of FileData.allocatedPages over every live file.
  #used = 0;

  constructor(capacityBytes: number) {
    this.capacityPages = Math.floor(capacityBytes / PAGE_SIZE);
  }

  get usedPages(): number {
    return this.#used;
  }

  reserve(pages: number): void {
    if (this.#used + pages > this.capacityPages) fail('ENOSPC');
    this.#used += pages;
  }

  release(pages: number): void {
    this.#used -= pages;
  }
}

interface Chunk {
  /** Bytes [0, buf.length) of the chunk; the rest of the chunk reads as zeros. */
  buf: Buffer;
  /** One HOLE / UNWRITTEN / WRITTEN byte per page. */
  readonly pages: Uint8Array;
  /** Pages whose state is not HOLE. */
  allocated: number;
}

export class FileData {
  readonly #budget: SpaceBudget;
  // INVARIANT: a chunk is present only while allocated > 0; chunk.allocated counts its non-HOLE
  // pages; #pages is their sum over all chunks and is what this file reserved from #budget.
  // INVARIANT: every stored byte that lies outside a WRITTEN page, or at an offset >= #size, is
  // zero. So growing the size, or reading a hole, never needs to clear memory.
  readonly #chunks = new Map<number, Chunk>();
  #pages = 0;
  #size = 0;

  constructor(budget: SpaceBudget) {
    this.#budget = budget;
  }

  get size(): number {
    return this.#size;
  }

  /** Pages holding or reserved for data; st_blocks is this times 8. */
  get allocatedPages(): number {
    return this.#pages;
  }

  /** Up to `size` bytes at `offset`, fewer at end of file: views, not copies. */
  read(offset: number, size: number): Buffer | Buffer[] {
    const end = Math.min(offset + size, this.#size);
    if (offset >= end) return EMPTY;
    const out: Buffer[] = [];
    for (let pos = offset; pos < end; ) {
      const index = Math.floor(pos / CHUNK_SIZE);
      const within = pos - index * CHUNK_SIZE;
      const want = Math.min(end - pos, CHUNK_SIZE - within);
      const buf = this.#chunks.get(index)?.buf;
      if (buf !== undefined && within < buf.length) {
        const n = Math.min(want, buf.length - within);
        out.push(buf.subarray(within, within + n));
        pos += n;
      } else {
        out.push(zeroView(want));
        pos += want;
      }
    }
    return out.length === 1 ? (out[0] as Buffer) : out;
  }

  /** Copies `data` in at `offset` (it may be a view of a reused buffer); a gap reads as zeros. */
  write(offset: number, data: Buffer): number {
    const end = offset + data.length;
    if (end > MAX_FILE_SIZE) fail('EFBIG');
    if (data.length === 0) return 0;
    this.#reserve(offset, end);
    for (let pos = offset; pos < end; ) {
      const index = Math.floor(pos / CHUNK_SIZE);
      const base = index * CHUNK_SIZE;
      const stop = Math.min(end, base + CHUNK_SIZE);
      const chunk = this.#chunk(index);
      this.#grow(chunk, index, stop - base);
      data.copy(chunk.buf, pos - base, pos - offset, stop - offset);
      this.#mark(chunk, pos - base, stop - base, WRITTEN);
      pos = stop;
    }
    this.#size = Math.max(this.#size, end);
    return data.length;
  }

  truncate(size: number): void {
    if (size > MAX_FILE_SIZE) fail('EFBIG');
    // As tmpfs: shrinking (or "truncating" to the same size) frees every page past the new end,
    // including pages fallocated beyond it with KEEP_SIZE; growing only moves the end.
    if (size <= this.#size) this.#clear(size, Infinity);
    this.#size = size;
  }

  /** fallocate(2) with the modes tmpfs knows, checked in vfs_fallocate()'s order. */
  fallocate(offset: number, length: number, mode: number): void {
    if (offset < 0 || length <= 0) fail('EINVAL');
    if (mode === 0 || mode === FALLOC_FL_KEEP_SIZE) this.allocate(offset, length, mode !== 0);
    else if (mode === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) this.punchHole(offset, length);
    else fail('EOPNOTSUPP');
  }

  /** Mode 0 / FALLOC_FL_KEEP_SIZE: reserve pages; they read as zeros. */
  allocate(offset: number, length: number, keepSize: boolean): void {
    const end = offset + length;
    if (end > MAX_FILE_SIZE) fail('EFBIG');
    this.#reserve(offset, end);
    for (let pos = offset; pos < end; ) {
      const index = Math.floor(pos / CHUNK_SIZE);
      const base = index * CHUNK_SIZE;
      const stop = Math.min(end, base + CHUNK_SIZE);
      this.#mark(this.#chunk(index), pos - base, stop - base, UNWRITTEN);
      pos = stop;
    }
    if (!keepSize) this.#size = Math.max(this.#size, end);
  }

  /** FALLOC_FL_PUNCH_HOLE: zero the range, free the pages it covers entirely (as tmpfs). */
  punchHole(offset: number, length: number): void {
    this.#clear(offset, offset + length);
  }

  /** lseek(2) for the whence values the kernel forwards. */
  seek(offset: number, whence: number): number {
    if (whence === SEEK_DATA) return this.seekData(offset);
    if (whence === SEEK_HOLE) return this.seekHole(offset);
    return fail('EINVAL');
  }

  /** SEEK_DATA: the first offset >= `offset` in a written page; ENXIO when there is none. */
  seekData(offset: number): number {
    if (offset < 0 || offset >= this.#size) fail('ENXIO');
    const endPage = Math.ceil(this.#size / PAGE_SIZE);
    const firstIndex = Math.floor(offset / CHUNK_SIZE);
    // Visit only chunks that exist, in order: a hole of any size costs nothing.
    const indexes = [...this.#chunks.keys()].filter((i) => i >= firstIndex).sort((a, b) => a - b);
    for (const index of indexes) {
      const chunk = this.#chunks.get(index) as Chunk;
      const first = Math.max(Math.floor(offset / PAGE_SIZE), index * PAGES_PER_CHUNK);
      const stop = Math.min(endPage, (index + 1) * PAGES_PER_CHUNK);
      for (let page = first; page < stop; page++) {
        if (chunk.pages[page - index * PAGES_PER_CHUNK] === WRITTEN) return Math.max(offset, page * PAGE_SIZE);
      }
    }
    return fail('ENXIO');
  }

  /** SEEK_HOLE: the first offset >= `offset` outside written pages, or the size. */
  seekHole(offset: number): number {
    if (offset < 0 || offset >= this.#size) fail('ENXIO');
    const endPage = Math.ceil(this.#size / PAGE_SIZE);
    for (let page = Math.floor(offset / PAGE_SIZE); page < endPage; page++) {
      const index = Math.floor(page / PAGES_PER_CHUNK);
      const state = this.#chunks.get(index)?.pages[page - index * PAGES_PER_CHUNK] ?? HOLE;
      if (state !== WRITTEN) return Math.max(offset, page * PAGE_SIZE);
    }
    return this.#size;
  }

  /** Returns every page to the budget; the file is being freed. */
  dispose(): void {
    this.#budget.release(this.#pages);
    this.#pages = 0;
    this.#chunks.clear();
  }

  checkInvariants(): void {
    let pages = 0;
    for (const [index, chunk] of this.#chunks) {
      const base = index * CHUNK_SIZE;
      const allocated = chunk.pages.reduce((n, s) => n + (s === HOLE ? 0 : 1), 0);
      if (allocated !== chunk.allocated || allocated === 0) invariant(`chunk ${index}: allocated ${chunk.allocated}, counted ${allocated}`);
      if (chunk.buf.length > CHUNK_SIZE) invariant(`chunk ${index}: buffer of ${chunk.buf.length} bytes`);
      for (let p = 0; p * PAGE_SIZE < chunk.buf.length; p++) {
        const from = p * PAGE_SIZE;
        const keepFrom = chunk.pages[p] === WRITTEN ? Math.max(from, Math.min(this.#size - base, from + PAGE_SIZE)) : from;
        const tail = chunk.buf.subarray(keepFrom, from + PAGE_SIZE);
        if (!tail.equals(zeroView(tail.length))) invariant(`chunk ${index} page ${p}: non-zero bytes outside data`);
      }
      pages += allocated;
    }
    if (pages !== this.#pages) invariant(`file pages ${this.#pages}, counted ${pages}`);
  }

  /** Reserves from the budget the pages of [start, end) that are still holes. */
  #reserve(start: number, end: number): void {
    let needed = 0;
    for (let page = Math.floor(start / PAGE_SIZE); page * PAGE_SIZE < end; page++) {
      const index = Math.floor(page / PAGES_PER_CHUNK);
      if ((this.#chunks.get(index)?.pages[page - index * PAGES_PER_CHUNK] ?? HOLE) === HOLE) needed++;
    }
    this.#budget.reserve(needed);
  }

  #chunk(index: number): Chunk {
    let chunk = this.#chunks.get(index);
    if (chunk === undefined) {
      chunk = { buf: Buffer.alloc(0), pages: new Uint8Array(PAGES_PER_CHUNK), allocated: 0 };
      this.#chunks.set(index, chunk);
    }
    return chunk;
  }

  /** Makes chunk.buf at least `need` bytes long; new bytes are zero. */
  #grow(chunk: Chunk, index: number, need: number): void {
    const have = chunk.buf.length;
    if (have >= need) return;
    // A file that fills the previous chunk is being written sequentially and will most likely
    // fill this one as well: allocate it whole rather than doubling it up from one page.
    const sequential = have === 0 && this.#chunks.get(index - 1)?.buf.length === CHUNK_SIZE;
    const length = sequential ? CHUNK_SIZE : Math.min(CHUNK_SIZE, Math.max(need, have * 2, PAGE_SIZE));
    const grown = Buffer.alloc(length);
    chunk.buf.copy(grown);
    chunk.buf = grown;
  }

  /** Sets the pages overlapping chunk bytes [from, to) to `state`; the budget was reserved. */
  #mark(chunk: Chunk, from: number, to: number, state: typeof UNWRITTEN | typeof WRITTEN): void {
    for (let p = Math.floor(from / PAGE_SIZE); p * PAGE_SIZE < to; p++) {
      const old = chunk.pages[p];
      if (old === HOLE) {
        chunk.allocated++;
        this.#pages++;
      }
      if (old !== WRITTEN) chunk.pages[p] = state;
    }
  }

  /** Zeroes bytes [start, end) and frees the pages that lie entirely inside it. */
  #clear(start: number, end: number): void {
    const firstPage = Math.ceil(start / PAGE_SIZE);
    const endPage = Math.floor(end / PAGE_SIZE); // Infinity stays Infinity
    let freed = 0;
    // Deleting the current entry of a Map during for-of is well defined.
    for (const [index, chunk] of this.#chunks) {
      const base = index * CHUNK_SIZE;
      if (base + CHUNK_SIZE <= start || base >= end) continue;
      const from = Math.max(start - base, 0);
      const to = Math.min(end - base, CHUNK_SIZE);
      chunk.buf.fill(0, Math.min(from, chunk.buf.length), Math.min(to, chunk.buf.length));
      const pageBase = index * PAGES_PER_CHUNK;
      const stop = Math.min(endPage - pageBase, PAGES_PER_CHUNK);
      for (let p = Math.max(firstPage - pageBase, 0); p < stop; p++) {
        if (chunk.pages[p] === HOLE) continue;
        chunk.pages[p] = HOLE;
        chunk.allocated--;
        freed++;
      }
      if (chunk.allocated === 0) this.#chunks.delete(index);
    }
    this.#pages -= freed;
    this.#budget.release(freed);
  }
}

/** Throws the error checkInvariants() reports a broken invariant with. */
export function invariant(message: string): never {
  throw new Error(`memfs invariant violated: ${message}`);
}
