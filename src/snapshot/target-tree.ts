// The tree of a new commit, described as the current snapshot plus a tree diff (DESIGN decision
// 11): nothing is re-indexed. A directory's target children are its snapshot children with the
// diff's additions, changes and deletions applied; `git diff-tree -r -t` lists every changed
// path, trees included, so a path the diff does not name is unchanged.

import type { TreeChange } from '../gitstore/diff-tree.js';
import type { Oid } from '../model/ids.js';
import { childNamed, kindOf, type NodeKind, type SnapNode, type Snapshot } from './snapshot.js';

export interface TargetEntry {
  readonly name: string;
  readonly mode: number;
  readonly oid: Oid;
  readonly kind: NodeKind;
}

function parentOf(path: string): { parent: string; name: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? { parent: '', name: path } : { parent: path.slice(0, slash), name: path.slice(slash + 1) };
}

export class TargetTree {
  readonly #from: Snapshot;
  readonly #changes = new Map<string, TreeChange>();
  /** Changed child names by parent path. */
  readonly #byParent = new Map<string, string[]>();

  constructor(from: Snapshot, changes: readonly TreeChange[]) {
    this.#from = from;
    for (const c of changes) {
      this.#changes.set(c.path, c);
      const { parent, name } = parentOf(c.path);
      let names = this.#byParent.get(parent);
      if (!names) this.#byParent.set(parent, (names = []));
      names.push(name);
    }
  }

  get changeCount(): number {
    return this.#changes.size;
  }

  /**
   * The target's entries in the directory at `path`. `base` is the snapshot's directory at the
   * same path when the target keeps a directory there (its children are the starting point);
   * undefined when the directory is new in the target.
   */
  children(path: string, base: SnapNode | undefined): Map<string, TargetEntry> {
    const out = new Map<string, TargetEntry>();
    for (const c of base?.children ?? []) out.set(c.name, c);
    for (const name of this.#byParent.get(path) ?? []) {
      const after = this.#changes.get(path ? `${path}/${name}` : name)!.after;
      if (after) out.set(name, { name, mode: after.mode, oid: after.oid, kind: kindOf(after.mode) });
      else out.delete(name);
    }
    return out;
  }

  /** The target's entry at `path`, or undefined when the target has nothing there. */
  entryAt(path: string): TargetEntry | undefined {
    const change = this.#changes.get(path);
    if (change) return change.after && { name: parentOf(path).name, ...change.after, kind: kindOf(change.after.mode) };
    let node: SnapNode | undefined = this.#from.root;
    for (const part of path.split('/')) {
      node = childNamed(node, part);
      if (!node) return undefined;
    }
    return node;
  }
}
