// Directory entries with readdir cookies that stay valid while the directory changes (memfs and
// the repository filesystem both list directories through this).
//
// The kernel resumes a listing by passing back the `off` of the last entry it consumed: after
// entries were added or removed meanwhile, and sometimes from an older offset than the last one
// we served (when the caller's getdents buffer filled up first). So a cookie names a position,
// not an index: each entry takes the next value of a per-directory counter when it is inserted
// and keeps it until it is removed. Listing after cookie c yields the live entries with a larger
// cookie, in cookie order: an entry removed meanwhile is skipped, one added meanwhile shows up at
// the end, and no entry comes twice in one pass. "." and ".." own cookies 1 and 2.
//
// Entries sit in an array sorted by cookie (appending keeps it sorted, because cookies only
// grow), so resuming is a binary search, not a scan. Removal leaves a tombstone that is skipped,
// and the array is compacted once tombstones make up half of it: amortised O(1) per removal.

function invariant(message: string): never {
  throw new Error(`directory entries invariant violated: ${message}`);
}

export const DOT_COOKIE = 1;
export const DOTDOT_COOKIE = 2;
const FIRST_COOKIE = 3;
/** Below this many tombstones compaction is not worth a pass. */
const MIN_COMPACTION = 64;

export interface DirEntry {
  readonly name: string;
  /** The inode; changes only when RENAME_EXCHANGE swaps two names in place. */
  ino: number;
  readonly cookie: number;
  removed: boolean;
}

export class DirEntries {
  // INVARIANT: #byName maps each live name to its entry. #order holds every live entry exactly
  // once plus #tombstones removed ones, sorted by strictly increasing cookie, and every cookie
  // is below #nextCookie; so a cookie is never handed out twice in one directory.
  readonly #byName = new Map<string, DirEntry>();
  #order: DirEntry[] = [];
  #tombstones = 0;
  #nextCookie = FIRST_COOKIE;

  get size(): number {
    return this.#byName.size;
  }

  /** The inode named `name`, if any. */
  get(name: string): number | undefined {
    return this.#byName.get(name)?.ino;
  }

  /** Inserts a name that is not present (callers check first), at the end of the order. */
  add(name: string, ino: number): void {
    if (this.#byName.has(name)) throw new Error(`memfs: duplicate directory entry ${name}`);
    const entry: DirEntry = { name, ino, cookie: this.#nextCookie++, removed: false };
    this.#byName.set(name, entry);
    this.#order.push(entry);
  }

  remove(name: string): void {
    const entry = this.#byName.get(name);
    if (entry === undefined) return;
    this.#byName.delete(name);
    entry.removed = true;
    this.#tombstones++;
    if (this.#tombstones >= MIN_COMPACTION && this.#tombstones * 2 >= this.#order.length) {
      this.#order = this.#order.filter((e) => !e.removed);
      this.#tombstones = 0;
    }
  }

  /** Points an existing name at another inode, keeping its cookie (RENAME_EXCHANGE). */
  relink(name: string, ino: number): void {
    const entry = this.#byName.get(name);
    if (entry === undefined) throw new Error(`memfs: relink of missing entry ${name}`);
    entry.ino = ino;
  }

  /** Live [name, ino] pairs in cookie order. */
  *entries(): Generator<[string, number]> {
    for (const e of this.#order) if (!e.removed) yield [e.name, e.ino];
  }

  /** Live entries whose cookie is greater than `cookie`, in cookie order. */
  *after(cookie: number): Generator<DirEntry> {
    const order = this.#order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((order[mid] as DirEntry).cookie <= cookie) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < order.length; i++) {
      const e = order[i] as DirEntry;
      if (!e.removed) yield e;
    }
  }

  checkInvariants(): void {
    let last = DOTDOT_COOKIE;
    let live = 0;
    let dead = 0;
    for (const e of this.#order) {
      if (e.cookie <= last || e.cookie >= this.#nextCookie) invariant(`directory cookie ${e.cookie} of ${e.name} out of order`);
      last = e.cookie;
      if (e.removed) {
        dead++;
      } else {
        live++;
        if (this.#byName.get(e.name) !== e) invariant(`directory entry ${e.name} is not the live one`);
      }
    }
    if (live !== this.#byName.size) invariant(`directory ${this.#byName.size} names but ${live} live entries`);
    if (dead !== this.#tombstones) invariant(`directory ${this.#tombstones} tombstones counted, ${dead} found`);
  }
}
