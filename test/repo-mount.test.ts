// The read path end to end: add-repo against a real smart-HTTP server, the daemon mounting it,
// true sizes before any download, hydration on read and in the background, restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afs, startDaemon } from './support/cli.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { gitBytes, listBlobs, makeRepo } from './support/git-fixtures.js';
import { startGitServer } from './support/git-server.js';

const exec = promisify(execFile);

const BIG = Buffer.alloc(3 << 20, 7);
for (let i = 0; i < BIG.length; i += 4096) BIG.writeUInt32LE(i, i);
const FILES = {
  'README.md': '# fixture\n',
  'package.json': '{"name":"fixture"}\n',
  'src/index.ts': 'export const x = 1;\n',
  'src/.gitignore': 'dist/\n',
  'src/deep/nested/file.txt': 'nested\n',
  'src/empty.txt': '',
  'bin/run.sh': { exec: '#!/bin/sh\necho hi\n' },
  'link-to-readme': { symlink: 'README.md' },
  'naïve 日本.txt': 'unicode name\n',
  'assets/big.bin': BIG,
};

async function setup(t: import('node:test').TestContext, opts: { objectInfo?: boolean; daemonArgs?: string[] } = {}) {
  const dir = await tempDir(t, 'afs-repo-');
  const repo = await makeRepo(join(dir, 'remote'), FILES, { name: 'fixture' });
  const server = await startGitServer({ root: join(dir, 'remote'), objectInfo: opts.objectInfo ?? true });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const add = await afs(state, ['add-repo', '--name', 'fx', '--remote', server.url('fixture'), '--branch', 'main', '--mount-root', mnt]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout.trim(), 'added fx');
  const daemon = startDaemon(state, opts.daemonArgs ?? []);
  defer(t, () => daemon.stop());
  const root = join(mnt, 'fx');
  await daemon.waitMounted(root);
  return { dir, repo, server, state, mnt, root, daemon };
}

test('tree, true sizes and modes are visible before any blob is fetched', fuseTest, async (t) => {
  const { server, root, repo } = await setup(t, { daemonArgs: ['--hydration-concurrency', '0'] });
  server.resetStats();
  const { stdout } = await exec('find', [root, '-ls'], { timeout: 20_000 });
  assert.match(stdout, /src\/deep\/nested\/file\.txt/);
  for (const b of await listBlobs(repo.bare)) {
    const st = await stat(join(root, b.path)).catch(() => undefined) ?? await stat(join(root, b.path));
    if (b.mode === 0o120000) continue;
    const expected = (await gitBytes(['--git-dir', repo.bare, 'cat-file', '-s', b.oid])).toString().trim();
    assert.equal(st.size, Number(expected), b.path);
    assert.equal(st.mode & 0o777, b.mode === 0o100755 ? 0o755 : 0o644, b.path);
  }
  assert.equal(server.stats.fetchRequests, 0, 'a full find -ls walk fetched blobs');
  const status = await exec('git', ['-C', root, 'status', '--porcelain'], { timeout: 20_000 });
  assert.equal(status.stdout, '', 'git status in a fresh mount is clean');
  assert.equal(server.stats.fetchRequests, 0, 'git status fetched blobs: the index stat data does not match the mount');
  assert.equal((await readFile(join(root, '.git'), 'utf8')).startsWith('gitdir: /'), true);
  assert.ok((await readdir(root)).includes('.git'));
});

test('every file reads byte-identical to git cat-file; concurrent readers share one fetch', fuseTest, async (t) => {
  const { server, root, repo } = await setup(t, { daemonArgs: ['--hydration-concurrency', '0'] });
  server.resetStats();
  const reads = await Promise.all(Array.from({ length: 8 }, () => readFile(join(root, 'assets/big.bin'))));
  for (const r of reads) assert.ok(r.equals(BIG));
  assert.equal(server.stats.fetchRequests, 1, 'eight concurrent readers of one blob caused one fetch');
  for (const b of await listBlobs(repo.bare)) {
    const want = await gitBytes(['--git-dir', repo.bare, 'cat-file', 'blob', b.oid]);
    if (b.mode === 0o120000) assert.equal(await readlink(join(root, b.path)), want.toString());
    else assert.ok((await readFile(join(root, b.path))).equals(want), b.path);
  }
});

