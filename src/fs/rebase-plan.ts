// Planning a generation switch (docs/overlay-design.md, "Generations"): the next base snapshot
// and the overlay rows that, together, show exactly what the mount shows now. A HEAD move never
// changes a work tree by itself (git writes the files it changes, through the mount), so the view
// is the invariant: only the split between base and overlay moves. What the view shows and the
// new commit also has becomes base (no row), keeping the node's inode and time stamps so that
// the stat data git recorded stays true; what differs stays a row, now relative to the new base.
//
// The walk visits only directories that hold a row or a change (`touched`, and the diff's paths
// through TargetTree); an untouched subtree whose tree id is unchanged is carried over as the
// very same snapshot nodes.
//
// INVARIANT (checked by the tests): for every visible path, kind, mode, size, times, inode and
// content are the same before and after the switch; every inode of the new snapshot is unique.

import { hashObject } from '../gitstore/git-object.js';
import type { Oid } from '../model/ids.js';
import type { OverlayRow, OverlayStore } from '../overlay/index.js';
import { GITFILE_INO, ROOT_INO, childNamed, compareNames, Snapshot, type NodeTimes, type SnapNode } from '../snapshot/snapshot.js';
import type { TargetEntry, TargetTree } from '../snapshot/target-tree.js';
import { modeOf } from './attrs.js';
import type { NodeTable, WNode } from './worktree-nodes.js';

/** A backing file's git blob id, with the size and mtime it had when it was hashed. */
export interface UpperHash {
  oid: Oid;
  size: number;
  mtimeNs: bigint;
}

export interface RebaseInput {
  table: NodeTable;
  target: TargetTree;
  /** Of this switch's table and snapshot (the one upperCandidates used). */
  paths: ViewPathResolver;
  commit: Oid;
  /** Blob ids of backing files, by file path (see upperCandidates). */
  hashes: ReadonlyMap<string, UpperHash>;
  /** A blob's size when known, else -1. */
  sizeOf(oid: Oid): number;
}

export interface RebasePlan {
  snapshot: Snapshot;
  puts: OverlayRow[];
  deletes: number[];
  /**
   * Content that became a base blob (a backing file, or a symlink target): the blob cache takes
   * it, so the new base serves it without a fetch.
   */
  adopted: Adopted[];
}

export interface Adopted {
  oid: Oid;
  size: number;
  ino: number;
  file?: string;
  data?: Buffer;
}

type Dirlike = { ino: number; kind: string };

function compatible(v: WNode, t: TargetEntry): boolean {
  if (v.kind === 'dir') return t.kind === 'dir' || t.kind === 'gitlink';
  return v.kind === t.kind; // file–file, symlink–symlink
}

function contentKey(r: OverlayRow): string {
  const c = r.content;
  switch (c.kind) {
    case 'base': return `b:${c.oid}`;
    case 'upper': case 'lost': return `${c.kind}:${c.file}`;
    case 'symlink': return `s:${c.target.toString('hex')}`;
    default: return 'none';
  }
}

function xattrKey(r: OverlayRow): string {
  const x = r.xattrs ?? {};
  return Object.keys(x).sort().map((k) => `${k}=${x[k]!.toString('base64')}`).join(',');
}

function sameRow(a: OverlayRow, b: OverlayRow): boolean {
  return a.parent === b.parent && a.name === b.name && a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid
    && a.rdev === b.rdev && a.size === b.size && a.nlink === b.nlink && a.atimeNs === b.atimeNs && a.mtimeNs === b.mtimeNs
    && a.ctimeNs === b.ctimeNs && a.state === b.state && a.created === b.created && contentKey(a) === contentKey(b) && xattrKey(a) === xattrKey(b);
}

/** Parent inode of every node of `s` (one walk). */
function parentMap(s: Snapshot): Map<number, number> {
  const parents = new Map<number, number>();
  const stack: SnapNode[] = [s.root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const c of d.children ?? []) {
      parents.set(c.ino, d.ino);
      if (c.children?.length) stack.push(c);
    }
  }
  return parents;
}

/**
 * Backing files worth hashing before a switch: upper content of rows whose view path the target
 * holds as a file (only those can become base). Hashing happens before the synchronous plan.
 */
