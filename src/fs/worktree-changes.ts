// Reports which work-tree paths a mutation changed (WorkTreeFsOptions.onChange): the daemon
// journals them for git's fsmonitor hook. One mechanism for every mutation; the handler calls it
// after the change succeeded and before it replies (writes: before the data lands, which is just
// as good, since a reported path is only re-checked).
//
// Paths are relative to the root, '/'-separated; a directory ends in '/' (git re-checks
// everything under it). A node with no name (unlinked, kept alive by a handle) has no path and
// is not reported: nothing git could see changed.

import { GITFILE_INO, ROOT_INO } from '../snapshot/snapshot.js';
import type { NodeTable, WNode } from './worktree-nodes.js';

/** Deeper than any real tree (PATH_MAX / 2): a guard against a parent cycle, never expected. */
const MAX_DEPTH = 2048;

export class ChangeReporter {
  readonly #t: NodeTable;
  readonly #sink: ((paths: readonly string[]) => void) | undefined;

  constructor(table: NodeTable, sink: ((paths: readonly string[]) => void) | undefined) {
    this.#t = table;
    this.#sink = sink;
  }

  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  /** A node's content or attributes changed. */
  node(n: WNode): void {
    if (!this.#sink || n.ino === ROOT_INO) return;
    const p = this.pathOf(n);
    if (p !== undefined) this.#sink([n.kind === 'dir' ? `${p}/` : p]);
  }

  /** `name` in `dir` was created or removed; `dir` says whether it is (or was) a directory. */
  name(dir: WNode, name: string, isDir: boolean): void {
    if (!this.#sink) return;
    const p = this.#child(dir, name);
    if (p !== undefined) this.#sink([isDir ? `${p}/` : p]);
  }

  /**
   * A rename: both names, in the form of every kind of node that held them before or holds them
   * now (a directory at a name needs the '/' form so git re-checks what was under it).
   */
  renamed(oldDir: WNode, name: string, newDir: WNode, newName: string, kinds: { src: boolean; dst: boolean | undefined }): void {
    if (!this.#sink) return;
    const out: string[] = [];
    for (const p of [this.#child(oldDir, name), this.#child(newDir, newName)]) {
      if (p === undefined) continue;
      for (const isDir of kinds.dst === undefined ? [kinds.src] : [kinds.src, kinds.dst]) out.push(isDir ? `${p}/` : p);
    }
    if (out.length) this.#sink(out);
  }

  /** Whether `name` in `dir` is a directory now (for renamed()); undefined when absent. */
  isDir(dir: WNode, name: string): boolean | undefined {
    const ino = this.#t.entries(dir).get(name);
    if (ino === undefined) return undefined;
    return ino !== GITFILE_INO && this.#t.get(ino, dir.ino)?.kind === 'dir';
  }

  /** The node's path from the root ('' for the root), undefined when it has no name. */
  pathOf(n: WNode): string | undefined {
    const parts: string[] = [];
    let cur: WNode | undefined = n;
    for (let depth = 0; cur && cur.ino !== ROOT_INO; depth++) {
      if (cur.parent === 0 || depth > MAX_DEPTH) return undefined;
      parts.push(cur.name);
      cur = this.#t.get(cur.parent);
    }
    return cur ? parts.reverse().join('/') : undefined;
  }

  #child(dir: WNode, name: string): string | undefined {
    const d = this.pathOf(dir);
    if (d === undefined) return undefined;
    return d === '' ? name : `${d}/${name}`;
  }
}
