// Content-addressed blob cache shared by every repository: `<root>/cache/blobs/<oid[0..2]>/<oid>`.
//
// A blob file only ever appears under its final name complete and verified: content is streamed
// into `.tmp-<random>` in the same directory (same filesystem, so the rename is atomic), hashed
// while it is written, checked against the id and the expected size, then renamed into place.
// Two writers of one oid (two processes, or two batches carrying the same blob) are harmless:
// each verifies its own temp file and the second rename replaces identical bytes.
//
// Durability: no fsync by default. A killed process never leaves a partial blob (the rename
// happens after the last write), and the page cache survives it; only a machine crash can leave a
// renamed-but-unflushed file on some filesystems. Per-blob fsync serialises every delivery of a
// batch behind a disk flush (thousands of blobs per batch), which the full-hydration goal cannot
// afford. `fsync: true` is there for callers who want it.
//
// Memory: one Map entry (oid → size) per present blob, filled by a scan at open(). The size
// record is what a later LRU eviction needs (bytes per blob); no eviction is done here yet.

import { randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isOid, type Oid } from '../model/ids.js';
import { hashBlobFile, startBlobHash } from './blob-hash.js';
import { BlobCorruptError } from './errors.js';

/** Temp files start with this; they are never valid blob names (a blob name is hex only). */
export const TEMP_PREFIX = '.tmp-';
/** A temp file untouched this long at open() belongs to a dead writer and is deleted. */
export const STALE_TEMP_MS = 10 * 60_000;
/** How many fan-out directories the startup scan reads at once. */
const SCAN_DIR_CONCURRENCY = 8;
/** Blobs are immutable: read-only files guard against an accidental write through the cache. */
const BLOB_FILE_MODE = 0o444;
const FANOUT_RE = /^[0-9a-f]{2}$/;

export interface BlobCacheOptions {
  /** State root (ARTIFACT_FS_ROOT); the cache lives in `<root>/cache/blobs`. */
  root: string;
  /** fsync each blob before its rename. Default false (see the file comment). */
  fsync?: boolean;
  /** Temp files older than this (ms, by mtime) are removed at open(). Default STALE_TEMP_MS. */
  staleTempMs?: number;
}

export class BlobCache {
  /** `<root>/cache/blobs`. */
  readonly dir: string;
  readonly #fsync: boolean;
  // INVARIANT: #sizes holds exactly the blobs this process knows to be present under their final
  // name, each with its verified content size (>= 0); #totalBytes is the sum of those sizes.
  readonly #sizes = new Map<Oid, number>();
  #totalBytes = 0;
  /** Fan-out directories known to exist, so write() does not mkdir every time. */
  readonly #dirs = new Set<string>();

  private constructor(dir: string, fsync: boolean) {
    this.dir = dir;
    this.#fsync = fsync;
  }

  /** Creates the directory if needed, removes stale temp files and loads the present blobs. */
  static async open(options: BlobCacheOptions): Promise<BlobCache> {
    const cache = new BlobCache(join(options.root, 'cache', 'blobs'), options.fsync ?? false);
    await mkdir(cache.dir, { recursive: true });
    await cache.#scan(Date.now() - (options.staleTempMs ?? STALE_TEMP_MS));
    return cache;
  }

  /** Number of blobs known present. */
  get count(): number {
    return this.#sizes.size;
  }

  /** Sum of the content sizes of the blobs known present. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  pathOf(oid: Oid): string {
    return join(this.dir, oid.slice(0, 2), oid);
  }

  /** In memory only, never touches the disk: safe on hot paths and for 100k-item loops. */
  isKnown(oid: Oid): boolean {
    return this.#sizes.has(oid);
  }

  /** The verified content size of a present blob, or undefined when not known present. */
  sizeOf(oid: Oid): number | undefined {
    return this.#sizes.get(oid);
  }

