// Git in the mount across branches: checkout of branches and paths (and checkouts git refuses),
// merge --no-ff, merge conflicts, rebase, stash. Each scenario runs in the mount and in a native
// clone (test/support/git-twins.ts); the fixture's branches are in test/support/git-scenario-repo.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseTest } from './support/fuse-env.js';
import { useGitLab } from './support/git-lab.js';
import type { GitTwins } from './support/git-twins.js';
import { append, put, remove } from './support/work-tree-edits.js';

const lab = useGitLab();

/** The mount is a single-branch clone, like the native one: both learn the other branches. */
async function fetchAllBranches(tw: GitTwins): Promise<void> {
  await tw.git(['remote', 'set-branches', 'origin', '*']);
  await tw.git(['fetch', '-q', 'origin'], { stderr: false });
}

test('checkout of a branch that changes many files, and back', fuseTest, async () => {
  const tw = await (await lab()).twins('checkout-many');
  await fetchAllBranches(tw);
  const many = await tw.git(['checkout', '-q', 'feature/many']);
  // git prefetches a checkout's missing blobs in batches, not one request per file (15 change).
  assert.ok(many.mountFetches <= 3, `checkout of feature/many made ${many.mountFetches} fetches`);
  await tw.check('checkout feature/many');
  await tw.git(['log', '--oneline', '--graph', '--all']);
  await tw.git(['diff', '--stat', 'main', 'feature/many']);
  // check() read every file of main, and the daemon stores what it hydrates in git's object
  // store: going back needs nothing from the network.
  assert.equal((await tw.git(['checkout', '-q', 'main'])).mountFetches, 0);
  await tw.check('checkout main');
  await tw.git(['checkout', '-q', '-']);
  await tw.git(['switch', '-q', '-c', 'topic']);
  await tw.git(['branch', '-vv']);
  await tw.check('checkout -, switch -c');
  await tw.git(['checkout', '-q', '--detach', 'origin/side']);
  await tw.check('detached checkout of origin/side');
  // Parallel checkout: four workers create files in the same directories at once.
  await tw.git(['-c', 'checkout.workers=4', '-c', 'checkout.thresholdForParallelism=1', 'checkout', '-q', 'feature/many']);
  await tw.check('parallel checkout of feature/many');
  await tw.git(['branch', '-q', '-D', 'topic']);
  await tw.git(['checkout', '-q', 'main']);
  await tw.check('branch -D, back to main');
});

test('a checkout that would overwrite local changes is refused and leaves everything intact', fuseTest, async () => {
  const tw = await (await lab()).twins('checkout-refused');
  await fetchAllBranches(tw);
  await tw.both(async (d) => {
    await append(d, 'src/a.ts', 'local edit\n');
    await append(d, 'README.md', 'staged local edit\n');
    await put(d, 'untracked.txt', 'untracked\n');
  });
  await tw.git(['add', 'README.md']);
  await tw.check('local edits');
  const refused = await tw.git(['checkout', 'conflict'], { code: 1 });
  assert.match(refused.native.stderr, /would be overwritten by checkout/);
  assert.equal(refused.mountFetches, 0, 'a refused checkout downloads nothing');
  await tw.check('refused checkout of conflict');
  // An untracked file in the way of a file on the other branch.
  await tw.both((d) => put(d, 'NEWS.md', 'untracked, in the way\n'));
  const untracked = await tw.git(['checkout', 'feature/many'], { code: 1 });
  assert.match(untracked.native.stderr, /untracked working tree files would be overwritten/);
  await tw.check('refused checkout of feature/many');
  // A checkout that carries the local changes along is allowed.
  await tw.git(['checkout', '-q', 'side']);
  await tw.check('checkout side, carrying local changes');
});

test('checkout and restore of paths, from the index and from other commits', fuseTest, async () => {
  const tw = await (await lab()).twins('checkout-paths');
  await fetchAllBranches(tw);
  await tw.both(async (d) => {
    await put(d, 'src/a.ts', 'discard me\n');
    await remove(d, 'src/lib');
    await append(d, 'docs/guide.md', 'discard me too\n');
  });
  await tw.git(['checkout', '--', 'src/a.ts']);
  await tw.check('checkout -- file');
  await tw.git(['checkout', '--', 'src/lib']);
  await tw.check('checkout -- deleted directory');
  await tw.git(['checkout', 'origin/conflict', '--', 'README.md']);
  await tw.git(['checkout', 'HEAD~1', '--', 'docs/guide.md']);
  await tw.git(['checkout', 'origin/feature/many', '--', 'src/new', 'bin/run', 'package.json', 'link-readme']);
  await tw.check('checkout <commit> -- paths');
  await tw.git(['restore', '--source=origin/side', '--staged', '--worktree', 'src/b.ts']);
  await tw.git(['checkout', 'nonexistent-branch', '--', 'src/a.ts'], { code: 'nonzero' });
  await tw.git(['checkout', '--', 'no/such/path'], { code: 'nonzero' });
  await tw.check('restore --source, and failed path checkouts');
  await tw.git(['commit', '-q', '-m', 'paths from everywhere']);
  await tw.check('commit');
});

