// The merged view's inode table: base snapshot nodes overridden, moved, added and whited out by
// overlay rows (docs/overlay-design.md), materialised lazily and kept in memory so that lookup,
// getattr and readdir never scan and never touch the database.
//
// A node is built on first use from its overlay row (if any) or its snapshot node. A directory's
// entries are built on first use, once: its base children that no row moved away or whited out,
// plus the overlay rows naming it as parent (store.childrenOf, indexed). From then on every
// mutation updates the in-memory entries and puts the changed rows in the same call.
//
// INVARIANT: a node in #nodes reflects the committed overlay row of its inode (or the base node
// when there is none) plus in-memory-only atime refreshes; `persist()` is the only way rows are
// written, and it writes the node's current state.
// INVARIANT: a materialised dir's `entries` holds exactly its live names; `subdirs` counts the
// directory entries among them (nlink = 2 + subdirs while linked).

import { DirEntries } from '../util/dir-entries.js';
import { fail, type Attr } from '../fuse/index.js';
import type { OverlayContent, OverlayKind, OverlayRow, OverlayStore } from '../overlay/index.js';
import { GITFILE_INO, ROOT_INO, type SnapNode, type Snapshot } from '../snapshot/snapshot.js';
import { modeOf } from './attrs.js';

export const S_IFMT = 0o170000;
const BLOCK = 4096;
/** relatime: atime is refreshed when not newer than mtime/ctime, or older than a day. */
const RELATIME_MAX_AGE_NS = 24n * 3600n * 1_000_000_000n;

const anchorNs = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();
/** Wall-clock ns, strictly increasing within the process (see memfs-inode.ts for the reasoning). */
export function nowNs(): bigint {
  return anchorNs + (process.hrtime.bigint() - anchorHr);
}

export interface WNode {
  readonly ino: number;
  readonly kind: OverlayKind;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  /** Files: content length (-1 unknown base size); symlinks: target length. */
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  content: OverlayContent;
  /** Directory holding this name; 0 once unlinked (kept alive by open handles / lookups). */
  parent: number;
  name: string;
  /** True when the inode is not in the base snapshot (changes when a generation switch adopts it). */
  created: boolean;
  xattrs: Map<string, Buffer>;
  /** Dirs only, built on first use. */
  entries?: DirEntries;
  subdirs: number;
  /** Kernel lookup references and open handles (handler.ts). */
  nlookup: number;
  openCount: number;
}

export interface NodeTableOptions {
  snapshot: Snapshot;
  store: OverlayStore;
  uid: number;
  gid: number;
}

export class NodeTable {
  #snap: Snapshot;
  readonly #store: OverlayStore;
  readonly #uid: number;
  readonly #gid: number;
  readonly #baseNs: bigint;
  readonly #nodes = new Map<number, WNode>();

  constructor(o: NodeTableOptions) {
    this.#snap = o.snapshot;
    this.#store = o.store;
    this.#uid = o.uid;
    this.#gid = o.gid;
    this.#baseNs = BigInt(o.snapshot.commitTime) * 1_000_000_000n;
  }

  get store(): OverlayStore {
    return this.#store;
  }

  get snapshot(): Snapshot {
    return this.#snap;
  }

  /** The node of a live inode (reachable by name, or still referenced by the kernel). */
  get(ino: number, parentHint = 0): WNode | undefined {
    const cached = this.#nodes.get(ino);
    if (cached) return cached;
    const node = this.#build(ino, parentHint);
    if (node) this.#nodes.set(ino, node);
    return node;
  }

  /**
   * The node as get() would return it, without keeping a new one in memory: for walks over many
   * nodes (a generation switch) that must not grow the table. Do not mutate a peeked node.
   */
  peek(ino: number, parentHint: number): WNode | undefined {
    return this.#nodes.get(ino) ?? this.#build(ino, parentHint);
  }