  /**
   * Whether the blob is present: memory first, then one stat (another process sharing the cache
   * may have written it since open()). A stat hit is remembered.
   */
  async has(oid: Oid): Promise<boolean> {
    if (this.#sizes.has(oid)) return true;
    try {
      const st = await stat(this.pathOf(oid));
      if (!st.isFile()) return false;
      this.#record(oid, st.size);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Streams `content` into the cache under `oid` and returns the blob's path. Verifies the size
   * (when `expectedSize` >= 0) and the hash before the atomic rename; on a mismatch nothing is
   * stored and a BlobCorruptError (code 'blob-corrupt') is thrown. The content is always consumed
   * unless an error is thrown; a blob already known present is drained and not rewritten.
   */
  async write(oid: Oid, expectedSize: number, content: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<string> {
    const final = this.pathOf(oid);
    if (this.#sizes.has(oid)) {
      for await (const _ of content) signal?.throwIfAborted();
      return final;
    }
    const dir = await this.#ensureDir(oid);
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      const size = await this.#writeVerified(oid, temp, expectedSize, content, signal);
      await rename(temp, final);
      this.#record(oid, size);
      return final;
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Stores a blob whose content is already in memory: verified before anything touches the disk,
   * then one writeFile and one rename. Same contract as write().
   */
  async writeBuffer(oid: Oid, expectedSize: number, data: Buffer): Promise<string> {
    const final = this.pathOf(oid);
    if (this.#sizes.has(oid)) return final;
    if (expectedSize >= 0 && data.length !== expectedSize) throw new BlobCorruptError(oid, expectedSize, data.length, '');
    const digest = startBlobHash(oid, data.length).update(data).digest('hex');
    if (digest !== oid) throw new BlobCorruptError(oid, expectedSize, data.length, digest);
    const temp = join(await this.#ensureDir(oid), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await writeFile(temp, data, { flag: 'wx', mode: BLOB_FILE_MODE });
      await rename(temp, final);
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
    this.#record(oid, data.length);
    return final;
  }

  /**
   * Takes content the caller has verified as `oid` (a generation switch hashed it): a file is
   * hard-linked into place (copied across filesystems), and the caller guarantees nobody writes
   * it again; bytes are written. Synchronous, because it runs inside the switch's single step,
   * before the overlay may delete the file.
   */
  adoptSync(oid: Oid, size: number, source: { file: string } | { data: Buffer }): void {
    if (this.#sizes.has(oid)) return;
    const dir = join(this.dir, oid.slice(0, 2));
    if (!this.#dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.#dirs.add(dir);
    }
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      if ('data' in source) writeFileSync(temp, source.data, { flag: 'wx', mode: BLOB_FILE_MODE });
      else {
        try {
          linkSync(source.file, temp);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          copyFileSync(source.file, temp);
        }
      }
      renameSync(temp, this.pathOf(oid));
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    this.#record(oid, size);
  }

  /** Throws if an invariant is broken; for tests. */
  checkInvariants(): void {
    let sum = 0;
    for (const [oid, size] of this.#sizes) {
      if (!isOid(oid)) throw new Error(`cache: bad oid ${oid}`);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`cache: bad size ${size} for ${oid}`);
      sum += size;
    }
    if (sum !== this.#totalBytes) throw new Error(`cache: totalBytes ${this.#totalBytes} != sum ${sum}`);
  }

  /** Writes and verifies the temp file; returns the content size. The caller renames or deletes. */
  async #writeVerified(oid: Oid, temp: string, expectedSize: number, content: AsyncIterable<Buffer>,
    signal: AbortSignal | undefined): Promise<number> {
    const file = await open(temp, 'wx', BLOB_FILE_MODE);
    let size = 0;
    let digest: string | undefined;
    try {
      // With the size known the hash runs alongside the writes; otherwise it needs a second pass.
      const hash = expectedSize >= 0 ? startBlobHash(oid, expectedSize) : undefined;
      for await (const chunk of content) {
        signal?.throwIfAborted();
        size += chunk.length;
        if (expectedSize >= 0 && size > expectedSize) throw new BlobCorruptError(oid, expectedSize, size, '');
        hash?.update(chunk);
        await writeAll(file, chunk);
      }
      signal?.throwIfAborted();
      if (expectedSize >= 0 && size !== expectedSize) throw new BlobCorruptError(oid, expectedSize, size, '');
      if (this.#fsync) await file.sync();
      digest = hash?.digest('hex');
    } finally {
      await file.close();
    }
    digest ??= await hashBlobFile(oid, temp, size, signal);
    if (digest !== oid) throw new BlobCorruptError(oid, expectedSize, size, digest);
    return size;
  }

  #record(oid: Oid, size: number): void {
    if (this.#sizes.has(oid)) return;
    this.#sizes.set(oid, size);
    this.#totalBytes += size;
  }

  async #ensureDir(oid: Oid): Promise<string> {
    const dir = join(this.dir, oid.slice(0, 2));
    if (!this.#dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#dirs.add(dir);
    }
    return dir;
  }

  /** Loads every present blob with its size and deletes temp files older than `staleBefore`. */
  async #scan(staleBefore: number): Promise<void> {
    const fanout = (await readdir(this.dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && FANOUT_RE.test(d.name))
      .map((d) => d.name);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < fanout.length) {
        const name = fanout[next++];
        if (name !== undefined) await this.#scanDir(name, staleBefore);
      }
    };
    await Promise.all(Array.from({ length: SCAN_DIR_CONCURRENCY }, worker));
  }

  async #scanDir(prefix: string, staleBefore: number): Promise<void> {
    const dir = join(this.dir, prefix);
    this.#dirs.add(dir);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith(TEMP_PREFIX)) {
        const st = await stat(path).catch(() => undefined);
        if (st !== undefined && st.mtimeMs < staleBefore) await rm(path, { force: true });
      } else if (isOid(entry.name) && entry.name.startsWith(prefix)) {
        const st = await stat(path).catch(() => undefined);
        if (st !== undefined) this.#record(entry.name, st.size);
      }
    }
  }
}

async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
