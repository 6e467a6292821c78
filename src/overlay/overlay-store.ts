// The overlay store of one repository (docs/overlay-design.md): per inode, how it differs from
// the base snapshot or that it is new, persisted in `overlay_nodes` and mirrored in memory, plus
// the backing files holding copied-up and new content. It records what the fs layer tells it;
// rename rules, nlink and errno choices are the fs layer's.
//
// Crash order (each step is marked `ORDER:` where it happens):
// 1. A backing file is created (and written by the fs layer, and fdatasync'ed when asked) before
//    any row referencing it commits: put() accepts only files this store handed out and that
//    still exist (BackingFiles #handedOut), so a row can never name a file not yet created.
// 2. A row that stops referencing a file commits before the file is deleted, and the deletion
//    waits for a durable point (dir + WAL flushed) so that even a power loss cannot bring back a
//    row naming a deleted file. Deletions are batched (RELEASE_DELAY_MS) behind one flush.
// 3. At open(), files no row references are deleted (leaks of a crash between 1 and the commit,
//    or between the commit and 2), and rows left unlinked-but-open (parent 0) are finalised.
// So the database never references a missing file, and a crash leaks at most files that the next
// open() collects. One residual case: a power loss on a filesystem that does not order metadata
// (ext4 and xfs do) could make a row durable before its file's directory entry. Such a row is
// kept with content `lost` (logged, reported by lostRows(), EIO on read, repaired by a put) rather
// than dropped: dropping would silently turn an edited tracked file back into its base content,
// and a transiently missing upper directory would wipe the whole overlay.
//
// Durability: every put commits at once (synchronous=NORMAL): it survives a killed daemon, not a
// power loss. sync(ino) is the fsync(2) point: see durability.ts. Measured (bench/overlay-bench.ts,
// 10k new rows, a loaded 2-core VM): 31-37 µs per put, of which ~24-30 µs is the SQLite commit
// itself. Under the ~50 µs budget, so commits are not batched: a put that returned is committed,
// and a failed commit throws to the caller with memory unchanged.
//
// INVARIANT: #index mirrors the committed overlay_nodes rows of this repo exactly (memory changes
// only after a commit succeeded); rows whose file was missing at open carry `lost` in memory.
// INVARIANT: a present row with `upper` content names `<upper>/<ino>.<seq>` of its own ino, the
// file exists, and no other row names it; no released or handed-out file is named by a row.
// INVARIANT: every row's ino < #nextIno <= #reservedIno = overlay_meta.next_ino.

import { basename, resolve } from 'node:path';
import type { Db } from '../registry/db.js';
import { FIRST_ENTRY_INO } from '../snapshot/snapshot.js';
import type { Log } from '../util/log.js';
import { BackingFiles, parseBackingName } from './backing-files.js';
import { flushFileIfPresent, SerialFlush } from './durability.js';
import { OverlayError } from './errors.js';
import { openRecovery } from './recovery.js';
import { ReleaseQueue } from './release-queue.js';
import { DELETE_SQL, SELECT_SQL, UPSERT_SQL, decodeRow, encodeRow } from './row-codec.js';
import { RowIndex } from './row-index.js';
import { checkStoreInvariants } from './store-invariants.js';
import { INO_RESERVE_CHUNK, RELEASE_DELAY_MS, type FaultPoint, type OverlayStoreOptions } from './store-options.js';
import type { OverlayRow } from './types.js';
import { checkRow, freezeRow } from './validate.js';

export { FAULT_POINTS, type FaultPoint, INO_RESERVE_CHUNK, type OverlayStoreOptions, RELEASE_DELAY_MS } from './store-options.js';

const NO_INOS: readonly number[] = Object.freeze([]);

/** The backing file a row names (upper or lost content). */
function fileOf(r: OverlayRow | undefined): string | undefined {
  return r && (r.content.kind === 'upper' || r.content.kind === 'lost') ? r.content.file : undefined;
}

/** The inodes a batch touches; throws if one appears twice (its outcome would be ambiguous). */
function distinctInos(puts: readonly OverlayRow[], deletes: readonly number[]): Set<number> {
  const touched = new Set<number>();
  for (const ino of [...puts.map((r) => r.ino), ...deletes]) {
    if (touched.has(ino)) throw new OverlayError('invalid-row', `overlay: inode ${ino} appears twice in one batch`, ino);
    touched.add(ino);
  }
  return touched;
}

type Lifecycle = 'open' | 'closing' | 'closed';

export class OverlayStore {
  /** Overlay directories open in this process: a second store would collect the first's files. */
  static readonly #openDirs = new Set<string>();

