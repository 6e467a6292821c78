// The POSIX table against native directories: the control every FUSE mount is compared with.
// Proves three things before any mount is involved: every row runs to an observation, each row
// observes what Linux is known to answer, and observations are deterministic (two fresh dirs,
// equal results), so a later native-vs-mount difference is the mount's.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Observation } from './case-kit.js';
import { posixCases } from './cases.js';
import { diffObservations, runPosixCases, threwCases, unmetExpectations } from './run-cases.js';

let root: string | undefined;
let first = new Map<string, Observation>();
let second = new Map<string, Observation>();

after(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'artifact-fs-posix-'));
  const [a, b] = [join(root, 'a'), join(root, 'b')];
  await mkdir(a);
  await mkdir(b);
  first = await runPosixCases(a);
  second = await runPosixCases(b);
});

test('case names are unique kebab-case directory names', () => {
  const names = posixCases.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, 'duplicate case names');
  for (const name of names) assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/, name);
});

test('every case produces an observation on native', () => {
  assert.equal(first.size, posixCases.length);
  assert.deepEqual(threwCases(first), []);
});

test('native observations match the Linux answers written in the table', () => {
  assert.deepEqual(unmetExpectations(first), []);
});

test('observations are deterministic across two native directories', () => {
  assert.deepEqual(diffObservations(first, second), []);
});

test('diffObservations names each differing leaf and each missing case', () => {
  const control = new Map<string, Observation>([
    ['a', { code: 'EISDIR', list: [1, 2], nested: { same: true, ok: 'x' } }],
    ['b', 'only-in-control'],
  ]);
  const subject = new Map<string, Observation>([
    ['a', { code: 'ENOSYS', list: [1, 3], nested: { same: true }, extra: null }],
    ['c', 1],
  ]);
  assert.deepEqual(diffObservations(control, subject), [
    'a.code: control "EISDIR", subject "ENOSYS"',
    'a.extra: control (absent), subject null',
    'a.list[1]: control 2, subject 3',
    'a.nested.ok: control "x", subject (absent)',
    'b: missing from subject',
    'c: missing from control',
  ]);
  assert.deepEqual(diffObservations(control, control), []);
});

test('the runner turns an exception or a hang-free failure into { threw } and keeps going', async () => {
  assert.ok(root !== undefined);
  const dir = join(root, 'runner');
  await mkdir(dir);
  const results = await runPosixCases(dir, [
    { name: 'boom', run: () => Promise.reject(Object.assign(new Error('x'), { code: 'EIO' })) },
    { name: 'fine', run: () => Promise.resolve({ ok: true }) },
  ]);
  assert.deepEqual([...results], [
    ['boom', { threw: 'EIO' }],
    ['fine', { ok: true }],
  ]);
});
