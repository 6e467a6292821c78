// Remote refresh end to end: `fetch` and the periodic refresh move only the remote-tracking ref
// (HEAD, files and the mount stay), never download a blob, count ahead/behind locally, degrade
// and back off on failures, recover, and never show credentials.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afs, startDaemon, type CliResult } from './support/cli.js';
import { isMounted, liveStatus, waitFor } from './support/control.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { addCommit, blobOid, git, gitRun, makeRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServerOptions } from './support/git-server.js';

const exec = promisify(execFile);

async function setup(t: import('node:test').TestContext, repos: Array<{ name: string; args?: string[] }>, serverOpts: Partial<GitServerOptions> = {}, remoteUrl?: (url: string) => string) {
  const dir = await tempDir(t, 'afs-refresh-');
  const fixture = await makeRepo(join(dir, 'remote'), { 'README.md': '# one\n', 'src/a.txt': 'a\n' }, { name: 'src' });
  const server = await startGitServer({ root: join(dir, 'remote'), ...serverOpts });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const outputs: CliResult[] = [];
  const run = async (args: string[]) => {
    const r = await afs(state, args);
    outputs.push(r);
    return r;
  };
  for (const r of repos) {
    const url = remoteUrl ? remoteUrl(server.url('src')) : server.url('src');
    const add = await run(['add-repo', '--name', r.name, '--remote', url, '--mount-root', mnt, ...(r.args ?? [])]);
    assert.equal(add.code, 0, add.stderr);
  }
  defer(t, async () => {
    for (const r of repos) if (await isMounted(join(mnt, r.name))) spawnSync('umount', ['-l', join(mnt, r.name)]);
  });
  const daemon = startDaemon(state, ['--hydration-concurrency', '0'], { ARTIFACT_FS_LOG: 'debug' });
  defer(t, () => daemon.stop());
  for (const r of repos) await daemon.waitMounted(join(mnt, r.name));
  return { dir, bare: fixture.bare, head: fixture.head, server, state, mnt, daemon, run, outputs };
}

/** Whether the repo's git dir holds `oid` (without ever fetching it). */
async function hasObject(state: string, name: string, oid: string): Promise<boolean> {
  const r = await gitRun(['--git-dir', join(state, 'repos', name, 'work', '.git'), 'cat-file', '-e', oid], { env: { GIT_NO_LAZY_FETCH: '1' } });
  return r.code === 0;
}

