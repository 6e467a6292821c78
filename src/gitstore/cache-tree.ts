// The index's cache-tree extension ("TREE", Documentation/gitformat-index.txt): for each directory
// of the index, how many entries it spans, how many subdirectories it has and the tree object
// those entries make. With it, `git status` (and commit) compare the index with HEAD by tree id
// instead of unpacking every tree of HEAD: on the workers-sdk-shaped repo that comparison was the
// largest part of a warm status in the mount (4-49 ms of traverse_trees, loaded VM; ~0 with TREE).
//
// The caller passes trees and entries from one listing (ls-tree -r -t of one commit), so each
// tree holds exactly the entries under its path. Written only when that listing is complete for
// the index: every directory of the index has a tree id, and every tree spans at least one entry. Anything else writes no extension
// (git then compares the slow way) rather than a wrong one, which would make commits wrong.

import type { Oid } from '../model/ids.js';

export interface TreeId {
  /** Directory path ('' for the root), '/'-separated. */
  path: string;
  oid: Oid;
}

interface Dir {
  name: Buffer;
  oid: Oid;
  count: number;
  subs: Dir[];
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * The extension's payload (without signature and length), or undefined when `trees` does not
 * cover `paths` exactly. `paths` are the index entries' paths; `trees` every directory's tree id,
 * the root included.
 */
export function encodeCacheTree(paths: readonly string[], trees: readonly TreeId[]): Buffer | undefined {
  const dirs = new Map<string, Dir>();
  for (const t of trees) {
    const name = t.path === '' ? '' : t.path.slice(t.path.lastIndexOf('/') + 1);
    dirs.set(t.path, { name: Buffer.from(name), oid: t.oid, count: 0, subs: [] });
  }
  const root = dirs.get('');
  if (!root) return undefined;
  for (const [path, d] of dirs) {
    if (path === '') continue;
    const parent = dirs.get(parentOf(path));
    if (!parent) return undefined;
    parent.subs.push(d);
  }
  for (const p of paths) {
    for (let dir = parentOf(p); ; dir = parentOf(dir)) {
      const d = dirs.get(dir);
      if (!d) return undefined;
      d.count++;
      if (dir === '') break;
    }
  }
  const out: Buffer[] = [];
  let ok = true;
  const write = (d: Dir): void => {
    if (d.count === 0) ok = false;
    out.push(d.name, Buffer.from(`\0${d.count} ${d.subs.length}\n`), Buffer.from(d.oid, 'hex'));
    // git keeps subtrees ordered by name length, then bytes (cache-tree.c, subtree_name_cmp).
    d.subs.sort((a, b) => a.name.length - b.name.length || Buffer.compare(a.name, b.name));
    for (const s of d.subs) write(s);
  };
  write(root);
  return ok ? Buffer.concat(out) : undefined;
}
