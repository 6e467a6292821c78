// The change journal behind git's fsmonitor hook (core.fsmonitor with core.fsmonitorHookVersion=2),
// and the hook that reads it: how `git status` in the mount learns what changed without an lstat of
// every tracked file or a readdir of every directory (DESIGN decision 9).
//
// Journal file format (one file per repo, rewritten at every daemon boot):
//
//   <token> [' any'] '\n' ( <path> '\0' )*
//
// The token names this boot of the journal ("afs-" + 16 random hex digits, never a newline or a
// NUL). Each path is relative to the work tree root, recorded at most once per boot; a directory
// ends in '/' (git 2.39 then invalidates every index entry under it, and the untracked cache of
// its parent). Paths are recorded *before* the FUSE reply of the operation that changed them, so
// by the time a program could observe a change, the journal names it.
//
// Hook protocol v2 (githooks(5), fsmonitor-watchman): git runs `<hook> 2 <last token>` with the
// work tree as cwd, reads `<new token> '\0'` and then NUL-separated paths; a first path of "/"
// means "assume everything changed". Git lstat's every reported path, trusts every other index
// entry, and with core.untrackedCache re-reads only the directories of reported paths. Our hook:
//
//   - token equals the journal's: print it and every path recorded since this boot began. A
//     superset of what changed since git's last query (that query happened during this boot), so
//     nothing is missed however git's queries and our appends interleave.
//   - a pristine boot (header `<token> any`: the daemon found the mount exactly as add-repo left
//     it, generation 1 and no overlay row, so nothing ever changed before this boot) answers the
//     same for *any* token: everything that ever changed is in this journal. That makes the first
//     status after add-repo cheap: its index carries an fsmonitor extension with every entry
//     valid (index-writer.ts), so git lstat's nothing. A later boot of the same daemon
//     (compaction, recovery) is never pristine.
//   - anything else (git's own initial token, a token of an earlier boot, an empty token after a
//     failed query): print the current token and "/". git re-checks everything once.
//   - no journal (no daemon serves this repo): "none" and "/".
//
// Compaction: when a boot's journal holds JOURNAL_MAX_PATHS paths or JOURNAL_MAX_BYTES bytes, a new
// boot starts (new token, empty journal): the next status re-checks everything once, and later ones
// are cheap again. A journal that cannot be written is removed (the hook then answers "/") and a
// new boot is attempted at the next change, so a write error costs speed, never correctness.
//
// Appends are synchronous writes of a few bytes to the page cache (a few µs), made once per path
// per boot: the ordering guarantee above is worth more than not blocking the event loop for that.

import { randomBytes } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/** Paths recorded in one boot before a new boot starts (git then re-checks everything once). */
export const JOURNAL_MAX_PATHS = 50_000;
/** Bytes of one boot's journal before a new boot starts. */
export const JOURNAL_MAX_BYTES = 8 << 20;

export interface JournalOptions {
  /** Nothing in the mount ever changed before this boot: any token gets this boot's journal. */
  pristine?: boolean;
  /** One line per failure to write the journal (the daemon's logger). */
  log?(level: 'warn', message: string): void;
  maxPaths?: number;
  maxBytes?: number;
}

export class FsmonitorJournal {
  readonly #file: string;
  readonly #o: JournalOptions;
  // INVARIANT: while #fd is open, the file holds `#token\n` followed by exactly the paths in
  // #seen, each once, NUL-terminated, and #bytes is its length.
  #fd: number | undefined;
  #token = '';
  #bytes = 0;
  readonly #seen = new Set<string>();
  #closed = false;
  /** A write failure was logged and no boot has succeeded since (one line per outage). */
  #warned = false;
  /** The next boot may answer any token (only the first boot, and only when asked). */
  #pristine: boolean;

  private constructor(file: string, o: JournalOptions) {
    this.#file = file;
    this.#o = o;
    this.#pristine = o.pristine === true;
  }