const gitIn = (dir: string, ...args: string[]) => exec('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args]);

test('fetch: behind after a push, ahead after a local commit, diverged with both; HEAD, files and blobs untouched', fuseTest, async (t) => {
  const { bare, head, server, state, mnt, run } = await setup(t, [{ name: 'r1', args: ['--refresh', 'never'] }, { name: 'r2', args: ['--refresh', 'never'] }]);
  const r1 = join(mnt, 'r1');
  const r2 = join(mnt, 'r2');
  assert.equal(await readFile(join(r1, 'src/a.txt'), 'utf8'), 'a\n');

  // A local commit in r1's git dir (made through the mount): ahead=1, no fetch needed.
  await gitIn(r1, 'commit', '-q', '--allow-empty', '-m', 'local work');
  const local = (await gitIn(r1, 'rev-parse', 'HEAD')).stdout.trim();
  let s1 = await liveStatus(state, 'r1');
  assert.deepEqual([s1.ahead, s1.behind, s1.diverged], [1, 0, false]);

  // A push to the server: a new big file and a changed one.
  const big = randomBytes(256 * 1024);
  const pushed = await addCommit(bare, { 'big.bin': big, 'src/a.txt': 'a changed upstream\n' }, { message: 'upstream' });
  server.resetStats();
  const f2 = await run(['fetch', '--name', 'r2']);
  assert.equal(f2.code, 0, f2.stderr);
  assert.equal(f2.stderr, '');
  assert.match(f2.stdout, /^repo=r2 ahead=0 behind=1 diverged=false last_fetch=\d{4}-\d\d-\d\dT\S+Z result=ok\n$/);
  assert.equal(server.stats.fetchRequests, 1, 'one fetch, no lazy fetches on the side');
  assert.ok(server.stats.bytesOut < 64 * 1024, `fetched ${server.stats.bytesOut} bytes: the 256 KiB blob came along`);
  assert.equal(await hasObject(state, 'r2', pushed), true, 'the new commit is local');
  assert.equal(await hasObject(state, 'r2', blobOid(big)), false, 'its blob is not');
  assert.equal(await hasObject(state, 'r2', blobOid('a changed upstream\n')), false);

  // Nothing the user sees moved: HEAD, the files, the tree, git status.
  assert.equal((await gitIn(r2, 'rev-parse', 'HEAD')).stdout.trim(), head);
  assert.equal((await gitIn(r2, 'rev-parse', 'origin/main')).stdout.trim(), pushed);
  assert.equal(await readFile(join(r2, 'src/a.txt'), 'utf8'), 'a\n');
  await assert.rejects(stat(join(r2, 'big.bin')), /ENOENT/);
  assert.equal((await gitIn(r2, 'status', '--porcelain')).stdout, '');
  const s2 = await liveStatus(state, 'r2');
  assert.deepEqual([s2.head, s2.ahead, s2.behind, s2.diverged, s2.result, s2.state], [head, 0, 1, false, 'ok', 'mounted']);

  // Both: r1 has its local commit and now fetches the push.
  assert.equal((await run(['fetch', '--name', 'r1'])).code, 0);
  s1 = await liveStatus(state, 'r1');
  assert.deepEqual([s1.ahead, s1.behind, s1.diverged], [1, 1, true]);
  assert.equal((await gitIn(r1, 'rev-parse', 'HEAD')).stdout.trim(), local);
  assert.equal(await readFile(join(r1, 'src/a.txt'), 'utf8'), 'a\n');
  // The CLI line (reference key order) says the same.
  assert.match((await run(['status', '--name', 'r1'])).stdout, / ahead=1 behind=1 diverged=true last_fetch=\S+ result=ok /);
});

test('a repo added with --ref (detached HEAD) fetches that ref into refs/artifact-fs/upstream', fuseTest, async (t) => {
  const dir0 = await tempDir(t, 'afs-refresh-tag-');
  const fx = await makeRepo(join(dir0, 'remote'), { 'a.txt': 'v1\n' }, { name: 'src' });
  await git(['--git-dir', fx.bare, 'update-ref', 'refs/tags/stable', fx.head]);
  const server = await startGitServer({ root: join(dir0, 'remote') });
  defer(t, () => server.close());
  const state = join(dir0, 'state');
  const mnt = join(dir0, 'mnt');
  assert.equal((await afs(state, ['add-repo', '--name', 'tag', '--remote', server.url('src'), '--ref', 'refs/tags/stable', '--mount-root', mnt, '--refresh', 'never'])).code, 0);
  defer(t, async () => { if (await isMounted(join(mnt, 'tag'))) spawnSync('umount', ['-l', join(mnt, 'tag')]); });
  const daemon = startDaemon(state);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(mnt, 'tag'));
  let s = await liveStatus(state, 'tag');
  assert.deepEqual([s.ref, s.ahead, s.behind], ['refs/tags/stable', 0, 0], 'before any fetch: compared with what was cloned');
  const moved = await addCommit(fx.bare, { 'a.txt': 'v2\n' });
  await git(['--git-dir', fx.bare, 'update-ref', 'refs/tags/stable', moved]);
  const f = await afs(state, ['fetch', '--name', 'tag']);
  assert.equal(f.code, 0, f.stderr);
  s = await liveStatus(state, 'tag');
  assert.deepEqual([s.ahead, s.behind, s.head], [0, 1, fx.head]);
  const gitDir = join(state, 'repos', 'tag', 'work', '.git');
  assert.equal((await git(['--git-dir', gitDir, 'rev-parse', 'refs/artifact-fs/upstream'])).trim(), moved);
  assert.equal((await git(['--git-dir', gitDir, 'rev-parse', 'HEAD'])).trim(), fx.head, 'HEAD stays detached where it was');
  assert.equal(await readFile(join(mnt, 'tag', 'a.txt'), 'utf8'), 'v1\n');
});

interface LogLine { msg: string; ts: string; failures?: number; next_ms?: number }

test('a failing server degrades the repo with a one-line result, backs off, and recovers', fuseTest, async (t) => {
  const { state, server, daemon, run } = await setup(t, [{ name: 'r', args: ['--refresh', 'never'] }]);
  server.failWith(500);
  // A manual fetch fails at once: exit 1, one line, the state is degraded.
  const f = await run(['fetch', '--name', 'r']);
  assert.equal(f.code, 1);
  assert.equal(f.stderr.split('\n').filter(Boolean).length, 1, f.stderr);
  assert.match(f.stderr, /^artifact-fs: fetch of r failed: .*500/);
  assert.match(f.stdout, /^repo=r ahead=0 behind=0 diverged=false last_fetch=\S+ result="fetch failed: .*500.*"\n$/);
  let s = await liveStatus(state, 'r');
  assert.equal(s.state, 'degraded');
  assert.match(String(s.result), /^fetch failed: .*The requested URL returned error: 500$/);
  assert.doesNotMatch(String(s.result), /\n/);
  assert.match((await run(['status', '--name', 'r'])).stdout, /^repo=r state=degraded .* result="fetch failed: [^"\n]*500" prepare_error= /);

  // The periodic refresh (every 300 ms) keeps failing, each time waiting about twice as long.
  assert.equal((await run(['set-refresh', '--name', 'r', '--interval', '300ms'])).code, 0);
  // (The first logged failure is the manual fetch's.)
  const logged = await waitFor(async () => logLines(daemon.log(), 'refresh of r failed'), (l) => l.length >= 4, 20_000, 'three failed periodic refreshes');
  const failures = logged.slice(1, 4);
  const [a, b, c] = failures.map((l) => Date.parse(l.ts));
  assert.deepEqual(failures.map((l) => l.failures), [2, 3, 4], 'counted on from the manual fetch');
  assert.ok(c! - b! > 1.5 * (b! - a!) * 0.9, `gaps ${b! - a!} ms then ${c! - b!} ms: no backoff`);
  assert.ok(failures.every((l) => l.next_ms! >= 300 * 2 ** l.failures! * 0.9 - 50), JSON.stringify(failures));
  s = await liveStatus(state, 'r');
  assert.equal(s.state, 'degraded');

  // The server heals: the next attempt succeeds and the repo is mounted again.
  server.failWith(undefined);
  s = await waitFor(() => liveStatus(state, 'r'), (x) => x.state === 'mounted', 15_000, 'recovery');
  assert.equal(s.result, 'ok');
  assert.equal(logLines(daemon.log(), 'refresh of r recovered').length, 1);
  // The failure count is persisted: a success reset it.
  assert.match((await run(['status', '--name', 'r'])).stdout, / state=mounted .* result=ok /);
});