export function upperCandidates(table: NodeTable, target: TargetTree, paths: ViewPathResolver): Array<{ file: string; ino: number; oid: Oid }> {
  const out: Array<{ file: string; ino: number; oid: Oid }> = [];
  for (const row of table.store.rows()) {
    if (row.state !== 'present' || row.kind !== 'file' || row.content.kind !== 'upper') continue;
    const path = paths.pathOf(row.ino);
    if (path === undefined) continue;
    const t = target.entryAt(path);
    if (t?.kind === 'file') out.push({ file: row.content.file, ino: row.ino, oid: t.oid });
  }
  return out;
}

/**
 * View paths by walking parent links: rows, then the base snapshot's own structure. Built once
 * per switch (one walk of the snapshot) and shared by upperCandidates and the plan.
 */
export class ViewPathResolver {
  readonly #table: NodeTable;
  readonly #baseParent: Map<number, number>;
  constructor(table: NodeTable) {
    this.#table = table;
    this.#baseParent = parentMap(table.snapshot);
  }

  get baseParents(): Map<number, number> {
    return this.#baseParent;
  }

  /** The view parent of `ino` (0 when unlinked or not visible). */
  parent(ino: number): number {
    const row = this.#table.store.get(ino);
    if (row) return row.state === 'present' ? row.parent : 0;
    return this.#baseParent.get(ino) ?? 0;
  }

  pathOf(ino: number): string | undefined {
    const parts: string[] = [];
    let cur = ino;
    for (let depth = 0; cur !== ROOT_INO; depth++) {
      const row = this.#table.store.get(cur);
      let name: string | undefined;
      let parent: number;
      if (row) {
        if (row.state !== 'present') return undefined;
        name = row.name;
        parent = row.parent;
      } else {
        name = this.#table.snapshot.byIno(cur)?.name;
        parent = this.#baseParent.get(cur) ?? 0;
      }
      if (name === undefined || parent === 0 || depth > 4096) return undefined;
      parts.push(name);
      cur = parent;
    }
    return parts.reverse().join('/');
  }
}

export function planRebase(input: RebaseInput): RebasePlan {
  return new Planner(input).run();
}

class Planner {
  readonly #in: RebaseInput;
  readonly #t: NodeTable;
  readonly #from: Snapshot;
  readonly #store: OverlayStore;
  readonly #baseNs: bigint;
  readonly #paths: ViewPathResolver;
  /** Directory inodes (view or base) below which some row lives: walked, never carried over. */
  readonly #touched = new Set<number>();
  readonly #puts: OverlayRow[] = [];
  readonly #claimed = new Set<number>();
  readonly #adopted: Adopted[] = [];

  constructor(input: RebaseInput) {
    this.#in = input;
    this.#t = input.table;
    this.#from = input.table.snapshot;
    this.#store = input.table.store;
    this.#baseNs = BigInt(this.#from.commitTime) * 1_000_000_000n;
    this.#paths = input.paths;
  }

