// The POSIX table against memfs mounted through our FUSE library, compared row by row with a
// native directory on the same machine: every observation must be identical.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { defer, fuseTest, tempDir } from '../support/fuse-env.js';
import { startMemfs } from '../support/memfs-child.js';
import { diffObservations, runPosixCases, threwCases } from './run-cases.js';

test('memfs mounted behaves exactly like a native directory', fuseTest, async (t) => {
  const root = await tempDir(t, 'afs-posix-');
  const native = join(root, 'native');
  const mnt = join(root, 'mnt');
  await mkdir(native);
  await mkdir(mnt);
  const memfs = await startMemfs(mnt);
  defer(t, () => memfs.stop());
  const control = await runPosixCases(native);
  const subject = await runPosixCases(mnt);
  assert.deepEqual(threwCases(control), []);
  assert.deepEqual(diffObservations(control, subject), []);
  assert.ok(subject.size >= 40, `only ${subject.size} cases ran`);
});
