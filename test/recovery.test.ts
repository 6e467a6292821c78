// Recovery: a daemon killed with SIGKILL leaves a dead FUSE mount and a stale pid file; the next
// daemon replaces both by itself and every fsync'ed write is still there. remove-repo --purge
// leaves nothing of the repo behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openDb } from '../src/registry/db.js';
import { afs, startDaemon } from './support/cli.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { makeRepo } from './support/git-fixtures.js';
import { startGitServer } from './support/git-server.js';

const exec = promisify(execFile);

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const errnoOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: NodeJS.ErrnoException) => e.code ?? 'error');

test('after kill -9 of the daemon, the next daemon replaces the dead mount itself; fsync\'ed writes survive; --purge deletes the data', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-recover-');
  await makeRepo(join(dir, 'remote'), { 'base.txt': 'from the remote\n', 'sub/deep.txt': 'deep\n' }, { name: 'r' });
  const server = await startGitServer({ root: join(dir, 'remote') });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const root = join(mnt, 'r');
  assert.equal((await afs(state, ['add-repo', '--name', 'r', '--remote', server.url('r'), '--mount-root', mnt])).code, 0);
  // Whatever happens below, no dead mount outlives the test.
  defer(t, () => exec('umount', ['-l', root]).catch(() => {}));

  const first = startDaemon(state);
  defer(t, () => first.stop());
  await first.waitMounted(root);
  assert.equal(await readFile(join(root, 'base.txt'), 'utf8'), 'from the remote\n');
  const fh = await open(join(root, 'written.txt'), 'w');
  await fh.writeFile('acknowledged before the crash\n');
  await fh.sync();
  await fh.close();

  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'killed by a signal');
  assert.equal(await errnoOf(stat(root)), 'ENOTCONN', 'the mount is dead, not gone');
  assert.ok((await readFile(join(state, 'daemon.pid'), 'utf8')).trim() === String(first.child.pid), 'the stale pid file is still there');

  const second = startDaemon(state);
  defer(t, () => second.stop());
  // A live mount, not the bare directory seen between the dead mount's removal and the new mount.
  const mountsAt = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === root).length;
  await until('the mount to answer again', async () => (await errnoOf(stat(root))) === 'ok' && (await mountsAt()) === 1).catch((err: Error) => assert.fail(`${err.message}; daemon log:\n${second.log()}`));
  assert.equal(await readFile(join(root, 'written.txt'), 'utf8'), 'acknowledged before the crash\n');
  assert.equal(await readFile(join(root, 'sub/deep.txt'), 'utf8'), 'deep\n');
  assert.deepEqual((await readdir(root)).sort(), ['.git', 'base.txt', 'sub', 'written.txt']);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4] === root);
  assert.equal(mounts.length, 1, `one mount at ${root}, not a dead one underneath: ${mounts.join(' | ')}`);
  assert.match(second.log(), /mounted/);

  // --purge: the repo's directory and every registry row of it go; the daemon unmounts it.
  const purged = await afs(state, ['remove-repo', '--name', 'r', '--purge']);
  assert.equal(purged.code, 0, purged.stderr);
  await second.waitUnmounted(root, 5000);
  assert.equal(await errnoOf(stat(join(state, 'repos', 'r'))), 'ENOENT');
  const db = openDb(join(state, 'registry.db'));
  try {
    for (const table of ['repos', 'snapshots', 'entries', 'overlay_nodes', 'overlay_meta', 'runtime']) {
      const col = table === 'repos' ? 'name' : 'repo';
      assert.equal((db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${col} = ?`).get('r') as { n: number }).n, 0, `${table} rows left`);
    }
  } finally {
    db.close();
  }
  assert.equal(await second.stop(), 0);
});
