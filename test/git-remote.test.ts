// Git in the mount talking to its remote: remote -v without credentials, fetch, pull --ff-only,
// push (accepted, rejected as non-fast-forward, then rebased and accepted). Each side pushes to
// and pulls from its own copy of the remote (test/support/git-lab.ts), so the remotes' refs are
// compared too, and the mount's remote is fsck'ed: a push from a blobless clone must not leave
// the server with missing objects.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afs } from './support/cli.js';
import { fuseTest } from './support/fuse-env.js';
import { addCommit, gitRun, type FixtureFile } from './support/git-fixtures.js';
import { useGitLab } from './support/git-lab.js';
import type { GitTwins } from './support/git-twins.js';
import { append, link, put } from './support/work-tree-edits.js';

const lab = useGitLab();

/** The same commit lands on both remotes (fixed time: the same commit id). */
async function remoteCommit(tw: GitTwins, files: Record<string, FixtureFile>, message: string, time: number): Promise<void> {
  const ids = await Promise.all(tw.sides.map((s) => addCommit(s.remote, files, { message, time })));
  assert.equal(ids[0], ids[1]);
}

async function fsckRemote(tw: GitTwins): Promise<void> {
  for (const side of tw.sides) {
    const r = await gitRun(['--git-dir', side.remote, 'fsck', '--full', '--no-dangling']);
    assert.equal(r.code, 0, `${side.name}'s remote is broken: ${r.stderr}${r.stdout}`);
  }
}

const AUTH = { user: 'alice', password: 's3cret-Pa55' };

test('remote -v shows the URL without credentials; they are stored nowhere git or a user reads', fuseTest, async () => {
  const l = await lab();
  const tw = await l.twins('credentials', { auth: AUTH });
  const r = await tw.git(['remote', '-v']);
  assert.ok(!r.mount.stdout.toString().includes(AUTH.password) && !r.mount.stdout.toString().includes(AUTH.user));
  await tw.git(['config', '--get', 'remote.origin.url']);
  // The mount's git authenticates through the repo's credential helper (the native clone was
  // made without credentials), and prints no secret.
  const ls = await tw.run(tw.mount, ['ls-remote', '--heads', 'origin']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.ok(!ls.stdout.toString().includes(AUTH.password) && !ls.stderr.includes(AUTH.password));
  await tw.check('credentialed remote');
  const config = await readFile(join(tw.mount.gitDir, 'config'), 'utf8');
  assert.ok(!config.includes(AUTH.password), 'the password is in the git config');
  for (const out of [(await afs(l.stateRoot, ['list-repos'])).stdout, (await afs(l.stateRoot, ['status', '--name', 'credentials'])).stdout, l.log()]) {
    assert.ok(!out.includes(AUTH.password), `the password leaked: ${out}`);
  }
  for (const f of await readdir(tw.mount.gitDir)) {
    if (/^(config|FETCH_HEAD|packed-refs|HEAD|ORIG_HEAD)$/.test(f)) assert.ok(!(await readFile(join(tw.mount.gitDir, f), 'utf8')).includes(AUTH.password), `password in ${f}`);
  }
});

test('git in a credentialed mount reads blobs the daemon has not hydrated', fuseTest, async () => {
  const tw = await (await lab()).twins('credentials-lazy', { auth: AUTH });
  await tw.git(['show', 'HEAD~1:docs/guide.md']);
  await tw.git(['diff', 'HEAD~1', '--stat']);
});

test('fetch and pull --ff-only bring new commits; a diverged pull --ff-only is refused intact', fuseTest, async () => {
  const tw = await (await lab()).twins('pull');
  await remoteCommit(tw, { 'src/a.ts': 'export const a = "upstream";\n', 'upstream/new.ts': 'new\n', 'bin/new-tool': { exec: '#!/bin/sh\n' } }, 'upstream 1', 1_700_001_000);
  await tw.both((d) => append(d, 'docs/guide.md', 'local, uncommitted, not in the way\n'));
  const fetched = await tw.git(['fetch', '-q']);
  assert.ok(fetched.mountFetches <= 1, `fetch made ${fetched.mountFetches} fetch requests`);
  await tw.git(['status', '-sb']);
  await tw.check('fetch');
  await tw.git(['pull', '--ff-only', '-q']);
  await tw.check('pull --ff-only');
  await remoteCommit(tw, { 'README.md': 'upstream 2\n' }, 'upstream 2', 1_700_002_000);
  await tw.git(['commit', '-q', '-a', '-m', 'local commit']);
  const refused = await tw.git(['pull', '--ff-only'], { code: 128, stderr: false });
  assert.match(refused.native.stderr, /Not possible to fast-forward/);
  await tw.check('refused pull --ff-only');
  await tw.git(['pull', '--rebase', '-q'], { stderr: false });
  await tw.check('pull --rebase');
});

test('push: a commit with exec bits and symlinks; a rejected push, rebased and pushed again', fuseTest, async () => {
  const tw = await (await lab()).twins('push');
  await tw.both(async (d) => {
    await put(d, 'tools/deploy.sh', '#!/bin/sh\necho deploy\n', 0o755);
    await link(d, 'tools/current', 'deploy.sh');
    await put(d, 'src/a.ts', 'export const a = "pushed";\n');
  });
  await tw.git(['add', '-A']);
  await tw.git(['commit', '-q', '-m', 'to be pushed']);
  const pushes = tw.server.stats.pushRequests;
  await tw.git(['push', '-q', 'origin', 'main']);
  assert.equal(tw.server.stats.pushRequests - pushes, 2, 'one push from each side');
  await tw.check('push');
  await tw.git(['push', '-q', 'origin', 'HEAD:refs/heads/pushed-branch']);
  await tw.git(['branch', '-vv']);
  await tw.check('push of a new branch');
  await remoteCommit(tw, { 'CHANGELOG.md': '## upstream\n' }, 'upstream meanwhile', 1_700_003_000);
  await tw.both((d) => append(d, 'README.md', 'local\n'));
  await tw.git(['commit', '-q', '-a', '-m', 'local after upstream']);
  const rejected = await tw.git(['push', '-q', 'origin', 'main'], { code: 1, stderr: false });
  assert.match(rejected.native.stderr, /rejected/);
  await tw.check('rejected push');
  await tw.git(['pull', '--rebase', '-q'], { stderr: false });
  await tw.git(['push', '-q', 'origin', 'main']);
  await tw.check('push after pull --rebase');
  await fsckRemote(tw);
});
