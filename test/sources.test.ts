// Where a repo's commits come from: any canonical ref as a detached HEAD, shallow clones, a
// verified commit, and a prepared git dir fast-forwarded to a ref (and never written).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { openDb } from '../src/registry/db.js';
import { getRepo } from '../src/registry/repos.js';
import { afs, startDaemon, type CliResult } from './support/cli.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { addCommit, git, gitRun, makeRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer } from './support/git-server.js';

const IDENTITY = { GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com', GIT_COMMITTER_DATE: '1700000500 +0000', GIT_AUTHOR_DATE: '1700000500 +0000' };

/** One remote with history: main c1 → c2 (tagged v1, annotated) → c3, and a pull ref off c2. */
async function history(t: TestContext) {
  const dir = await tempDir(t, 'afs-src-');
  const remote = join(dir, 'remote');
  const { bare, head: c1 } = await makeRepo(remote, { 'a.txt': 'v1\n', 'keep.txt': 'keep\n' }, { name: 'r' });
  const c2 = await addCommit(bare, { 'a.txt': 'v2\n', 'tagged.txt': 'only from c2 on\n' });
  const tag = await gitRun(['--git-dir', bare, 'tag', '-a', 'v1', '-m', 'release v1', c2], { env: IDENTITY });
  assert.equal(tag.code, 0, tag.stderr);
  const pr = await addCommit(bare, { 'pr.txt': 'proposed change\n' }, { branch: 'pr-src', from: c2 });
  await git(['--git-dir', bare, 'update-ref', 'refs/pull/7/head', pr]);
  await git(['--git-dir', bare, 'update-ref', '-d', 'refs/heads/pr-src']);
  const c3 = await addCommit(bare, { 'a.txt': 'v3\n' });
  const server = await startGitServer({ root: remote });
  defer(t, () => server.close());
  return { dir, bare, c1, c2, c3, pr, server, state: join(dir, 'state'), mnt: join(dir, 'mnt') };
}

async function add(state: string, args: string[]): Promise<CliResult> {
  return afs(state, ['add-repo', ...args]);
}

function ok(r: CliResult): void {
  assert.equal(r.code, 0, r.stderr);
}

/** A one-line error, the exit code, and nothing of the repo left behind. */
async function refused(state: string, name: string, r: CliResult, code: number, re: RegExp): Promise<void> {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.ok(!(await afs(state, ['list-repos'])).stdout.includes(`${name}\t`), `${name} registered`);
  const left = (await readdir(join(state, 'repos')).catch(() => [] as string[])).filter((n) => n === name || n.startsWith(`.tmp-${name}-`));
  assert.deepEqual(left, [], 'directories left behind');
}

const gitIn = (dir: string, args: string[]) => git(['-C', dir, ...args]).then((s) => s.trim());

test('tags and pull refs mount as a detached HEAD with their content; --depth 1 brings one commit', fuseTest, async (t) => {
  const h = await history(t);
  ok(await add(h.state, ['--name', 'tag', '--remote', h.server.url('r'), '--ref', 'refs/tags/v1', '--mount-root', h.mnt]));
  ok(await add(h.state, ['--name', 'pr', '--remote', h.server.url('r'), '--ref', 'refs/pull/7/head', '--mount-root', h.mnt]));
  ok(await add(h.state, ['--name', 'shallow', '--remote', h.server.url('r'), '--branch', 'main', '--depth', '1', '--mount-root', h.mnt]));
  const daemon = startDaemon(h.state);
  defer(t, () => daemon.stop());
  for (const n of ['tag', 'pr', 'shallow']) await daemon.waitMounted(join(h.mnt, n));

  const tagRoot = join(h.mnt, 'tag');
  assert.equal(await readFile(join(tagRoot, 'a.txt'), 'utf8'), 'v2\n');
  assert.equal(await readFile(join(tagRoot, 'tagged.txt'), 'utf8'), 'only from c2 on\n');
  assert.equal(await gitIn(tagRoot, ['rev-parse', 'HEAD']), h.c2, 'an annotated tag is peeled to its commit');
  assert.equal((await gitRun(['-C', tagRoot, 'symbolic-ref', '-q', 'HEAD'])).code, 1, 'HEAD is detached');
  assert.equal(await gitIn(tagRoot, ['status', '--porcelain']), '');
  assert.match((await afs(h.state, ['status', '--name', 'tag'])).stdout, new RegExp(`head=${h.c2} ref=refs/tags/v1 `));

  const prRoot = join(h.mnt, 'pr');
  assert.equal(await readFile(join(prRoot, 'pr.txt'), 'utf8'), 'proposed change\n');
  assert.equal(await readFile(join(prRoot, 'a.txt'), 'utf8'), 'v2\n');
  assert.equal(await gitIn(prRoot, ['rev-parse', 'HEAD']), h.pr);
  assert.equal((await gitRun(['-C', prRoot, 'symbolic-ref', '-q', 'HEAD'])).code, 1, 'HEAD is detached');

  const shallowRoot = join(h.mnt, 'shallow');
  assert.equal(await readFile(join(shallowRoot, 'a.txt'), 'utf8'), 'v3\n');
  assert.equal(await gitIn(shallowRoot, ['rev-list', '--count', 'HEAD']), '1');
  assert.equal(await gitIn(shallowRoot, ['rev-parse', '--is-shallow-repository']), 'true');
  assert.equal(await gitIn(shallowRoot, ['symbolic-ref', '--short', 'HEAD']), 'main');
  const list = (await afs(h.state, ['list-repos'])).stdout.split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 2).join(' '));
  assert.deepEqual(list, ['pr refs/pull/7/head', 'shallow main', 'tag refs/tags/v1']);
});