  /** Starts a new boot at `file` (replacing any journal an earlier daemon left). Throws if it cannot. */
  static open(file: string, o: JournalOptions = {}): FsmonitorJournal {
    const j = new FsmonitorJournal(file, o);
    j.#newBoot();
    return j;
  }

  /** The current boot's token ('' while the journal is unwritable). */
  get token(): string {
    return this.#fd === undefined ? '' : this.#token;
  }

  /** Paths recorded in the current boot. */
  get size(): number {
    return this.#seen.size;
  }

  /** Records changed paths (work-tree relative; directories end in '/'). Never throws. */
  record(paths: readonly string[]): void {
    if (this.#closed) return;
    let fresh: string[] | undefined;
    for (const p of paths) {
      if (p === '' || this.#seen.has(p) || p.includes('\0') || fresh?.includes(p)) continue;
      (fresh ??= []).push(p);
    }
    if (!fresh) return;
    const data = Buffer.from(fresh.join('\0') + '\0');
    const maxPaths = this.#o.maxPaths ?? JOURNAL_MAX_PATHS;
    const maxBytes = this.#o.maxBytes ?? JOURNAL_MAX_BYTES;
    try {
      if (this.#fd === undefined || this.#seen.size + fresh.length > maxPaths || this.#bytes + data.length > maxBytes) this.#newBoot();
      writeAll(this.#fd!, data);
    } catch (err) {
      this.#broken(err as Error);
      return;
    }
    this.#bytes += data.length;
    for (const p of fresh) this.#seen.add(p);
  }

  /** Stops recording and removes the journal (the hook then answers "everything"). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drop();
  }

  /** A new token and an empty journal, swapped in atomically (the hook sees the old or the new). */
  #newBoot(): void {
    const token = `afs-${randomBytes(8).toString('hex')}`;
    const tmp = `${this.#file}.tmp`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeAll(fd, Buffer.from(`${token}${this.#pristine ? ' any' : ''}\n`));
      renameSync(tmp, this.#file);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = fd;
    this.#token = token;
    this.#bytes = token.length + (this.#pristine ? 4 : 0) + 1;
    this.#pristine = false;
    this.#seen.clear();
    this.#warned = false;
  }

  #broken(err: Error): void {
    if (!this.#warned) this.#o.log?.('warn', `fsmonitor journal ${this.#file} cannot be written (git status will re-check every file): ${err.message}`);
    this.#warned = true;
    this.#drop();
  }

  #drop(): void {
    if (this.#fd !== undefined) {
      try { closeSync(this.#fd); } catch { /* already unusable */ }
    }
    this.#fd = undefined;
    this.#seen.clear();
    try { rmSync(this.#file, { force: true }); } catch { /* the hook answers "/" for a stale token anyway */ }
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
}

/** Quotes a string for sh: '...' with embedded quotes as '\''. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The hook git runs (POSIX sh: no Node start-up per git command; one `sh` and one `cat`).
 * A redirection failure of a compound command is not fatal in sh, so a missing journal falls
 * through to the "everything" answer (stderr is redirected first: git shows a hook's stderr); `read` leaves the offset right after the token line
 * (dash reads byte by byte, bash seeks back), so `cat` prints exactly the paths.
 */
export function fsmonitorHookScript(journal: string): string {
  return [
    '#!/bin/sh',
    '# git fsmonitor hook (core.fsmonitorHookVersion=2) written by artifact-fs: prints the paths',
    '# changed in the mount since the daemon\'s current boot, or "/" (everything) for any other token.',
    '[ "$1" = 2 ] || exit 1',
    '{',
    "\tIFS=' ' read -r tok scope || tok=",
    '\tif [ -n "$tok" ] && { [ "$2" = "$tok" ] || [ "$scope" = any ]; }; then',
    "\t\tprintf '%s\\0' \"$tok\" && exec cat",
    '\tfi',
    "\tprintf '%s\\0/\\0' \"${tok:-none}\"",
    `} 2>/dev/null <${shQuote(journal)} || printf 'none\\0/\\0'`,
    '',
  ].join('\n');
}
