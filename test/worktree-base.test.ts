// WorkTreeFs on tracked (base) files, mounted in a child process: metadata changes never
// hydrate (DESIGN decision 8), a write copies up exactly once, handles survive renames and
// unlinks, and everything survives a clean restart on the same database and overlay directory.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, stat, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { FIXTURE } from './support/worktree-fixture.js';
import { startWorktree } from './support/worktree-proc.js';

async function setup(t: import('node:test').TestContext) {
  const root = await tempDir(t, 'afs-wt-base-');
  const mnt = join(root, 'mnt');
  const state = join(root, 'state');
  await mkdir(mnt);
  await mkdir(state);
  const fs = await startWorktree(mnt, state);
  defer(t, () => fs.stop());
  return { mnt, state, fs, root };
}

/** Every path under `dir` (not .git) with type, mode, size and content hash. */
async function listing(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!prefix && name === '.git') continue;
    const p = join(dir, name);
    const st = await lstat(p);
    const rel = prefix + name;
    if (st.isDirectory()) {
      out.push(`${rel}/ ${(st.mode & 0o7777).toString(8)}`);
      out.push(...await listing(p, rel + '/'));
    } else if (st.isSymbolicLink()) {
      out.push(`${rel} -> ${await readlink(p)}`);
    } else {
      const hash = createHash('sha256').update(await readFile(p)).digest('hex').slice(0, 12);
      out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.size} ${hash} ${st.mtimeMs}`);
    }
  }
  return out;
}

test('metadata changes of tracked files and trees never hydrate', fuseTest, async (t) => {
  const { mnt, fs } = await setup(t);
  const st = await stat(join(mnt, 'docs/guide.md'));
  assert.equal(st.size, 6000);
  assert.equal((await stat(join(mnt, 'bin/run.sh'))).mode & 0o777, 0o755);
  await chmod(join(mnt, 'README.md'), 0o755);
  assert.equal((await stat(join(mnt, 'README.md'))).mode & 0o777, 0o755);
  const ctime0 = (await stat(join(mnt, 'src/main.ts'))).ctimeMs;
  await utimes(join(mnt, 'src/main.ts'), new Date(1_000_000), new Date(2_000_000));
  const touched = await stat(join(mnt, 'src/main.ts'));
  assert.equal(touched.mtimeMs, 2_000_000);
  assert.ok(touched.ctimeMs > ctime0, 'ctime bumped by utimens');
  await rename(join(mnt, 'src/main.ts'), join(mnt, 'main-moved.ts'));
  await rename(join(mnt, 'src/lib'), join(mnt, 'lib-moved'));
  assert.deepEqual((await readdir(join(mnt, 'lib-moved/deep'))).sort(), ['a.txt', 'b.txt']);
  await truncate(join(mnt, 'docs/guide.md'), 0);
  assert.equal((await stat(join(mnt, 'docs/guide.md'))).size, 0);
  await unlink(join(mnt, 'README.md'));
  await rm(join(mnt, 'lib-moved'), { recursive: true });
  assert.deepEqual((await readdir(mnt)).sort(), ['.git', 'bin', 'docs', 'link-to-readme', 'main-moved.ts', 'src']);
  assert.deepEqual(await readdir(join(mnt, 'src')), []);
  assert.equal(await fs.ensureCount(), 0);
  // mkdir over a whited-out base name, then the tracked names can come back as new files.
  await writeFile(join(mnt, 'README.md'), 'new readme\n');
  assert.equal(await readFile(join(mnt, 'README.md'), 'utf8'), 'new readme\n');
  assert.equal(await fs.ensureCount(), 0);
});

test('writing a tracked file copies it up once; unlink and rename while open', fuseTest, async (t) => {
  const { mnt, fs } = await setup(t);
  const util = join(mnt, 'src/lib/util.ts');
  const original = FIXTURE['src/lib/util.ts']!;
  const fh = await open(util, 'r+');
  try {
    await rename(join(mnt, 'src/lib'), join(mnt, 'lib2')); // parent dir renamed under the handle
    await fh.write('EXPORT', 0);
    const back = await readFile(join(mnt, 'lib2/util.ts'), 'utf8');
    assert.equal(back, 'EXPORT' + original.slice(6));
    assert.equal(await fs.ensureCount(), 1);
    await unlink(join(mnt, 'lib2/util.ts'));
    await fh.write('!', original.length);
    const buf = Buffer.alloc(original.length + 1);
    await fh.read(buf, 0, buf.length, 0);
    assert.equal(buf.toString(), 'EXPORT' + original.slice(6) + '!');
    assert.equal((await fh.stat()).nlink, 0);
  } finally {
    await fh.close();
  }
  // Unlink-while-open of a tracked file never written: reads still hydrate through the handle.
  const guide = await open(join(mnt, 'docs/guide.md'), 'r');
  try {
    await unlink(join(mnt, 'docs/guide.md'));
    assert.equal((await guide.readFile('utf8')), FIXTURE['docs/guide.md']);
  } finally {
    await guide.close();
  }
  await assert.rejects(stat(join(mnt, 'docs/guide.md')), { code: 'ENOENT' });
  await assert.rejects(writeFile(join(mnt, '.git'), 'x'), { code: 'EPERM' });
  assert.match(await readFile(join(mnt, '.git'), 'utf8'), /^gitdir: /);
});

test('every change survives a clean restart', fuseTest, async (t) => {
  const { mnt, state, fs } = await setup(t);
  await writeFile(join(mnt, 'new.txt'), 'hello');
  await mkdir(join(mnt, 'newdir'));
  await writeFile(join(mnt, 'newdir/inner'), 'x'.repeat(10_000));
  await chmod(join(mnt, 'README.md'), 0o700);
  await rename(join(mnt, 'src'), join(mnt, 'newdir/src'));
  await unlink(join(mnt, 'docs/guide.md'));
  const a = await open(join(mnt, 'bin/run.sh'), 'a');
  await a.write('echo appended\n');
  await a.sync();
  await a.close();
  await truncate(join(mnt, 'newdir/src/lib/deep/a.txt'), 0);
  const before = await listing(mnt);
  await fs.stop();
  const again = await startWorktree(mnt, state);
  defer(t, () => again.stop());
  const after = await listing(mnt);
  assert.deepEqual(after, before);
  assert.ok(before.some((l) => l.startsWith('bin/run.sh 755 ')));
  assert.equal(await readFile(join(mnt, 'bin/run.sh'), 'utf8'), '#!/bin/sh\necho hi\necho appended\n');
});

// Regression: a regular file made by mknod(2) (no handle) kept the backing fd create adopts open
// for the daemon's life, pinning the file's space after unlink. Node has no mknod: python3 does.
const python = spawnSync('python3', ['-c', 'import os'], { stdio: 'ignore' }).status === 0;
test('mknod of regular files leaves no descriptor open in the daemon', { ...fuseTest, skip: fuseTest.skip || (!python && 'needs python3 for mknod(2)') }, async (t) => {
  const { mnt, fs } = await setup(t);
  const fds = async (): Promise<number> => (await readdir(`/proc/${fs.child.pid}/fd`)).length;
  const before = await fds();
  const r = spawnSync('python3', ['-c', 'import os, sys\nfor i in range(20): os.mknod(os.path.join(sys.argv[1], "n%d" % i))', mnt]);
  assert.equal(r.status, 0, String(r.stderr));
  for (let i = 0; i < 20; i++) await unlink(join(mnt, `n${i}`));
  assert.ok(await fds() <= before + 2, `${(await fds()) - before} descriptors left open`);
});