test('merge --no-ff of a diverged branch, and a conflicted merge resolved and aborted', fuseTest, async () => {
  const tw = await (await lab()).twins('merge');
  await fetchAllBranches(tw);
  await tw.git(['merge', '--no-ff', '-q', '-m', 'merge side', 'origin/side']);
  await tw.check('merge --no-ff origin/side');
  await tw.git(['log', '--graph', '--format=%H %s', '--all']);
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "main";\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'main edits a.ts']);
  await tw.git(['merge', 'origin/conflict'], { code: 1 });
  await tw.check('conflicted merge');
  await tw.git(['merge', '--abort']);
  await tw.check('merge --abort');
  await tw.git(['merge', 'origin/conflict'], { code: 1 });
  await tw.git(['diff']);
  await tw.both(async (d) => {
    await put(d, 'src/a.ts', 'export const a = "resolved";\n');
  });
  await tw.git(['add', 'src/a.ts']);
  await tw.git(['checkout', '--theirs', 'README.md']);
  await tw.git(['add', 'README.md']);
  await tw.git(['commit', '-q', '--no-edit']);
  await tw.check('conflict resolved and committed');
});

test('rebase replays local commits; a conflicted rebase continues and another aborts', fuseTest, async () => {
  const tw = await (await lab()).twins('rebase');
  await fetchAllBranches(tw);
  await tw.git(['checkout', '-q', '-b', 'topic', 'origin/side']);
  await tw.both((d) => put(d, 'topic.txt', 'topic\n'));
  await tw.git(['add', 'topic.txt']);
  await tw.git(['commit', '-q', '-m', 'topic commit']);
  await tw.git(['rebase', 'main']);
  await tw.check('rebase onto main');
  await tw.git(['checkout', '-q', '-b', 'clash', 'main']);
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "clash";\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'clash edits a.ts']);
  await tw.git(['rebase', 'origin/conflict'], { code: 1 });
  await tw.check('rebase stopped at a conflict');
  await tw.both((d) => put(d, 'src/a.ts', 'export const a = "rebased";\n'));
  await tw.git(['add', 'src/a.ts']);
  await tw.git(['rebase', '--continue']);
  await tw.check('rebase --continue');
  await tw.git(['reset', '-q', '--hard', 'main']);
  await tw.both((d) => put(d, 'README.md', 'clash again\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'clash edits README']);
  await tw.git(['rebase', 'origin/conflict'], { code: 1 });
  await tw.git(['rebase', '--abort']);
  await tw.check('rebase --abort');
});

test('stash push / pop, with --include-untracked and with a staged index', fuseTest, async () => {
  const tw = await (await lab()).twins('stash');
  const edit = () => tw.both(async (d) => {
    await append(d, 'src/a.ts', 'stashed edit\n');
    await append(d, 'src/b.ts', 'staged, stashed\n');
    await remove(d, 'docs/api/types.md');
    await put(d, 'untracked/u.txt', 'untracked\n');
    await put(d, 'loose.txt', 'untracked\n');
  });
  await edit();
  await tw.git(['add', 'src/b.ts']);
  await tw.git(['stash', 'push', '-q']);
  await tw.check('stash push');
  await tw.git(['stash', 'pop', '-q', '--index']);
  await tw.check('stash pop --index');
  await tw.git(['stash', 'push', '-q', '--include-untracked', '-m', 'with untracked']);
  await tw.check('stash push --include-untracked');
  await tw.git(['stash', 'show', '--stat']);
  await tw.git(['stash', 'pop', '-q']);
  await tw.check('stash pop');
  await tw.git(['stash', 'push', '-q', '--keep-index', '--', 'src']);
  await tw.check('stash push --keep-index -- src');
  await tw.both((d) => put(d, 'src/a.ts', 'conflicts with the stash\n'));
  await tw.git(['stash', 'pop'], { code: 'nonzero' });
  await tw.check('stash pop refused by a local change');
  await tw.git(['checkout', '--', 'src/a.ts']);
  await tw.git(['stash', 'pop', '-q']);
  await tw.check('stash pop after discarding the change');
});
