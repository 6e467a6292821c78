// Daemon lifecycle: following the registry while running, failing reads boundedly, clean stop,
// one daemon per state root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afs, startDaemon } from './support/cli.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { makeRepo } from './support/git-fixtures.js';
import { startGitServer } from './support/git-server.js';

async function mounts(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

test('the daemon mounts repos added while it runs and unmounts removed ones within a second', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-daemon-');
  await makeRepo(join(dir, 'remote'), { 'one.txt': 'one\n' }, { name: 'one' });
  await makeRepo(join(dir, 'remote'), { 'two.txt': 'two\n' }, { name: 'two' });
  const server = await startGitServer({ root: join(dir, 'remote') });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  assert.equal((await afs(state, ['add-repo', '--name', 'one', '--remote', server.url('one')])).code, 0);
  const daemon = startDaemon(state, ['--root', mnt]);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(mnt, 'one'));
  const second = startDaemon(state, ['--root', mnt]);
  assert.equal(await second.exited, 1, 'a second daemon on the same state root is refused');
  assert.match(second.log(), /another daemon \(pid \d+\) is already running/);

  const added = await afs(state, ['add-repo', '--name', 'two', '--remote', server.url('two')]);
  assert.equal(added.code, 0, added.stderr);
  const t0 = Date.now();
  await daemon.waitMounted(join(mnt, 'two'), 5000);
  assert.ok(Date.now() - t0 < 1500, `mounted after ${Date.now() - t0} ms`);
  assert.equal(await readFile(join(mnt, 'two', 'two.txt'), 'utf8'), 'two\n');

  const removed = await afs(state, ['remove-repo', '--name', 'one', '--purge']);
  assert.equal(removed.code, 0, removed.stderr);
  const t1 = Date.now();
  await daemon.waitUnmounted(join(mnt, 'one'), 5000);
  assert.ok(Date.now() - t1 < 1500, `unmounted after ${Date.now() - t1} ms`);
  assert.deepEqual((await readdir(join(state, 'repos'))).filter((n) => !n.startsWith('.')), ['two'], '--purge deleted the data');
  assert.match((await afs(state, ['status', '--name', 'one'])).stderr, /no repo named 'one'/);

  assert.equal(await daemon.stop(), 0, 'SIGTERM exits cleanly');
  assert.ok(!(await mounts()).includes(join(mnt, 'two')), 'no mount left behind');
  assert.match((await afs(state, ['status', '--name', 'two'])).stdout, /^repo=two state=unmounted /);
});

test('a blob the server cannot supply fails that read with EIO in bounded time; the daemon keeps serving', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-eio-');
  const remote = join(dir, 'remote');
  await makeRepo(remote, { 'ok.txt': 'fine\n', 'lost.txt': 'this blob will vanish\n' }, { name: 'r' });
  const server = await startGitServer({ root: remote });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  assert.equal((await afs(state, ['add-repo', '--name', 'r', '--remote', server.url('r'), '--mount-root', mnt])).code, 0);
  // The server's repository is replaced by one that has ok.txt but not lost.txt's blob.
  await rename(join(remote, 'r.git'), join(remote, 'old.git'));
  await makeRepo(remote, { 'ok.txt': 'fine\n' }, { name: 'r' });
  await rm(join(remote, 'old.git'), { recursive: true });
  const daemon = startDaemon(state, ['--hydration-concurrency', '0']);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(mnt, 'r'));
  const t0 = Date.now();
  await assert.rejects(readFile(join(mnt, 'r', 'lost.txt')), (err: NodeJS.ErrnoException) => err.code === 'EIO');
  assert.ok(Date.now() - t0 < 60_000, `EIO after ${Date.now() - t0} ms`);
  assert.equal(await readFile(join(mnt, 'r', 'ok.txt'), 'utf8'), 'fine\n', 'still serving');
});