test('--require-commit: the exact commit is installed and pinned; a mismatch installs nothing', fuseTest, async (t) => {
  const h = await history(t);
  const wrong = await add(h.state, ['--name', 'pinned', '--remote', h.server.url('r'), '--require-commit', h.c2]);
  await refused(h.state, 'pinned', wrong, 1, new RegExp(`--require-commit: 'HEAD' is at ${h.c3}, not ${h.c2}; nothing was installed`));
  const tagWrong = await add(h.state, ['--name', 'pinned', '--remote', h.server.url('r'), '--ref', 'refs/tags/v1', '--require-commit', h.c1]);
  await refused(h.state, 'pinned', tagWrong, 1, new RegExp(`'refs/tags/v1' is at ${h.c2}, not ${h.c1}`));
  await refused(h.state, 'pinned', await add(h.state, ['--name', 'pinned', '--remote', h.server.url('r'), '--require-commit', h.c3, '--refresh', '30s']), 2, /use --refresh never/);
  await refused(h.state, 'pinned', await add(h.state, ['--name', 'pinned', '--remote', h.server.url('r'), '--require-commit', 'abc']), 2, /invalid --require-commit/);

  ok(await add(h.state, ['--name', 'pinned', '--remote', h.server.url('r'), '--branch', 'main', '--require-commit', h.c3.toUpperCase(), '--mount-root', h.mnt]));
  ok(await add(h.state, ['--name', 'pinned-tag', '--remote', h.server.url('r'), '--ref', 'refs/tags/v1', '--require-commit', h.c2, '--refresh', 'never', '--mount-root', h.mnt]));
  const db = openDb(join(h.state, 'registry.db'));
  try {
    const c = getRepo(db, 'pinned')!;
    assert.equal(c.requireCommit, h.c3);
    assert.equal(c.refresh, 'never', 'a verified source never refreshes');
    assert.equal(getRepo(db, 'pinned-tag')!.requireCommit, h.c2);
  } finally {
    db.close();
  }
  const daemon = startDaemon(h.state);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(h.mnt, 'pinned-tag'));
  assert.equal(await gitIn(join(h.mnt, 'pinned-tag'), ['rev-parse', 'HEAD']), h.c2);
  assert.equal(await readFile(join(h.mnt, 'pinned-tag', 'a.txt'), 'utf8'), 'v2\n');
});

