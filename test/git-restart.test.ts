// Git workflows across a daemon restart (SIGTERM) and a crash (SIGKILL): staged and unstaged
// changes, a conflicted merge, a stopped rebase and a stash must come back byte-identical (status
// -z, index, diffs, work tree), and the workflow must then finish exactly as it does natively.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { fuseTest } from './support/fuse-env.js';
import { useGitLab, type GitLab } from './support/git-lab.js';
import type { GitTwins } from './support/git-twins.js';
import { append, link, put, remove } from './support/work-tree-edits.js';

const lab = useGitLab();

/** Restarts the daemon; asserts the mount's status bytes and everything else came back unchanged. */
async function restartUnchanged(l: GitLab, tw: GitTwins, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const status = async () => (await tw.run(tw.mount, ['status', '--porcelain=v1', '-z', '-uall'])).stdout;
  const statusBefore = await status();
  const before = await tw.observe(tw.mount);
  await l.restart(signal);
  assert.deepEqual(await status(), statusBefore, `git status --porcelain=v1 -z changed across the ${signal} restart`);
  assert.deepEqual(await tw.observe(tw.mount), before, `the mount changed across the ${signal} restart`);
}

test('staged, unstaged and untracked changes survive a restart byte for byte', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('restart-changes');
  await tw.both(async (d) => {
    await append(d, 'src/a.ts', 'unstaged\n');
    await append(d, 'src/b.ts', 'staged\n');
    await append(d, 'src/lib/c.ts', 'staged\n');
    await put(d, 'added.txt', 'added\n');
    await put(d, 'untracked/deep/u.txt', 'untracked\n');
    await put(d, 'debug.log', 'ignored\n');
    await remove(d, 'docs/api/index.md');
    await chmod(join(d, 'bin/tool'), 0o644);
    await chmod(join(d, 'src/lib/deep/d.ts'), 0o755);
    await link(d, 'package.json', 'README.md');
    await truncate(join(d, 'docs/guide.md'), 0);
    const f = await open(join(d, 'assets/logo.bin'), 'r+');
    await f.write('patched in the middle', 1000);
    await f.close();
  });
  await tw.git(['add', 'src/b.ts', 'src/lib/c.ts', 'added.txt', 'bin/tool']);
  await tw.git(['mv', 'config/old.json', 'config/renamed.json']);
  await tw.both((d) => append(d, 'src/lib/c.ts', 'unstaged on top\n'));
  await tw.check('changes before the restart');
  await restartUnchanged(l, tw, 'SIGTERM');
  await tw.check('after the restart');
  await tw.git(['add', '-A']);
  await tw.git(['commit', '-q', '-m', 'everything, after a restart']);
  await tw.check('commit after the restart');
});

test('a conflicted merge survives a restart and is resolved afterwards', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('restart-merge');
  await tw.git(['fetch', '-q', 'origin', 'conflict:refs/remotes/origin/conflict']);
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "main";\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'main edits a.ts']);
  await tw.git(['merge', 'origin/conflict'], { code: 1 });
  await tw.check('conflicted merge');
  await restartUnchanged(l, tw, 'SIGTERM');
  await tw.git(['checkout', '--theirs', 'README.md', 'src/a.ts']);
  await tw.git(['add', 'README.md', 'src/a.ts']);
  await tw.git(['commit', '-q', '--no-edit']);
  await tw.check('merge finished after the restart');
});

test('a rebase stopped at a conflict survives a restart and continues', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('restart-rebase');
  await tw.git(['fetch', '-q', 'origin', 'conflict:refs/remotes/origin/conflict']);
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "mine";\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'mine']);
  await tw.both((d) => put(d, 'notes.txt', 'second local commit\n'));
  await tw.git(['add', 'notes.txt']);
  await tw.git(['commit', '-q', '-m', 'notes']);
  await tw.git(['rebase', 'origin/conflict'], { code: 1 });
  await tw.check('rebase stopped');
  await restartUnchanged(l, tw, 'SIGTERM');
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "resolved after restart";\n'));
  await tw.git(['add', 'src/a.ts']);
  await tw.git(['rebase', '--continue']);
  await tw.check('rebase finished after the restart');
});

test('a stash and edits survive a daemon crash (SIGKILL) and the stash pops cleanly', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('crash-stash');
  await tw.both(async (d) => {
    await append(d, 'src/a.ts', 'stashed\n');
    await put(d, 'untracked.txt', 'stashed too\n');
  });
  await tw.git(['add', 'src/a.ts']);
  await tw.git(['stash', 'push', '-q', '--include-untracked']);
  await tw.both(async (d) => {
    await put(d, 'src/b.ts', 'written after the stash\n');
    await remove(d, 'src/lib/deep');
    await link(d, 'link-lib', 'docs');
  });
  await tw.git(['add', 'src/b.ts']);
  await tw.check('stash and edits before the crash');
  await restartUnchanged(l, tw, 'SIGKILL');
  await tw.git(['stash', 'pop', '-q']);
  await tw.check('stash popped after the crash');
});

test('a crash right after commits and a branch switch loses nothing git wrote', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('crash-after-checkout');
  await tw.git(['fetch', '-q', 'origin', 'feature/many:refs/remotes/origin/feature/many']);
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "committed before the crash";\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'before the crash']);
  await tw.git(['checkout', '-q', '-b', 'many', 'origin/feature/many']);
  // No check() before the kill: nothing may have been read back (and flushed again) since git wrote.
  await l.restart('SIGKILL');
  await tw.check('after the crash');
  await tw.git(['checkout', '-q', 'main']);
  await tw.check('back on main');
  await l.restart('SIGTERM');
  await tw.check('after a clean restart on main');
});
