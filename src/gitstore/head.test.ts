import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readHead } from './head.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('readHead follows HEAD through loose refs and packed-refs, detached and unborn', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'afs-head-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'refs/heads/feature'), { recursive: true });
  await writeFile(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(dir, 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted\n${A} refs/heads/main\n${B} refs/heads/other\n`);
  assert.deepEqual(await readHead(dir), { ref: 'refs/heads/main', commit: A }, 'packed');
  await writeFile(join(dir, 'refs/heads/main'), `${B}\n`);
  assert.deepEqual(await readHead(dir), { ref: 'refs/heads/main', commit: B }, 'a loose ref wins over packed-refs');
  await writeFile(join(dir, 'HEAD'), 'ref: refs/heads/feature/x\n');
  assert.deepEqual(await readHead(dir), { ref: 'refs/heads/feature/x' }, 'unborn branch');
  await writeFile(join(dir, 'HEAD'), `${A}\n`);
  assert.deepEqual(await readHead(dir), { commit: A }, 'detached');
  await writeFile(join(dir, 'HEAD'), 'ref: refs/../../etc/passwd\n');
  await assert.rejects(readHead(dir), /bad ref/);
  await writeFile(join(dir, 'HEAD'), 'garbage\n');
  await assert.rejects(readHead(dir), /not a commit id/);
});