/** Content hash of every file under `dir` (paths, modes, bytes): proves nothing was written. */
async function fingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const st = await stat(p);
      hash.update(`${relative(dir, p)} ${st.mode}\n`);
      if (e.isDirectory()) await walk(p);
      else hash.update(await readFile(p));
    }
  };
  await walk(dir);
  return hash.digest('hex');
}

/** A CI-cache style git dir: a blobless bare clone of the remote taken now. */
async function preparedClone(server: GitServer, dir: string): Promise<string> {
  const r = await gitRun(['clone', '-q', '--bare', '--filter=blob:none', server.url('r'), dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

test('prepared git dir: copied and fast-forwarded to --fetch-ref, a rewind is refused, the prepared dir is never written', fuseTest, async (t) => {
  const h = await history(t);
  const cache = await preparedClone(h.server, join(h.dir, 'cache.git'));
  const c4 = await addCommit(h.bare, { 'a.txt': 'v4\n', 'new.txt': 'fetched later\n' });
  const before = await fingerprint(cache);

  // No --remote: the prepared git dir's origin is used.
  ok(await add(h.state, ['--name', 'ci', '--prepared-gitdir', '--git-dir', cache, '--fetch-ref', 'main', '--mount-root', h.mnt]));
  const daemon = startDaemon(h.state);
  defer(t, () => daemon.stop());
  const root = join(h.mnt, 'ci');
  await daemon.waitMounted(root);
  assert.equal(await gitIn(root, ['rev-parse', 'HEAD']), c4, 'fast-forwarded to the fetched main');
  assert.equal(await gitIn(root, ['symbolic-ref', '--short', 'HEAD']), 'main');
  assert.equal(await readFile(join(root, 'new.txt'), 'utf8'), 'fetched later\n');
  assert.equal(await readFile(join(root, 'a.txt'), 'utf8'), 'v4\n');
  assert.equal(await gitIn(root, ['status', '--porcelain']), '');
  assert.equal(await gitIn(root, ['config', 'remote.origin.url']), h.server.url('r'));
  assert.match((await afs(h.state, ['list-repos'])).stdout, new RegExp(`^ci\\tmain\\t${root}\\t`));

  // A prepared dir whose main has a commit the remote does not: fetching main would rewind it.
  const diverged = await preparedClone(h.server, join(h.dir, 'diverged.git'));
  const tree = (await git(['--git-dir', diverged, 'rev-parse', 'main^{tree}'])).trim();
  const local = (await gitRun(['--git-dir', diverged, 'commit-tree', tree, '-p', 'main', '-m', 'local only'], { env: IDENTITY })).stdout.toString().trim();
  await git(['--git-dir', diverged, 'update-ref', 'refs/heads/main', local]);
  await addCommit(h.bare, { 'a.txt': 'v5\n' });
  const divergedBefore = await fingerprint(diverged);
  const rewind = await add(h.state, ['--name', 'rw', '--prepared-gitdir', '--git-dir', diverged, '--fetch-ref', 'refs/heads/main', '--remote', h.server.url('r')]);
  await refused(h.state, 'rw', rewind, 1, /refusing to rewind: 'refs\/heads\/main' on the remote does not contain the prepared git dir's HEAD/);
  assert.equal(await fingerprint(diverged), divergedBefore, 'the refused prepared dir was written');

  // Bad prepared dirs are usage errors.
  await refused(h.state, 'bad', await add(h.state, ['--name', 'bad', '--prepared-gitdir', '--git-dir', join(h.dir, 'nope')]), 2, /is not a directory/);
  await refused(h.state, 'bad', await add(h.state, ['--name', 'bad', '--prepared-gitdir', '--git-dir', h.mnt]), 2, /not a git dir/);

  // remove-repo --purge deletes our copy only.
  ok(await afs(h.state, ['remove-repo', '--name', 'ci', '--purge']));
  await daemon.waitUnmounted(root, 5000);
  assert.equal(await fingerprint(cache), before, 'the prepared git dir was written');
  assert.equal((await git(['--git-dir', cache, 'rev-parse', 'main'])).trim(), h.c3, 'the prepared dir\'s main did not move');
  assert.equal((await gitRun(['--git-dir', cache, 'fsck', '--connectivity-only'])).code, 0, 'the prepared git dir is intact');
});
