import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asOid, type Oid } from '../model/ids.js';
import type { TreeEntry } from '../model/tree.js';
import { FIRST_ENTRY_INO, GITFILE_INO, ROOT_INO, Snapshot, type SnapNode } from './snapshot.js';
import { assignInodes } from '../registry/snapshot-store.js';

const oid = (n: number) => asOid(n.toString(16).padStart(40, '0'));
const entries: TreeEntry[] = [
  { path: 'README.md', mode: 0o100644, type: 'blob', oid: oid(1) },
  { path: 'src', mode: 0o040000, type: 'tree', oid: oid(2) },
  { path: 'src/main.ts', mode: 0o100755, type: 'blob', oid: oid(3) },
  { path: 'src/link', mode: 0o120000, type: 'blob', oid: oid(4) },
  { path: 'vendor', mode: 0o160000, type: 'commit', oid: oid(5) },
  { path: 'naïve 日本.txt', mode: 0o100644, type: 'blob', oid: oid(6) },
  { path: 'src/..', mode: 0o100644, type: 'blob', oid: oid(7) }, // hostile: dropped
];

/** A directory's child by name. */
const child = (dir: SnapNode, name: string) => dir.children?.find((c) => c.name === name);

function build(sizes = new Map<string, number>([[oid(1), 10], [oid(3), 20], [oid(4), 9]])) {
  const inodes = assignInodes(new Map(), entries.map((e) => e.path));
  return Snapshot.build({ commit: oid(99) as Oid, commitTime: 1700000000, entries, sizes, inodeOf: (p) => inodes.get(p)! });
}

test('builds a sorted tree with kinds, sizes and stable inodes', () => {
  const s = build();
  s.checkInvariants();
  assert.equal(s.root.ino, ROOT_INO);
  assert.deepEqual(s.root.children!.map((c) => c.name), ['README.md', 'naïve 日本.txt', 'src', 'vendor']);
  const src = child(s.root, 'src')!;
  assert.equal(src.kind, 'dir');
  assert.deepEqual(src.children!.map((c) => c.name), ['link', 'main.ts']);
  assert.equal(child(src, 'main.ts')!.size, 20);
  assert.equal(child(src, 'link')!.kind, 'symlink');
  assert.equal(child(s.root, 'vendor')!.kind, 'gitlink');
  assert.equal(child(s.root, 'naïve 日本.txt')!.size, -1, 'unknown size stays unknown');
  assert.equal(child(s.root, 'missing'), undefined);
  assert.equal(child(src, '..'), undefined, 'hostile names never enter the tree');
  for (const n of [src, ...src.children!]) assert.ok(n.ino >= FIRST_ENTRY_INO && n.ino !== GITFILE_INO);
  assert.deepEqual([...s.blobs()].map((b) => b.path).sort(), ['README.md', 'naïve 日本.txt', 'src/link', 'src/main.ts']);
});

test('a path keeps its inode across generations; new paths get fresh ones', () => {
  const first = assignInodes(new Map(), ['a', 'b', 'c']);
  const second = assignInodes(first, ['b', 'c', 'd']);
  assert.equal(second.get('b'), first.get('b'));
  assert.equal(second.get('c'), first.get('c'));
  assert.ok(![...first.values()].includes(second.get('d')!));
});
