import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TreeEntry } from '../model/tree.js';
import { parseLsTreeRecords } from './tree-index.js';

test('ls-tree -z records parse across arbitrary chunk boundaries, paths intact', () => {
  const oid = 'a'.repeat(40);
  const rec = (s: string) => s + '\u0000';
  const raw = Buffer.from(rec(`100644 blob ${oid}\tdir/naïve\nname.txt`) + rec(`040000 tree ${'b'.repeat(40)}\tdir`) + rec(`120000 blob ${'c'.repeat(40)}\tlink`));
  for (let cut = 1; cut < raw.length; cut += 7) {
    const out: TreeEntry[] = [];
    let rest = raw.subarray(0, cut);
    rest = rest.subarray(parseLsTreeRecords(rest, 0, out));
    const tail = Buffer.concat([rest, raw.subarray(cut)]);
    assert.equal(parseLsTreeRecords(tail, 0, out), tail.length);
    assert.deepEqual(out.map((e) => [e.path, e.mode, e.type]), [['dir/naïve\nname.txt', 0o100644, 'blob'], ['dir', 0o040000, 'tree'], ['link', 0o120000, 'blob']]);
  }
  assert.throws(() => parseLsTreeRecords(Buffer.from('garbage\0'), 0, []));
});