  #build(ino: number, parentHint: number): WNode | undefined {
    const row = this.#store.get(ino);
    if (row) return row.state === 'whiteout' ? undefined : fromRow(row);
    const s = this.#snap.byIno(ino);
    return s && this.#fromBase(s, parentHint || this.#baseParentOf(s));
  }

  /** The nodes kept in memory (a generation switch updates their content in place). */
  cached(): IterableIterator<WNode> {
    return this.#nodes.values();
  }

  /**
   * Makes `next` the base. The caller guarantees the view is unchanged (docs/overlay-design.md,
   * "Generations"): every visible node has the same attributes and content before and after, so
   * only where content comes from changes, and nothing the kernel cached goes stale.
   */
  switchSnapshot(next: Snapshot): void {
    this.#snap = next;
    for (const n of this.#nodes.values()) {
      const row = this.#store.get(n.ino);
      const s = row ? undefined : next.byIno(n.ino);
      if (row && row.state === 'present') {
        n.content = row.content;
        n.created = row.created;
      } else if (s) {
        n.content = s.kind === 'file' || s.kind === 'symlink' ? { kind: 'base', oid: s.oid } : { kind: 'none' };
        n.created = false;
      }
    }
  }

  must(ino: number): WNode {
    return this.get(ino) ?? fail('ESTALE');
  }

  /** A new node (its row is put by the caller through persist). */
  add(node: WNode): WNode {
    this.#nodes.set(node.ino, node);
    return node;
  }

  /** Drops the in-memory node once nothing refers to it (no name, no lookups, no handles). */
  maybeEvict(node: WNode): void {
    if (node.ino !== ROOT_INO && node.parent === 0 && node.nlookup <= 0 && node.openCount <= 0) this.#nodes.delete(node.ino);
  }

  /** The directory's entries, built on first use (see the file comment). */
  entries(dir: WNode): DirEntries {
    if (dir.entries) return dir.entries;
    if (dir.kind !== 'dir') return fail('ENOTDIR');
    const { entries, subdirs } = this.#listing(dir);
    dir.entries = entries;
    dir.subdirs = subdirs;
    return entries;
  }

  /** entries() without keeping a new listing in memory (see peek). */
  peekEntries(dir: WNode): DirEntries {
    return dir.entries ?? this.#listing(dir).entries;
  }

  #listing(dir: WNode): { entries: DirEntries; subdirs: number } {
    const e = new DirEntries();
    let subdirs = 0;
    if (dir.ino === ROOT_INO) e.add('.git', GITFILE_INO);
    const base = this.#snap.byIno(dir.ino);
    for (const c of base?.children ?? []) {
      const row = this.#store.get(c.ino);
      if (row && (row.state === 'whiteout' || row.parent !== dir.ino || row.name !== c.name)) continue;
      e.add(c.name, c.ino);
      if (c.kind === 'dir' || c.kind === 'gitlink') subdirs++;
    }
    for (const r of this.#store.childrenOf(dir.ino)) {
      if (r.ino === ROOT_INO || e.get(r.name) === r.ino) continue;
      e.add(r.name, r.ino);
      if (r.kind === 'dir') subdirs++;
    }
    return { entries: e, subdirs };
  }

  /** Writes the rows of `nodes` (their current state) and deletes `deletes`, in one transaction. */
  persist(nodes: readonly WNode[], deletes: readonly number[] = []): void {
    this.#store.putMany(nodes.map((n) => this.rowOf(n)), deletes);
  }

  /** The base inode is gone for good: a whiteout row (or no row at all for created inodes). */
  finalizeUnlinked(node: WNode): void {
    if (node.created) this.#store.delete(node.ino);
    else this.#store.put(this.whiteoutRow(node));
  }

  whiteoutRow(node: WNode): OverlayRow {
    const kind = node.kind;
    return { ...this.rowOf(node), parent: node.parent || ROOT_INO, nlink: 0, content: { kind: 'none' }, state: 'whiteout', size: 0, xattrs: {}, kind };
  }

  rowOf(n: WNode): OverlayRow {
    return {
      ino: n.ino, parent: n.parent, name: n.name, kind: n.kind, mode: n.mode, uid: n.uid, gid: n.gid, rdev: n.rdev,
      size: n.kind === 'dir' ? 0 : n.size, nlink: this.nlink(n), atimeNs: n.atimeNs, mtimeNs: n.mtimeNs, ctimeNs: n.ctimeNs,
      content: n.content, state: 'present', created: n.created, xattrs: Object.fromEntries(n.xattrs),
    };
  }

  nlink(n: WNode): number {
    if (n.ino !== ROOT_INO && n.parent === 0) return 0;
    if (n.kind !== 'dir') return 1;
    if (!n.entries && !this.#nodes.has(n.ino)) return 2 + this.#listing(n).subdirs; // a peeked node
    this.entries(n);
    return 2 + n.subdirs;
  }

  attr(n: WNode): Attr {
    const size = n.kind === 'dir' ? BLOCK : Math.max(0, n.size);
    return {
      ino: n.ino, size, blocks: n.kind === 'file' ? Math.ceil(size / BLOCK) * (BLOCK / 512) : 0, mode: n.mode, nlink: this.nlink(n),
      uid: n.uid, gid: n.gid, rdev: n.rdev, blksize: BLOCK, ...split('atime', n.atimeNs), ...split('mtime', n.mtimeNs), ...split('ctime', n.ctimeNs),
    };
  }

  /** True when `node` is `dir` or one of its ancestors (rename into own descendant). */
  isAncestorOf(node: WNode, dir: WNode): boolean {
    for (let cur: WNode | undefined = dir; cur; cur = this.get(cur.parent)) {
      if (cur === node) return true;
      if (cur.ino === ROOT_INO || cur.parent === 0) return false;
    }
    return false;
  }

  get uid(): number { return this.#uid; }
  get gid(): number { return this.#gid; }

  /** Where a base node sits before any row moved it: its snapshot parent (found on first use). */
  #baseParentOf(s: SnapNode): number {
    if (s.ino === ROOT_INO) return ROOT_INO;
    // Callers pass the directory they found the name in; this walk is the fallback for a node
    // reached by inode alone (not on the hot path: the kernel reaches nodes through lookups).
    const stack: SnapNode[] = [this.#snap.root];
    while (stack.length) {
      const d = stack.pop()!;
      for (const c of d.children ?? []) {
        if (c.ino === s.ino) return d.ino;
        if (c.children) stack.push(c);
      }
    }
    return 0;
  }

  #fromBase(s: SnapNode, parent: number): WNode {
    const kind: OverlayKind = s.kind === 'file' ? 'file' : s.kind === 'symlink' ? 'symlink' : 'dir';
    const t = this.#baseNs;
    return {
      ino: s.ino, kind, mode: modeOf(s), uid: this.#uid, gid: this.#gid, rdev: 0, size: kind === 'dir' ? 0 : s.size,
      atimeNs: s.times?.atimeNs ?? t, mtimeNs: s.times?.mtimeNs ?? t, ctimeNs: s.times?.ctimeNs ?? t, content: kind === 'dir' ? { kind: 'none' } : { kind: 'base', oid: s.oid },
      parent, name: s.name, created: false, xattrs: new Map(), subdirs: 0, nlookup: 0, openCount: 0,
    };
  }

  /** Builds the root node eagerly (it is never looked up). */
  root(): WNode {
    return this.must(ROOT_INO);
  }
}

function fromRow(r: OverlayRow): WNode {
  return {
    ino: r.ino, kind: r.kind, mode: r.mode, uid: r.uid, gid: r.gid, rdev: r.rdev, size: r.size,
    atimeNs: r.atimeNs, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs, content: r.content, parent: r.parent, name: r.name,
    created: r.created, xattrs: new Map(Object.entries(r.xattrs ?? {})), subdirs: 0, nlookup: 0, openCount: 0,
  };
}

function split<K extends 'atime' | 'mtime' | 'ctime'>(k: K, ns: bigint): Record<`${K}Sec` | `${K}Nsec`, number> {
  return { [`${k}Sec`]: Number(ns / 1_000_000_000n), [`${k}Nsec`]: Number(ns % 1_000_000_000n) } as Record<`${K}Sec` | `${K}Nsec`, number>;
}

/** Marks an access the way a relatime mount does (memory only: atime is persisted with the next row). */
export function touchAtime(n: WNode): void {
  const t = nowNs();
  if (n.atimeNs <= n.mtimeNs || n.atimeNs <= n.ctimeNs || t - n.atimeNs >= RELATIME_MAX_AGE_NS) n.atimeNs = t;
}
