import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Oid } from '../model/ids.js';
import { Snapshot } from './snapshot.js';
import { TargetTree } from './target-tree.js';

const oid = (c: string) => c.repeat(40) as Oid;

test('TargetTree is the snapshot with the diff applied, by path', () => {
  const entries = [
    { path: 'a', mode: 0o40000, type: 'tree' as const, oid: oid('1') },
    { path: 'a/f', mode: 0o100644, type: 'blob' as const, oid: oid('2') },
    { path: 'a/g', mode: 0o100644, type: 'blob' as const, oid: oid('3') },
    { path: 'top', mode: 0o100644, type: 'blob' as const, oid: oid('4') },
  ];
  let ino = 3;
  const from = Snapshot.build({ commit: oid('c'), commitTime: 1, entries, sizes: new Map(), inodeOf: () => ino++ });
  const target = new TargetTree(from, [
    { path: 'a', before: { mode: 0o40000, oid: oid('1') }, after: { mode: 0o40000, oid: oid('5') } },
    { path: 'a/f', before: { mode: 0o100644, oid: oid('2') } },
    { path: 'a/new', after: { mode: 0o120000, oid: oid('6') } },
    { path: 'top', before: { mode: 0o100644, oid: oid('4') }, after: { mode: 0o100755, oid: oid('7') } },
    { path: 'd', after: { mode: 0o40000, oid: oid('8') } },
    { path: 'd/x', after: { mode: 0o100644, oid: oid('9') } },
  ]);
  const a = from.root.children!.find((c) => c.name === 'a')!;
  assert.deepEqual([...target.children('a', a).entries()].map(([n, e]) => [n, e.kind, e.oid[0]]).sort(), [['g', 'file', '3'], ['new', 'symlink', '6']]);
  assert.deepEqual([...target.children('', from.root).keys()].sort(), ['a', 'd', 'top']);
  assert.deepEqual([...target.children('d', undefined).keys()], ['x']);
  assert.equal(target.entryAt('top')?.mode, 0o100755);
  assert.equal(target.entryAt('a/g')?.oid, oid('3'), 'unchanged paths come from the snapshot');
  assert.equal(target.entryAt('a/f'), undefined, 'deleted');
  assert.equal(target.entryAt('d/x')?.kind, 'file');
  assert.equal(target.entryAt('nope/x'), undefined);
});