  readonly #db: Db;
  readonly #repo: string;
  readonly #dir: string;
  readonly #files: BackingFiles;
  readonly #index = new RowIndex();
  readonly #log: Log;
  readonly #fault: (point: FaultPoint) => void;
  readonly #releases: ReleaseQueue;
  readonly #upsert;
  readonly #delete;
  readonly #setMeta;
  readonly #commitTx: (puts: readonly OverlayRow[], deletes: readonly number[], also?: () => void) => void;
  readonly #durable: SerialFlush;
  #nextIno = FIRST_ENTRY_INO;
  #reservedIno = FIRST_ENTRY_INO;
  readonly #inflight = new Set<Promise<unknown>>();
  #state: Lifecycle = 'open';
  #closed: Promise<void> | undefined;

  private constructor(opts: OverlayStoreOptions, dir: string) {
    this.#db = opts.db;
    this.#repo = opts.repo;
    this.#dir = dir;
    this.#files = new BackingFiles(dir);
    this.#log = opts.log ?? (() => {});
    this.#fault = opts.fault ?? (() => {});
    this.#upsert = this.#db.prepare(UPSERT_SQL);
    this.#delete = this.#db.prepare(DELETE_SQL);
    this.#setMeta = this.#db.prepare(
      'INSERT INTO overlay_meta (repo, next_ino) VALUES (?, ?) ON CONFLICT (repo) DO UPDATE SET next_ino = excluded.next_ino');
    this.#commitTx = this.#db.transaction((puts: readonly OverlayRow[], deletes: readonly number[], also?: () => void) => {
      for (const ino of deletes) this.#delete.run(this.#repo, ino);
      for (const r of puts) this.#upsert.run(encodeRow(this.#repo, r));
      also?.();
    });
    const wal = resolve(this.#db.name) + '-wal';
    this.#durable = new SerialFlush(async () => {
      // ORDER: names of new backing files before the WAL, so that no row becomes durable before
      // the directory entry of the file it names.
      await this.#files.flushDirIfNeeded();
      await flushFileIfPresent(wal);
      this.#fault('durable');
    });
    this.#releases = new ReleaseQueue({
      files: this.#files, durable: this.#durable, delayMs: opts.releaseDelayMs ?? RELEASE_DELAY_MS, fault: this.#fault, log: this.#log,
    });
  }

  /**
   * Loads the repo's rows into memory, collects orphan backing files, finalises rows left
   * unlinked-but-open, re-reads upper content sizes from the files and restores the inode
   * high-water mark. One store per overlay directory per process.
   */
  static async open(opts: OverlayStoreOptions): Promise<OverlayStore> {
    const dir = resolve(opts.dir);
    if (OverlayStore.#openDirs.has(dir)) throw new OverlayError('already-open', `overlay ${dir} is already open`);
    if (opts.db.memory || String(opts.db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
      throw new OverlayError('unsupported-db', 'the overlay needs a file database in WAL mode');
    }
    OverlayStore.#openDirs.add(dir);
    const store = new OverlayStore(opts, dir);
    try {
      await store.#load(opts.firstFreeIno);
    } catch (err) {
      OverlayStore.#openDirs.delete(dir);
      throw err;
    }
    return store;
  }

  async #load(firstFreeIno: number): Promise<void> {
    await this.#files.ensureDir();
    const raw = this.#db.prepare(SELECT_SQL).raw(true).all(this.#repo) as unknown[][];
    const rows = raw.map((r) => decodeRow(r, this.#files.dir));
    const recovered = await openRecovery({ rows, files: this.#files, log: this.#log, dbPath: resolve(this.#db.name) });
    this.#index.apply(recovered.rows, []);
    // Rows to finalise or refresh go through the normal commit path (one transaction).
    if (recovered.puts.length > 0 || recovered.deletes.length > 0) this.#commit(recovered.puts, recovered.deletes);
    const stored = this.#db.prepare('SELECT next_ino FROM overlay_meta WHERE repo = ?').pluck().get(this.#repo) as number | undefined;
    let next = Math.max(FIRST_ENTRY_INO, firstFreeIno, stored ?? 0);
    for (const r of this.#index.values()) next = Math.max(next, r.ino + 1);
    this.#nextIno = next;
    this.#reservedIno = stored ?? 0;
    if (this.#reservedIno < next) this.#reserve(next + INO_RESERVE_CHUNK);
  }

  // ---- reads: memory only ------------------------------------------------------------------

  /** O(1), memory only. Rows are frozen. */
  get(ino: number): OverlayRow | undefined {
    return this.#index.get(ino);
  }

  rows(): IterableIterator<OverlayRow> {
    return this.#index.values();
  }

  /** Present rows whose parent is `parent` (whiteouts are reached by inode). */
  /** How many rows the repo's overlay holds. */
  get rowCount(): number {
    return this.#index.size;
  }

  childrenOf(parent: number): OverlayRow[] {
    return this.#index.childrenOf(parent);
  }

  /** The present row at (parent, name), if the overlay has one. Base entries are not known here. */
  childNamed(parent: number, name: string): OverlayRow | undefined {
    return this.#index.childNamed(parent, name);
  }

  /** Rows whose backing file was missing at open() (see the file comment). */
  lostRows(): OverlayRow[] {
    return [...this.#index.values()].filter((r) => r.content.kind === 'lost');
  }

  /** Whether the overlay holds anything (status `overlay_dirty`). */
  dirty(): boolean {
    return this.#index.size > 0;
  }

  /** The next inode allocIno() would return. */
  get nextIno(): number {
    return this.#nextIno;
  }

  // ---- inode numbers -----------------------------------------------------------------------

  /** A new inode number: never handed out before by this repo's overlay, across restarts. */
  allocIno(): number {
    this.#assertOpen();
    // ORDER: the high-water mark covering this number commits before the number is returned.
    if (this.#nextIno + 1 > this.#reservedIno) this.#reserve(this.#nextIno + 1 + INO_RESERVE_CHUNK);
    return this.#nextIno++;
  }

  /** Never allocate below `ino` (a new base generation took numbers up to ino - 1). */
  raiseInoFloor(ino: number): void {
    this.#assertOpen();
    if (!Number.isSafeInteger(ino) || ino <= this.#nextIno) return;
    if (ino > this.#reservedIno) this.#reserve(ino + INO_RESERVE_CHUNK);
    this.#nextIno = ino;
  }

  #reserve(upTo: number): void {
    this.#setMeta.run(this.#repo, upTo);
    this.#reservedIno = upTo;
  }

  // ---- row mutations: one transaction each -------------------------------------------------

  /** Inserts or replaces one row. */
  put(row: OverlayRow): void {
    this.putMany([row]);
  }

  /**
   * Puts `rows` and deletes the rows of `deletes` in one transaction: all or nothing, in the
   * database and in memory (rename over an existing entry, exchange). `alsoInTransaction` runs
   * inside that transaction (other tables that must change atomically with the rows: a new base
   * generation); if it throws, nothing is committed. A backing file that a row
   * stops referencing is released (deleted after the commit is durable).
   */
  putMany(rows: readonly OverlayRow[], deletes: readonly number[] = NO_INOS, alsoInTransaction?: () => void): void {
    this.#assertOpen();
    // Hot path (one create/chmod/write-back per call): no allocation beyond the row copy.
    const puts: OverlayRow[] = [];
    for (const r of rows) {
      checkRow(r);
      puts.push(freezeRow(r));
    }
    const touched = puts.length + deletes.length > 1 ? distinctInos(puts, deletes) : undefined;
    for (const r of puts) this.#checkReferences(r);
    this.#index.checkNames(puts, touched);
    this.#commit(puts, deletes.length === 0 ? deletes : deletes.filter((ino) => this.#index.get(ino) !== undefined), alsoInTransaction);
  }

  /** Forgets a row entirely (an overlay-only inode, or a base inode back to its base state). */
  delete(ino: number): boolean {
    const existed = this.#index.get(ino) !== undefined;
    this.putMany([], [ino]);
    return existed;
  }

  #checkReferences(r: OverlayRow): void {
    // Base inodes lie below firstFreeIno / raiseInoFloor(), new ones came from allocIno(): a row
    // above the mark would later collide with a freshly allocated inode.
    if (r.ino >= this.#nextIno) {
      throw new OverlayError('invalid-row', `overlay row ${r.ino}: inode not allocated (>= ${this.#nextIno})`, r.ino);
    }
    const c = r.content;
    if (c.kind !== 'upper' && c.kind !== 'lost') return;
    const cur = this.#index.get(r.ino)?.content;
    if (cur && (cur.kind === 'upper' || cur.kind === 'lost') && cur.file === c.file) {
      if (cur.kind !== c.kind) throw new OverlayError('invalid-row', `overlay row ${r.ino}: content ${cur.kind} cannot become ${c.kind} without a new file`, r.ino);
      return;
    }
    if (c.kind === 'lost') throw new OverlayError('invalid-row', `overlay row ${r.ino}: only open() marks content lost`, r.ino);
    if (!this.#files.belongsTo(c.file, r.ino) || !this.#files.isHandedOut(c.file)) {
      throw new OverlayError('unknown-backing-file', `overlay row ${r.ino}: ${c.file} was not handed out for this inode, or was released`, r.ino);
    }
  }

  #commit(puts: readonly OverlayRow[], deletes: readonly number[], also?: () => void): void {
    const before: Array<OverlayRow | undefined> = [];
    for (const ino of deletes) before.push(this.#index.get(ino));
    for (const r of puts) before.push(this.#index.get(r.ino));
    // A lone row needs no BEGIN/COMMIT round: the statement is its own (autocommit) transaction.
    if (puts.length === 1 && deletes.length === 0 && !also) this.#upsert.run(encodeRow(this.#repo, puts[0]!));
    else this.#commitTx(puts, deletes, also);
    // Had it thrown, nothing would have changed in the database, and memory is still untouched.
    this.#fault('row-committed');
    this.#index.apply(puts, deletes);
    for (let i = 0; i < before.length; i++) {
      const prevFile = fileOf(before[i]);
      const now = i < deletes.length ? undefined : puts[i - deletes.length];
      const nowFile = fileOf(now);
      if (nowFile !== undefined) this.#files.adopt(nowFile);
      // ORDER: the row no longer naming prevFile is committed; its deletion is queued behind a
      // durable point (ReleaseQueue).
      if (prevFile !== undefined && prevFile !== nowFile) this.#releases.push(prevFile);
    }
  }

  // ---- backing files -----------------------------------------------------------------------

  /** An empty backing file for `ino`, opened read-write (the caller owns and closes the fd). */
  async newBackingFile(ino: number): Promise<{ path: string; fd: number }> {
    this.#assertOpen();
    const created = await this.#track(this.#files.create(ino));
    this.#fault('backing-created');
    return created;
  }

  /**
   * A new backing file for `ino` holding a copy of `source` (the hydrated base blob), reflinked
   * where possible. `durable` (default true) fdatasyncs the copy before resolving: the copy
   * replaces content that was already durable (the base), so a power loss after the row commits
   * must not leave an empty or zero-filled file where the base content was. One fdatasync per
   * copy-up (the first write to a tracked file); opt out where that cost matters more.
   */
  async copyUp(ino: number, source: string, opts: { durable?: boolean } = {}): Promise<string> {
    this.#assertOpen();
    const path = await this.#track(this.#files.copy(ino, source, opts.durable ?? true));
    this.#fault('backing-copied');
    return path;
  }

  /** Gives up a handed-out file that no row references (a create or copy-up that failed). */
  async release(path: string): Promise<void> {
    this.#assertOpen();
    const owner = parseBackingName(basename(path))?.ino;
    if (owner !== undefined && fileOf(this.#index.get(owner)) === path) {
      throw new OverlayError('backing-file-referenced', `overlay: ${path} is still referenced`);
    }
    if (!this.#files.isHandedOut(path)) throw new OverlayError('unknown-backing-file', `overlay: ${path} was not handed out or was already released`);
    this.#releases.push(path);
  }

  // ---- durability --------------------------------------------------------------------------

  /**
   * fsync(2) of `ino`: resolves once its content and its committed row survive a power loss.
   * Put the row (size, mtime) first: this makes durable what was put, it does not put.
   */
  async sync(ino: number): Promise<void> {
    this.#assertOpen();
    await this.#track((async () => {
      const c = this.#index.get(ino)?.content;
      // ORDER: file data first, then (in the durable point) its directory entry, then the WAL
      // holding the row, so the row is never durable before the file it names.
      if (c?.kind === 'upper') await this.#files.flushFile(c.file);
      this.#fault('file-synced');
      await this.#durable.run();
    })());
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = (): void => void this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Drains: refuses new calls, waits for in-flight file work, deletes released files behind a
   * durable point. Idempotent. Does not close the database (the caller owns it). Handed-out
   * files never referenced are left for the next open() to collect.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#state = 'closing';
      await Promise.allSettled([...this.#inflight]);
      await this.#releases.close();
      this.#state = 'closed';
      OverlayStore.#openDirs.delete(this.#dir);
    })();
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw new OverlayError('closed', `overlay ${this.#dir} is closed`);
  }

  /** Throws if an invariant is broken (tests). Reads the database and stats every backing file. */
  checkInvariants(): void {
    checkStoreInvariants({
      index: this.#index, files: this.#files, releases: this.#releases.pending, nextIno: this.#nextIno, reservedIno: this.#reservedIno,
      stored: this.#db.prepare(SELECT_SQL).raw(true).all(this.#repo) as unknown[][],
      storedNextIno: this.#db.prepare('SELECT next_ino FROM overlay_meta WHERE repo = ?').pluck().get(this.#repo) as number | undefined,
    });
  }
}