test('background hydration completes without any reader, and a restart keeps the cache', fuseTest, async (t) => {
  const { server, state, root, daemon, mnt } = await setup(t);
  const deadline = Date.now() + 30_000;
  let line = '';
  for (;;) {
    line = (await afs(state, ['status', '--name', 'fx'])).stdout;
    const m = /hydrated_blobs=(\d+) .*total_blobs=(\d+)/.exec(line);
    if (m && m[1] === m[2]) break;
    if (Date.now() > deadline) assert.fail(`not hydrated: ${line}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(line, /^repo=fx state=mounted head=[0-9a-f]{40} ref=main ahead=0 behind=0 diverged=false /);
  const inos = await Promise.all(['src/index.ts', 'src/deep', 'assets/big.bin'].map(async (p) => (await stat(join(root, p))).ino));
  assert.equal(await daemon.stop(), 0);
  const again = startDaemon(state);
  defer(t, () => again.stop());
  await again.waitMounted(join(mnt, 'fx'));
  server.resetStats();
  assert.ok((await readFile(join(root, 'assets/big.bin'))).equals(BIG));
  assert.equal((await readFile(join(root, 'src/index.ts'), 'utf8')), FILES['src/index.ts']);
  assert.equal(server.stats.fetchRequests, 0, 'restart refetched cached blobs');
  const after = await Promise.all(['src/index.ts', 'src/deep', 'assets/big.bin'].map(async (p) => (await stat(join(root, p))).ino));
  assert.deepEqual(after, inos, 'inode numbers survive a restart');
});

test('without object-info: listing never hydrates, stat hydrates that one blob', fuseTest, async (t) => {
  const ctx = await setup(t, { objectInfo: false, daemonArgs: ['--hydration-concurrency', '0'] });
  const { server, root } = ctx;
  server.resetStats();
  const names = await readdir(join(root, 'src'));
  assert.deepEqual(names.sort(), ['.gitignore', 'deep', 'empty.txt', 'index.ts']);
  assert.equal(server.stats.fetchRequests, 0, 'readdir hydrated');
  assert.equal((await stat(join(root, 'assets/big.bin'))).size, BIG.length);
  assert.equal(server.stats.fetchRequests, 1);
  // The learned size is recorded in the snapshot (status totals come from it).
  const totals = /total_bytes=(\d+)/.exec((await afs(ctx.state, ['status', '--name', 'fx'])).stdout);
  assert.ok(Number(totals?.[1]) >= BIG.length, `learned size not recorded: ${totals?.[0]}`);
});

test('add-repo refuses bad input with one line and registers nothing', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-bad-');
  await makeRepo(join(dir, 'remote'), { 'a.txt': 'a\n' }, { name: 'r' });
  const server = await startGitServer({ root: join(dir, 'remote') });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const cases: Array<[string[], RegExp]> = [
    [['--remote', server.url('r')], /--name is required/],
    [['--name', 'x'], /--remote is required/],
    [['--name', 'a/b', '--remote', server.url('r')], /invalid repo name/],
    [['--name', 'x', '--remote', server.url('r'), '--branch', 'main', '--ref', 'refs/heads/main'], /cannot be used together/],
    [['--name', 'x', '--remote', server.url('r'), '--depth', '-2'], /invalid --depth/],
    [['--name', 'x', '--remote', server.url('r'), '--refresh', 'often'], /invalid --refresh/],
    [['--name', 'x', '--remote', server.url('nope')], /cannot reach remote|not found/],
    [['--name', 'x', '--remote', 'http://127.0.0.1:9/none.git'], /cannot reach remote/],
    [['--name', 'x', '--remote', server.url('r'), '--branch', 'missing'], /branch 'missing' not found/],
  ];
  for (const [args, re] of cases) {
    const r = await afs(state, ['add-repo', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  assert.equal((await afs(state, ['list-repos'])).stdout, '', 'nothing registered');
  assert.equal((await afs(state, ['add-repo', '--name', 'ok', '--remote', server.url('r')])).code, 0);
  const dup = await afs(state, ['add-repo', '--name', 'ok', '--remote', server.url('r')]);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /already exists/);
  const list = (await afs(state, ['list-repos'])).stdout.trim().split('\t');
  assert.deepEqual([list[0], list[1], list[3]], ['ok', 'main', server.url('r')]);
  // Two add-repo runs racing for one name: exactly one wins, the other says why, data intact.
  const racing = await Promise.all([0, 1].map(() => afs(state, ['add-repo', '--name', 'race', '--remote', server.url('r')])));
  assert.deepEqual(racing.map((r) => r.code).sort(), [0, 1], racing.map((r) => r.stderr).join(' | '));
  assert.match(racing.find((r) => r.code !== 0)!.stderr, /already exists|another add-repo for 'race' is running/);
  assert.match((await afs(state, ['status', '--name', 'race'])).stdout, /^repo=race /);
});

test('credentials in the remote URL work for clone, sizes and reads, and appear nowhere', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-auth-');
  await makeRepo(join(dir, 'remote'), { 'secret-repo.txt': 'content behind auth\n', 'sub/more.txt': 'more\n' }, { name: 'private' });
  const password = 'pw-7c1e9d-do-not-leak';
  const server = await startGitServer({ root: join(dir, 'remote'), basicAuth: { user: 'alice', password } });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const authed = server.url('private').replace('http://', `http://alice:${password}@`);
  const wrong = await afs(state, ['add-repo', '--name', 'bad', '--remote', authed.replace(password, 'nope')]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /authentication failed/);
  const add = await afs(state, ['add-repo', '--name', 'p', '--remote', authed, '--mount-root', mnt]);
  assert.equal(add.code, 0, add.stderr);
  const daemon = startDaemon(state);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(mnt, 'p'));
  assert.equal((await stat(join(mnt, 'p', 'secret-repo.txt'))).size, 'content behind auth\n'.length, 'sizes via object-info with auth');
  assert.equal(await readFile(join(mnt, 'p', 'secret-repo.txt'), 'utf8'), 'content behind auth\n');
  assert.equal(await readFile(join(mnt, 'p', 'sub/more.txt'), 'utf8'), 'more\n');
  const outputs = [wrong.stdout, wrong.stderr, add.stdout, add.stderr, daemon.log(),
    (await afs(state, ['list-repos'])).stdout, (await afs(state, ['status', '--name', 'p'])).stdout,
    await readFile(join(state, 'registry.db'), 'latin1'), await readFile(join(state, 'repos', 'p', 'work', '.git', 'config'), 'utf8')];
  for (const o of outputs) assert.ok(!o.includes(password), 'password leaked');
  assert.match((await afs(state, ['list-repos'])).stdout, new RegExp(`\\t${server.url('private').replace(/[.]/g, '\\.')}\\n$`));
});
