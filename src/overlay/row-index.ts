// The in-memory side of the overlay: every row by inode, and the present rows by (parent, name).
// This is the hot path of the fs layer (lookup, readdir, getattr never touch SQLite); the store
// changes it only after the matching database commit succeeded.
//
// INVARIANT: #children holds exactly the present rows with parent != 0, except the root row
// (the root names itself as parent and is nobody's child), under #children[parent][name].
// INVARIANT: (parent, name) is unique among those rows. Whiteouts and unlinked-but-open rows
// (parent 0) are in #rows only: the fs layer reaches them by inode.

import { ROOT_INO } from '../snapshot/snapshot.js';
import { OverlayError } from './errors.js';
import type { OverlayRow } from './types.js';

function isListed(r: OverlayRow): boolean {
  return r.state === 'present' && r.parent !== 0 && r.ino !== ROOT_INO;
}

export class RowIndex {
  readonly #rows = new Map<number, OverlayRow>();
  readonly #children = new Map<number, Map<string, number>>();

  get size(): number {
    return this.#rows.size;
  }

  get(ino: number): OverlayRow | undefined {
    return this.#rows.get(ino);
  }

  values(): IterableIterator<OverlayRow> {
    return this.#rows.values();
  }

  /** Present rows whose parent is `parent` (for 0: the unlinked-but-open rows). */
  childrenOf(parent: number): OverlayRow[] {
    if (parent === 0) return [...this.#rows.values()].filter((r) => r.parent === 0 && r.state === 'present');
    const names = this.#children.get(parent);
    if (!names) return [];
    const out: OverlayRow[] = [];
    for (const ino of names.values()) out.push(this.#rows.get(ino)!);
    return out;
  }

  childNamed(parent: number, name: string): OverlayRow | undefined {
    const ino = this.#children.get(parent)?.get(name);
    return ino === undefined ? undefined : this.#rows.get(ino);
  }

  /**
   * Throws 'name-taken' if, after the batch (`puts`, with every inode of `changing` leaving its
   * current place; undefined for a single put), two present rows would share a (parent, name).
   */
  checkNames(puts: readonly OverlayRow[], changing: ReadonlySet<number> | undefined): void {
    const claimed = changing && new Map<string, number>();
    for (const r of puts) {
      if (!isListed(r)) continue;
      const key = `${r.parent}/${r.name}`; // a name never contains '/': the key is unambiguous
      const inBatch = claimed?.get(key);
      const holder = inBatch ?? this.#children.get(r.parent)?.get(r.name);
      if (holder !== undefined && holder !== r.ino && (inBatch !== undefined || !changing?.has(holder))) {
        throw new OverlayError('name-taken', `overlay: ${JSON.stringify(r.name)} in directory ${r.parent} is already inode ${holder}`, r.ino);
      }
      claimed?.set(key, r.ino);
    }
  }

  /** Applies a committed batch. All old places are dropped before any new one is taken (swaps). */
  apply(puts: readonly OverlayRow[], deletes: readonly number[]): void {
    for (const ino of deletes) {
      const prev = this.#rows.get(ino);
      if (prev) this.#unlist(prev);
      this.#rows.delete(ino);
    }
    for (const r of puts) {
      const prev = this.#rows.get(r.ino);
      if (prev) this.#unlist(prev);
    }
    for (const r of puts) {
      this.#rows.set(r.ino, r);
      if (isListed(r)) this.#list(r);
    }
  }

  #list(r: OverlayRow): void {
    let names = this.#children.get(r.parent);
    if (!names) this.#children.set(r.parent, (names = new Map()));
    names.set(r.name, r.ino);
  }

  #unlist(r: OverlayRow): void {
    if (!isListed(r)) return;
    const names = this.#children.get(r.parent);
    if (names?.get(r.name) !== r.ino) return;
    names.delete(r.name);
    if (names.size === 0) this.#children.delete(r.parent);
  }

  checkInvariants(): void {
    let listed = 0;
    for (const [ino, r] of this.#rows) {
      if (r.ino !== ino) throw new Error(`overlay index: row ${r.ino} filed under ${ino}`);
      if (!isListed(r)) continue;
      listed++;
      if (this.#children.get(r.parent)?.get(r.name) !== ino) throw new Error(`overlay index: row ${ino} missing from its directory ${r.parent}`);
    }
    let indexed = 0;
    for (const names of this.#children.values()) {
      if (names.size === 0) throw new Error('overlay index: empty directory entry kept');
      indexed += names.size;
    }
    if (indexed !== listed) throw new Error(`overlay index: ${indexed} names indexed for ${listed} listed rows`);
  }
}