test('periodic refresh follows the interval; set-refresh never stops it at once', fuseTest, async (t) => {
  const { bare, state, server, run } = await setup(t, [{ name: 'r', args: ['--refresh', 'never'] }]);
  let s = await liveStatus(state, 'r');
  assert.equal(s.next_fetch, '', 'never: nothing scheduled');
  const pushed = await addCommit(bare, { 'new.txt': 'new\n' });
  assert.equal((await run(['set-refresh', '--name', 'r', '--interval', '250ms'])).code, 0);
  s = await waitFor(() => liveStatus(state, 'r'), (x) => x.behind === 1, 5000, 'a periodic fetch');
  assert.equal(s.result, 'ok');
  const first = Date.parse(String(s.last_fetch));
  s = await waitFor(() => liveStatus(state, 'r'), (x) => Date.parse(String(x.last_fetch)) > first, 5000, 'the next periodic fetch');
  assert.match(String(s.next_fetch), /^\d{4}-/);

  const sr = await run(['set-refresh', '--name', 'r', '--interval', 'never']);
  assert.equal(sr.code, 0, sr.stderr);
  assert.equal(sr.stdout, 'refresh r never\n');
  const stopped = await liveStatus(state, 'r');
  assert.equal(stopped.next_fetch, '');
  assert.equal(stopped.refresh, 'never');
  await new Promise((r) => setTimeout(r, 300)); // a fetch already running when it was stopped may land
  const settled = await liveStatus(state, 'r');
  const requests = server.stats.requests;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(server.stats.requests, requests, 'no request to the server after set-refresh never');
  assert.equal((await liveStatus(state, 'r')).last_fetch, settled.last_fetch);
  assert.equal((await git(['--git-dir', join(state, 'repos', 'r', 'work', '.git'), 'rev-parse', 'origin/main'])).trim(), pushed);
});

test('credentials never appear in output, logs, status, errors or the registry', fuseTest, async (t) => {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const token = Buffer.from(`alice:${password}`).toString('base64');
  const { bare, state, server, daemon, run, outputs } = await setup(t, [{ name: 'r', args: ['--refresh', '300ms'] }],
    { basicAuth: { user: 'alice', password } }, (url) => url.replace('http://', `http://alice:${password}@`));
  const before = server.stats.requests;
  const ok = await run(['fetch', '--name', 'r']);
  assert.equal(ok.code, 0, `the fetch authenticates: ${ok.stderr}`);
  assert.ok(server.stats.requests > before);
  server.failWith(500);
  await waitFor(() => liveStatus(state, 'r'), (x) => x.state === 'degraded', 10_000, 'degraded');
  await run(['fetch', '--name', 'r']);
  await run(['status', '--name', 'r']);
  await run(['status', '--name', 'r', '--json']);
  await run(['list-repos']);
  server.failWith(undefined);
  await waitFor(() => liveStatus(state, 'r'), (x) => x.state === 'mounted', 15_000, 'recovery');
  assert.equal(await daemon.stop(), 0);
  await run(['status', '--name', 'r']);
  // Without the daemon the CLI fetches itself; several at once all succeed (the ref lock is retried).
  await addCommit(bare, { 'later.txt': 'later\n' });
  const together = await Promise.all([1, 2, 3, 4].map(() => run(['fetch', '--name', 'r'])));
  for (const r of together) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / behind=1 .*result=ok/);
  }
  const texts = [daemon.log(), ...outputs.flatMap((o) => [o.stdout, o.stderr])];
  for (const file of await readdir(state)) {
    if (file.startsWith('registry.db')) texts.push((await readFile(join(state, file))).toString('latin1'));
  }
  texts.push(await readFile(join(state, 'repos', 'r', 'work', '.git', 'config'), 'utf8'));
  for (const text of texts) {
    assert.ok(!text.includes(password), 'password leaked');
    assert.ok(!text.includes(token), 'basic-auth token leaked');
  }
  assert.match(daemon.log(), /refresh of r failed/, 'the failures were logged (without the secret)');
});

function logLines(log: string, prefix: string): LogLine[] {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg.startsWith(prefix));
}
