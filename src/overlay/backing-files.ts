// Backing files of one repo's overlay: `<overlay dir>/upper/<ino>.<seq>`, each holding the whole
// content of one regular file. This class creates, copies, flushes and deletes them; the store
// decides when (the crash order lives in overlay-store.ts).
//
// A backing file is never overwritten to replace content: new content (copy-up, truncate to zero
// of a base file) gets a new name with a fresh seq, and the row switching to it is the atomic step
// (one SQLite commit). That is why no temp-file + rename is needed here: a half-written file
// under its final name is harmless, because no committed row names it until it is complete, and
// open() deletes every file no row names.
//
// INVARIANT: #seq is greater than the seq of every file that exists or ever existed in the upper
// directory since open() (open scans the directory first), so a name is never reused while a
// row or an fd of the fs layer could still refer to an older file of that name.
// INVARIANT: #handedOut holds exactly the files created by this instance that no committed row
// references and that were not released: the only files a put may newly reference.

import { constants, fdatasync as fdatasyncCb, fsync as fsyncCb, open as openCb, close as closeCb } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

// libuv opens every file with O_CLOEXEC already.
const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const fdatasyncFd = promisify(fdatasyncCb);
const fsyncFd = promisify(fsyncCb);

/** Backing files are private to the daemon: the fs layer serves their mode from the row. */
export const BACKING_FILE_MODE = 0o600;
const NAME_RE = /^([0-9]+)\.([0-9]+)$/;

/** The (ino, seq) a backing file name encodes, or undefined for a name that is not ours. */
export function parseBackingName(name: string): { ino: number; seq: number } | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const ino = Number(m[1]);
  const seq = Number(m[2]);
  return Number.isSafeInteger(ino) && Number.isSafeInteger(seq) ? { ino, seq } : undefined;
}

export class BackingFiles {
  /** `<overlay dir>/upper`. */
  readonly dir: string;
  #seq = 1;
  readonly #handedOut = new Set<string>();
  /** Files created since the last directory fsync started (their names may not be durable yet). */
  #createsSinceDirSync = 0;

  constructor(overlayDir: string) {
    this.dir = join(overlayDir, 'upper');
  }

  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Whether `path` is a file of this directory with a backing-file name for inode `ino`. */
  belongsTo(path: string, ino: number): boolean {
    return dirname(path) === this.dir && parseBackingName(basename(path))?.ino === ino;
  }

  isHandedOut(path: string): boolean {
    return this.#handedOut.has(path);
  }

  /** A committed row now references the file. */
  adopt(path: string): void {
    this.#handedOut.delete(path);
  }

  /** The caller gave the file up (release, or a row stopped referencing it). */
  forget(path: string): void {
    this.#handedOut.delete(path);
  }

  #nextPath(ino: number): string {
    return join(this.dir, `${ino}.${this.#seq++}`);
  }

  /** A new empty file opened read-write; the caller owns the fd. O_EXCL: never an old file. */
  async create(ino: number): Promise<{ path: string; fd: number }> {
    const path = this.#nextPath(ino);
    const fd = await openFd(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, BACKING_FILE_MODE);
    this.#createsSinceDirSync++;
    this.#handedOut.add(path);
    return { path, fd };
  }

  /**
   * A new file with a copy of `source`: a reflink where the filesystem can (btrfs, xfs), a plain
   * copy otherwise. With `durable`, the copy is fdatasync'ed before this resolves (see copyUp in
   * the store for why that is the default). A partial copy is deleted.
   */
  async copy(ino: number, source: string, durable: boolean): Promise<string> {
    const path = this.#nextPath(ino);
    try {
      await copyFile(source, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      this.#createsSinceDirSync++;
      // The source is a read-only blob-cache file and copyFile copies its mode.
      await chmod(path, BACKING_FILE_MODE);
      if (durable) await this.flushFile(path);
    } catch (err) {
      await unlink(path).catch(() => undefined);
      throw err;
    }
    this.#handedOut.add(path);
    return path;
  }

  /** fdatasync through a fresh fd: on Linux it flushes the file's dirty pages whoever wrote them. */
  async flushFile(path: string): Promise<void> {
    const fd = await openFd(path, constants.O_RDONLY);
    try {
      await fdatasyncFd(fd);
    } finally {
      await closeFd(fd);
    }
  }

  /** Makes the names of files created so far durable (POSIX needs the directory fsync'ed). */
  async flushDirIfNeeded(): Promise<void> {
    const pending = this.#createsSinceDirSync;
    if (pending === 0) return;
    const fd = await openFd(this.dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
    // Creates that raced with the fsync stay counted: they may have missed it.
    this.#createsSinceDirSync -= pending;
  }

  /** Deletes a file; one that is already gone is fine (a `lost` file, a repeated release). */
  async remove(path: string): Promise<void> {
    this.#handedOut.delete(path);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /**
   * Start-up scan: deletes every entry no row references (a crash between creating a file and
   * committing its row, or between a row commit and the unlink, leaves such files), and raises
   * #seq above every name seen. Returns the referenced names that are missing.
   */
  async collect(referenced: ReadonlySet<string>, log: (msg: string, fields: Record<string, unknown>) => void): Promise<{ removed: number; missing: string[] }> {
    const seen = new Set<string>();
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      this.#raiseSeq(name);
      if (referenced.has(name)) {
        seen.add(name);
        continue;
      }
      const path = join(this.dir, name);
      if ((await lstat(path)).isDirectory()) {
        log('foreign directory in the overlay upper dir left alone', { path });
        continue;
      }
      await this.remove(path);
      removed++;
    }
    const missing: string[] = [];
    for (const name of referenced) {
      if (seen.has(name)) continue;
      missing.push(name);
      this.#raiseSeq(name); // never reuse the name of a lost file either: it may come back
    }
    return { removed, missing };
  }

  #raiseSeq(name: string): void {
    const parsed = parseBackingName(name);
    if (parsed && parsed.seq >= this.#seq) this.#seq = parsed.seq + 1;
  }
}
