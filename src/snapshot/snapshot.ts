// The base tree of one generation: every path of the commit, with mode, object id, true size
// (when the server told us) and a stable inode number. Immutable once built except for sizes
// learned later (unknown → known, never changed otherwise).
//
// INVARIANT: node.ino is unique within a snapshot; ROOT_INO is the root, GITFILE_INO is reserved
// for the synthesized `.git` file and never given to a tree entry.
// INVARIANT: dir.children is sorted by byte order of name (compareNames) and names are unique.
// INVARIANT: size >= 0 for every non-file node; size is -1 (unknown) or the blob's exact size.

import type { Oid } from '../model/ids.js';
import { GIT_MODE_GITLINK, GIT_MODE_SYMLINK, GIT_MODE_TREE, type TreeEntry } from '../model/tree.js';

export const ROOT_INO = 1;
export const GITFILE_INO = 2;
export const FIRST_ENTRY_INO = 3;

export type NodeKind = 'dir' | 'file' | 'symlink' | 'gitlink';

/** A node's own time stamps (ns); nodes without them show the snapshot's base time. */
export interface NodeTimes {
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export interface SnapNode {
  readonly ino: number;
  readonly name: string;
  readonly kind: NodeKind;
  /** Git mode: 0o100644 / 0o100755 for files, 0o120000 symlinks, 0o040000 trees, 0o160000 gitlinks. */
  readonly mode: number;
  /** Blob id for files and symlinks; commit id for gitlinks; tree id for directories (root: ''). */
  readonly oid: Oid;
  /** Blob size in bytes; -1 when not known yet. 0 for directories and gitlinks. */
  size: number;
  readonly children?: SnapNode[];
  /**
   * Set on nodes that took their place in a later generation from the work tree (a committed or
   * checked-out file keeps the stat data git recorded for it); absent: the snapshot's base time.
   */
  readonly times?: NodeTimes;
}

/**
 * Name order of directory listings: JS string (UTF-16 code unit) order. It equals byte order for
 * every name without astral characters, and lookups only need it to be consistent.
 */
/** The child of `dir` called `name` (children are sorted: binary search). */
export function childNamed(dir: SnapNode, name: string): SnapNode | undefined {
  const kids = dir.children;
  if (!kids) return undefined;
  let lo = 0;
  let hi = kids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareNames(kids[mid]!.name, name);
    if (c === 0) return kids[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The node kind of a git tree entry mode. */
export function kindOf(mode: number): NodeKind {
  if (mode === GIT_MODE_TREE) return 'dir';
  if (mode === GIT_MODE_SYMLINK) return 'symlink';
  if (mode === GIT_MODE_GITLINK) return 'gitlink';
  return 'file';
}

export interface BuildInput {
  commit: Oid;
  /** Base time (seconds): the times of every node without its own (see Snapshot.commitTime). */
  commitTime: number;
  entries: readonly TreeEntry[];
  /** Known blob sizes (object-info); missing means unknown. */
  sizes: ReadonlyMap<string, number>;
  /** Stable inode for a path; called once per path. */
  inodeOf(path: string): number;
  /** A node's own times, when it has them. */
  timesOf?(path: string): NodeTimes | undefined;
}

export class Snapshot {
  readonly #byIno = new Map<number, SnapNode>();
  /** One node per distinct blob, computed on first use (blobTotals). */
  #unique: SnapNode[] | undefined;
  readonly root: SnapNode;
  /**
   * `commitTime` is the base time: the first generation's committer time, kept by every later
   * generation so that a node nobody changed keeps its stat data (git's index compares it).
   */
  constructor(readonly commit: Oid, readonly commitTime: number, root: SnapNode) {
    this.root = root;
    const walk = (n: SnapNode): void => {
      this.#byIno.set(n.ino, n);
      n.children?.forEach(walk);
    };
    walk(root);
  }

  static build(input: BuildInput): Snapshot {
    const root: SnapNode = { ino: ROOT_INO, name: '', kind: 'dir', mode: GIT_MODE_TREE, oid: '' as Oid, size: 0, children: [] };
    const dirs = new Map<string, SnapNode>([['', root]]);
    for (const e of input.entries) {
      const slash = e.path.lastIndexOf('/');
      const parentPath = slash < 0 ? '' : e.path.slice(0, slash);
      const name = e.path.slice(slash + 1);
      const parent = dirs.get(parentPath);
      if (!parent || !name || name === '.' || name === '..' || name === '.git') continue; // hostile or foreign tree entry
      const kind = kindOf(e.mode);
      const size = kind === 'file' || kind === 'symlink' ? (input.sizes.get(e.oid) ?? -1) : 0;
      const times = input.timesOf?.(e.path);
      const node: SnapNode = {
        ino: input.inodeOf(e.path), name, kind, mode: e.mode, oid: e.oid, size,
        ...(kind === 'dir' || kind === 'gitlink' ? { children: [] } : {}), ...(times ? { times } : {}),
      };
      parent.children!.push(node);
      if (kind === 'dir') dirs.set(e.path, node);
    }
    for (const d of dirs.values()) d.children!.sort((a, b) => compareNames(a.name, b.name));
    return new Snapshot(input.commit, input.commitTime, root);
  }

  byIno(ino: number): SnapNode | undefined {
    return this.#byIno.get(ino);
  }

  get nodeCount(): number {
    return this.#byIno.size;
  }

  /** Highest inode of the snapshot (new overlay inodes start above it). */
  get maxIno(): number {
    let max = GITFILE_INO;
    for (const ino of this.#byIno.keys()) if (ino > max) max = ino;
    return max;
  }

  /** Every node but the root, with its path, parents before children. */
  *nodes(): Generator<{ path: string; node: SnapNode }> {
    const stack: Array<[string, SnapNode]> = [['', this.root]];
    while (stack.length) {
      const [prefix, dir] = stack.pop()!;
      for (const n of dir.children ?? []) {
        const path = prefix ? `${prefix}/${n.name}` : n.name;
        yield { path, node: n };
        if (n.children?.length) stack.push([path, n]);
      }
    }
  }

  /** Every node with a blob (files and symlinks), with its path. */
  *blobs(): Generator<{ path: string; node: SnapNode }> {
    const stack: Array<[string, SnapNode]> = [['', this.root]];
    while (stack.length) {
      const [prefix, dir] = stack.pop()!;
      for (const n of dir.children ?? []) {
        const path = prefix ? `${prefix}/${n.name}` : n.name;
        if (n.kind === 'dir') stack.push([path, n]);
        else if (n.kind === 'file' || n.kind === 'symlink') yield { path, node: n };
      }
    }
  }

  /**
   * Blob count and bytes of the distinct blobs (unknown sizes count 0), and of those `isCached`
   * accepts: the totals `status` reports.
   */
  blobTotals(isCached: (oid: Oid) => boolean): { totalBlobs: number; totalBytes: number; hydratedBlobs: number; hydratedBytes: number } {
    this.#unique ??= (() => {
      const byOid = new Map<string, SnapNode>();
      for (const { node } of this.blobs()) if (!byOid.has(node.oid)) byOid.set(node.oid, node);
      return [...byOid.values()];
    })();
    const t = { totalBlobs: 0, totalBytes: 0, hydratedBlobs: 0, hydratedBytes: 0 };
    for (const n of this.#unique) {
      const bytes = Math.max(0, n.size);
      t.totalBlobs++;
      t.totalBytes += bytes;
      if (isCached(n.oid)) {
        t.hydratedBlobs++;
        t.hydratedBytes += bytes;
      }
    }
    return t;
  }

  checkInvariants(): void {
    const seen = new Set<number>();
    for (const [ino, n] of this.#byIno) {
      if (ino !== n.ino || seen.has(ino)) throw new Error(`inode ${ino} duplicated or misfiled`);
      if (ino === GITFILE_INO) throw new Error('reserved inode used');
      seen.add(ino);
      if (n.kind !== 'file' && n.kind !== 'symlink' && n.size !== 0) throw new Error(`non-file ${n.name} has size`);
      const kids = n.children ?? [];
      for (let i = 1; i < kids.length; i++) {
        if (compareNames(kids[i - 1]!.name, kids[i]!.name) >= 0) throw new Error(`children of ${n.name} not sorted/unique`);
      }
    }
  }
}