  run(): RebasePlan {
    const baseParents = this.#paths.baseParents;
    for (const r of this.#store.rows()) {
      if (r.kind === 'dir') this.#touched.add(r.ino);
      for (let p = r.state === 'present' ? r.parent : 0, n = 0; p !== 0 && !this.#touched.has(p) && n < 4096; n++) {
        this.#touched.add(p);
        p = p === ROOT_INO ? 0 : this.#paths.parent(p);
      }
      for (let p = baseParents.get(r.ino) ?? 0; p !== 0 && !this.#touched.has(p); p = baseParents.get(p) ?? 0) this.#touched.add(p);
    }
    const root = this.#t.root();
    this.#settleDir(root);
    const rootNode: SnapNode = {
      ino: ROOT_INO, name: '', kind: 'dir', mode: this.#from.root.mode, oid: this.#from.root.oid, size: 0,
      children: this.#children(root, '', this.#from.root),
    };
    const snapshot = new Snapshot(this.#in.commit, this.#from.commitTime, rootNode);
    // Unlinked but open: not in any base any more, so overlay-only when the last handle goes.
    for (const r of this.#store.rows()) {
      if (r.state === 'present' && r.parent === 0 && r.ino !== ROOT_INO) this.#emit({ ...r, created: !snapshot.byIno(r.ino) });
    }
    const deletes: number[] = [];
    for (const r of this.#store.rows()) if (!this.#claimed.has(r.ino)) deletes.push(r.ino);
    return { snapshot, puts: this.#puts, deletes, adopted: this.#adopted };
  }

  /** The new snapshot's children of view directory `v` at `path` (`base`: the old snapshot's dir at that path). */
  #children(v: WNode, path: string, base: SnapNode | undefined): SnapNode[] {
    const view = this.#t.peekEntries(v);
    const target = this.#in.target.children(path, base);
    const names = new Set<string>(target.keys());
    for (const { name } of view.after(0)) names.add(name);
    const out: SnapNode[] = [];
    for (const name of names) {
      if (path === '' && name === '.git') continue; // the synthesized gitdir file; never a tree entry
      const ino = view.get(name);
      const vc = ino === undefined || ino === GITFILE_INO ? undefined : this.#t.peek(ino, v.ino);
      const t = target.get(name);
      const childPath = path ? `${path}/${name}` : name;
      const baseChild = base && childNamed(base, name);
      if (vc && t && compatible(vc, t)) out.push(this.#shared(v, vc, t, childPath, baseChild));
      else {
        if (vc) this.#viewOnly(vc);
        if (t) out.push(this.#hidden(v, t, childPath, baseChild));
      }
    }
    return out.sort((a, b) => compareNames(a.name, b.name));
  }

  /** A name both the view and the target have, as the same kind: the view node becomes base. */
  #shared(parent: WNode, v: WNode, t: TargetEntry, path: string, baseAtPath: SnapNode | undefined): SnapNode {
    const row = this.#store.get(v.ino);
    const old = this.#from.byIno(v.ino);
    // Carried over as is: a base node no row touches, holding the same entry (for a directory,
    // the same tree id and no row anywhere below it).
    if (!row && old && old.name === t.name && old.kind === t.kind && old.oid === t.oid && old.mode === t.mode && !this.#touched.has(v.ino)) return old;
    const times = this.#timesOf(v);
    if (v.kind === 'dir') {
      this.#settleDir(v);
      if (t.kind === 'gitlink') {
        // The target records a commit id only: whatever the view shows inside is overlay-only.
        for (const { ino } of this.#t.peekEntries(v).after(0)) {
          const c = this.#t.peek(ino, v.ino);
          if (c) this.#viewOnly(c);
        }
        return { ino: v.ino, name: t.name, kind: 'gitlink', mode: t.mode, oid: t.oid, size: 0, children: [], ...times };
      }
      const base = baseAtPath?.kind === 'dir' ? baseAtPath : undefined;
      return { ino: v.ino, name: t.name, kind: 'dir', mode: t.mode, oid: t.oid, size: 0, children: this.#children(v, path, base), ...times };
    }
    const c = v.content;
    let same = false;
    let adopt: Adopted | undefined;
    if (c.kind === 'base') same = c.oid === t.oid;
    else if (c.kind === 'symlink') {
      same = hashObject('blob', c.target) === t.oid;
      if (same) adopt = { oid: t.oid, size: c.target.length, ino: v.ino, data: c.target };
    } else if (c.kind === 'upper') {
      const h = this.#in.hashes.get(c.file);
      same = h !== undefined && h.oid === t.oid && h.size === v.size && h.mtimeNs === v.mtimeNs && v.openCount === 0;
      if (same) adopt = { oid: t.oid, size: v.size, ino: v.ino, file: c.file };
    }
    const node: SnapNode = {
      ino: v.ino, name: t.name, kind: t.kind, mode: t.mode, oid: t.oid,
      size: same ? v.size : old?.oid === t.oid ? old.size : baseAtPath?.oid === t.oid ? baseAtPath.size : this.#in.sizeOf(t.oid), ...times,
    };
    const metaSame = v.mode === modeOf(node) && this.#plainMeta(v);
    if (!same || !metaSame) {
      this.#emit({ ...this.#t.rowOf(v), parent: parent.ino, created: false, ...(same ? { content: { kind: 'base' as const, oid: t.oid } } : {}) });
    }
    if (adopt) this.#adopted.push(adopt);
    return node;
  }

  /** A view node the target does not have (or has as another kind): overlay-only from now on. */
  #viewOnly(v: WNode): void {
    if (v.kind === 'dir') {
      for (const { ino } of this.#t.peekEntries(v).after(0)) {
        const c = this.#t.peek(ino, v.ino);
        if (c) this.#viewOnly(c);
      }
    }
    this.#emit({ ...this.#t.rowOf(v), created: true });
  }

  /**
   * A target entry the view does not show: a base node nobody sees, whited out. A file whose old
   * base inode is already whited out at this very name keeps that inode and row.
   */
  #hidden(parent: Dirlike, t: TargetEntry, path: string, baseAtPath: SnapNode | undefined): SnapNode {
    const row = baseAtPath && this.#store.get(baseAtPath.ino);
    if (baseAtPath && t.kind !== 'dir' && t.kind !== 'gitlink' && baseAtPath.kind === t.kind && row?.state === 'whiteout'
      && row.parent === parent.ino && row.name === t.name) {
      this.#claimed.add(row.ino);
      return { ino: baseAtPath.ino, name: t.name, kind: t.kind, mode: t.mode, oid: t.oid, size: baseAtPath.oid === t.oid ? baseAtPath.size : this.#in.sizeOf(t.oid) };
    }
    const node = this.#freshNode(t, path, baseAtPath);
    this.#emit({
      ino: node.ino, parent: parent.ino, name: t.name, kind: node.kind === 'symlink' ? 'symlink' : node.kind === 'file' ? 'file' : 'dir',
      mode: modeOf(node), uid: this.#t.uid, gid: this.#t.gid, rdev: 0, size: 0, nlink: 0,
      atimeNs: this.#baseNs, mtimeNs: this.#baseNs, ctimeNs: this.#baseNs, content: { kind: 'none' }, state: 'whiteout', created: false, xattrs: {},
    });
    return node;
  }

  /** A target subtree nobody sees, with new inode numbers. */
  #freshNode(t: TargetEntry, path: string, baseAtPath: SnapNode | undefined): SnapNode {
    const ino = this.#t.store.allocIno();
    if (t.kind === 'dir') {
      const base = baseAtPath?.kind === 'dir' ? baseAtPath : undefined;
      const kids = [...this.#in.target.children(path, base).values()].map((c) => this.#freshNode(c, `${path}/${c.name}`, base && childNamed(base, c.name)));
      return { ino, name: t.name, kind: 'dir', mode: t.mode, oid: t.oid, size: 0, children: kids.sort((a, b) => compareNames(a.name, b.name)) };
    }
    if (t.kind === 'gitlink') return { ino, name: t.name, kind: 'gitlink', mode: t.mode, oid: t.oid, size: 0, children: [] };
    return { ino, name: t.name, kind: t.kind, mode: t.mode, oid: t.oid, size: baseAtPath?.oid === t.oid ? baseAtPath.size : this.#in.sizeOf(t.oid) };
  }

  /** A directory that stays base keeps a row only for what a base directory cannot show. */
  #settleDir(v: WNode): void {
    if (v.mode === (0o040000 | 0o755) && this.#plainMeta(v)) return;
    this.#emit({ ...this.#t.rowOf(v), created: false });
  }

  #plainMeta(v: WNode): boolean {
    return v.uid === this.#t.uid && v.gid === this.#t.gid && v.rdev === 0 && v.xattrs.size === 0;
  }

  #timesOf(v: WNode): { times?: NodeTimes } {
    const b = this.#baseNs;
    if (v.atimeNs === b && v.mtimeNs === b && v.ctimeNs === b) return {};
    return { times: { atimeNs: v.atimeNs, mtimeNs: v.mtimeNs, ctimeNs: v.ctimeNs } };
  }

  #emit(row: OverlayRow): void {
    this.#claimed.add(row.ino);
    const cur = this.#store.get(row.ino);
    if (!cur || !sameRow(cur, row)) this.#puts.push(row);
  }
}
