import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRawDiff } from './diff-tree.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('parseRawDiff reads added, deleted and changed entries, any byte in a path', () => {
  const out = Buffer.from([
    `:000000 040000 ${Z} ${A} A\0dir\0`,
    `:100644 000000 ${A} ${Z} D\0old file\0`,
    `:100644 100755 ${A} ${B} M\0new\nline\0`,
  ].join(''));
  assert.deepEqual(parseRawDiff(out), [
    { path: 'dir', after: { mode: 0o40000, oid: A } },
    { path: 'old file', before: { mode: 0o100644, oid: A } },
    { path: 'new\nline', before: { mode: 0o100644, oid: A }, after: { mode: 0o100755, oid: B } },
  ]);
  assert.deepEqual(parseRawDiff(Buffer.alloc(0)), []);
  assert.throws(() => parseRawDiff(Buffer.from(`:100644 100644 ${A} ${B} M\0cut`)), /malformed/);
});
