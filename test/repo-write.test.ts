// Writes in the repo mount (the daemon serving WorkTreeFs over the overlay): POSIX behaviour like a
// native directory, metadata changes that never fetch a blob, and changes that survive a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, open, opendir, readFile, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fuseTest } from './support/fuse-env.js';
import { afs } from './support/cli.js';
import { mountedRepo } from './support/mounted-repo.js';
import { diffObservations, runPosixCases, threwCases } from './posix/run-cases.js';
import { posixCases } from './posix/cases.js';

const exec = promisify(execFile);
/** Rows that need hard links; the overlay answers link() with EPERM for now. */
const HARD_LINK_ROWS = new Set(['hard-link', 'rename-onto-itself', 'readdir-entry-types']);

const FILES: Record<string, string | { exec: string }> = {
  'README.md': '# tracked\n',
  'package.json': '{"name":"w"}\n',
  'src/a.ts': 'export const a = 1;\n',
  'src/lib/b.ts': 'export const b = 2;\n',
  'src/lib/c.ts': 'export const c = 3;\n',
  'bin/run': { exec: '#!/bin/sh\n' },
};

const setup = (t: import('node:test').TestContext) => mountedRepo(t, 'w', FILES);

test('the POSIX table in the repo mount matches a native directory', fuseTest, async (t) => {
  const { dir, root } = await setup(t);
  const native = join(dir, 'native');
  await mkdir(native);
  await mkdir(join(root, 'posix'));
  const cases = posixCases.filter((c) => !HARD_LINK_ROWS.has(c.name));
  const control = await runPosixCases(native, cases);
  const subject = await runPosixCases(join(root, 'posix'), cases);
  assert.deepEqual(threwCases(control), []);
  assert.deepEqual(diffObservations(control, subject), []);
});

test('rm -rf, chmod, touch, mv and truncate of tracked files fetch no blob; git sees the changes', fuseTest, async (t) => {
  const { server, root } = await setup(t);
  server.resetStats();
  await rm(join(root, 'src/lib'), { recursive: true });
  await chmod(join(root, 'README.md'), 0o755);
  await utimes(join(root, 'package.json'), new Date(), new Date());
  await rename(join(root, 'bin'), join(root, 'tools'));
  await truncate(join(root, 'src/a.ts'), 0);
  assert.equal(server.stats.fetchRequests, 0, 'a metadata change hydrated a blob');
  assert.equal((await stat(join(root, 'src/a.ts'))).size, 0);
  assert.equal((await stat(join(root, 'tools/run'))).mode & 0o777, 0o755);
  const status = (await exec('git', ['-C', root, 'status', '--porcelain'])).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(status, [' D bin/run', ' D src/lib/b.ts', ' D src/lib/c.ts', ' M README.md', ' M src/a.ts', '?? tools/']);
});

test('writes survive a daemon restart byte for byte; status reports the overlay dirty', fuseTest, async (t) => {
  const { state, root, restart } = await setup(t);
  assert.match((await afs(state, ['status', '--name', 'w'])).stdout, /overlay_dirty=false/);
  await writeFile(join(root, 'src/a.ts'), 'export const a = 42;\n');
  await writeFile(join(root, 'new.txt'), 'new file\n');
  await mkdir(join(root, 'dir/sub'), { recursive: true });
  await rename(join(root, 'src/lib/b.ts'), join(root, 'dir/sub/b.ts'));
  const before = (await exec('git', ['-C', root, 'status', '--porcelain=v1', '-z', '-uall'])).stdout;
  assert.match((await afs(state, ['status', '--name', 'w'])).stdout, /overlay_dirty=true/);
  await restart();
  assert.equal(await readFile(join(root, 'src/a.ts'), 'utf8'), 'export const a = 42;\n');
  assert.equal(await readFile(join(root, 'new.txt'), 'utf8'), 'new file\n');
  assert.equal(await readFile(join(root, 'dir/sub/b.ts'), 'utf8'), FILES['src/lib/b.ts']);
  assert.equal((await exec('git', ['-C', root, 'status', '--porcelain=v1', '-z', '-uall'])).stdout, before);
});

test('git add and commit in the mount; status is clean afterwards', fuseTest, async (t) => {
  const { root } = await setup(t);
  const git = (...args: string[]) => exec('git', ['-C', root, '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args]);
  await writeFile(join(root, 'src/a.ts'), 'export const a = 7;\n');
  await writeFile(join(root, 'added.txt'), 'added\n');
  await rm(join(root, 'README.md'));
  assert.equal((await git('add', '-A')).stderr, '');
  await git('commit', '-qm', 'edit in the mount');
  assert.equal((await git('status', '--porcelain')).stdout, '');
  assert.equal((await git('log', '--format=%s', '-1')).stdout.trim(), 'edit in the mount');
  assert.equal((await git('show', 'HEAD:src/a.ts')).stdout, 'export const a = 7;\n');
  assert.deepEqual((await git('show', '--name-status', '--format=', 'HEAD')).stdout.trim().split('\n').sort(), ['A\tadded.txt', 'D\tREADME.md', 'M\tsrc/a.ts']);
});

test('handles survive renames: a directory handle and a file handle inside a moved tracked tree', fuseTest, async (t) => {
  const { root, server } = await setup(t);
  const dirHandle = await opendir(join(root, 'src/lib'));
  const file = await open(join(root, 'src/lib/b.ts'), 'r+');
  const ino = (await stat(join(root, 'src/lib/b.ts'))).ino;
  server.resetStats();
  await rename(join(root, 'src'), join(root, 'source'));
  assert.equal(server.stats.fetchRequests, 0);
  const names: string[] = [];
  for await (const e of dirHandle) names.push(e.name);
  assert.deepEqual(names.sort(), ['b.ts', 'c.ts'], 'the directory handle still lists its entries after the move');
  await file.write('// edited through a handle opened before the move\n', 0);
  await file.close();
  assert.match(await readFile(join(root, 'source/lib/b.ts'), 'utf8'), /^\/\/ edited through a handle/);
  assert.equal((await stat(join(root, 'source/lib/b.ts'))).ino, ino, 'rename keeps the inode');
});
