// The test git server itself: real git clients against it, and each of its knobs.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DELIM_PKT, FLUSH_PKT, encodePktLine } from '../src/gitstore/pkt-line.js';
import { defer, tempDir } from './support/fuse-env.js';
import { addCommit, basicAuthEnv, blobOid, git, gitRun, listBlobs, makeRepo, type FixtureRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer, type GitServerOptions } from './support/git-server.js';

async function setup(t: TestContext, opts: Omit<GitServerOptions, 'root'> = {}): Promise<{ dir: string; repo: FixtureRepo; server: GitServer }> {
  const dir = await tempDir(t, 'afs-gitsrv-');
  const repo = await makeRepo(join(dir, 'srv'), {
    'README.md': '# hello\n',
    'src/main.ts': 'export {};\n',
    'bin/run': { exec: '#!/bin/sh\necho hi\n' },
    'link': { symlink: 'README.md' },
    'empty': '',
  });
  const server = await startGitServer({ root: join(dir, 'srv'), ...opts });
  defer(t, () => server.close());
  return { dir, repo, server };
}

/** The v2 capability advertisement as text, fetched without git. */
async function advertisement(url: string): Promise<string> {
  const res = await fetch(`${url}/info/refs?service=git-upload-pack`, { headers: { 'Git-Protocol': 'version=2' }, signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  return res.text();
}

test('a blobless clone over protocol v2 works and is counted', async (t) => {
  const { dir, repo, server } = await setup(t);
  const dest = join(dir, 'clone');
  const r = await gitRun(['clone', '-q', '--filter=blob:none', '--no-checkout', server.url('repo'), dest]);
  assert.equal(r.code, 0, r.stderr);
  const head = (await gitRun(['-C', dest, 'rev-parse', 'HEAD'])).stdout.toString().trim();
  assert.equal(head, repo.head);
  // Every blob is missing: the filter reached upload-pack (uploadpack.allowFilter via env).
  const objects = (await gitRun(['-C', dest, 'rev-list', '--objects', '--missing=print', 'HEAD'])).stdout.toString();
  const missing = objects.split('\n').filter((l) => l.startsWith('?')).length;
  assert.equal(missing, (await listBlobs(repo.bare)).length);

  const s = server.stats;
  assert.equal(s.requests, 3);
  assert.deepEqual([...s.byPath], [['GET info/refs', 1], ['POST git-upload-pack', 2]]);
  // ls-refs and fetch are v2 commands: the Git-Protocol header reached upload-pack.
  assert.deepEqual([...s.byCommand].sort(), [['fetch', 1], ['ls-refs', 1]]);
  assert.equal(s.fetchRequests, 1);
  assert.equal(s.objectInfoRequests, 0);
  assert.ok(s.bytesOut > 500 && s.bytesIn > 100, `bytes out ${s.bytesOut}, in ${s.bytesIn}`);

  server.resetStats();
  assert.equal(server.stats.requests, 0);
  assert.equal(server.stats.byPath.size, 0);
});

test('a repository is served with and without the .git suffix', async (t) => {
  const { server } = await setup(t);
  const plain = server.url('repo').replace(/\.git$/, '');
  for (const url of [server.url('repo'), plain]) {
    const r = await gitRun(['ls-remote', url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /refs\/heads\/main/);
  }
  const r = await gitRun(['ls-remote', server.url('nope')]);
  assert.notEqual(r.code, 0);
});

test('object-info is advertised by default and can be turned off per server', async (t) => {
  const { dir, server } = await setup(t);
  const off = await startGitServer({ root: join(dir, 'srv'), objectInfo: false });
  defer(t, () => off.close());
  const on = await advertisement(server.url('repo'));
  assert.match(on, /^000eversion 2\n/);
  assert.match(on, /object-info/);
  assert.match(on, /fetch=[^\n]*filter/, 'uploadpack.allowFilter');
  assert.doesNotMatch(await advertisement(off.url('repo')), /object-info/);
  // git 2.39 would still serve it; the server refuses it as newer git does.
  const body = Buffer.concat([encodePktLine('command=object-info\n'), DELIM_PKT, encodePktLine('size\n'), FLUSH_PKT]);
  const res = await fetch(`${off.url('repo')}/git-upload-pack`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-git-upload-pack-request', 'Git-Protocol': 'version=2' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 500);
  await res.arrayBuffer();
  assert.equal(off.stats.objectInfoRequests, 1);
});

test('latency is added to every request', async (t) => {
  const { server } = await setup(t, { latencyMs: 150 });
  const r = await gitRun(['ls-remote', server.url('repo')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.stats.requests, 2); // v2: advertisement + ls-refs
  assert.ok(r.ms >= 300, `ls-remote took ${r.ms} ms`);
  server.setLatency(0);
  const fast = await gitRun(['ls-remote', server.url('repo')]);
  assert.ok(fast.ms < r.ms - 200, `without latency ${fast.ms} ms`);
});

test('basic auth: a wrong password fails fast, the right one works, neither in argv', async (t) => {
  const { dir, server } = await setup(t, { basicAuth: { user: 'alice', password: 's3cret' } });
  const none = await gitRun(['ls-remote', server.url('repo')]);
  assert.notEqual(none.code, 0);
  const wrong = await gitRun(['clone', '-q', '--filter=blob:none', '--no-checkout', server.url('repo'), join(dir, 'c1')], { env: basicAuthEnv('alice', 'nope') });
  assert.notEqual(wrong.code, 0);
  assert.ok(wrong.ms < 5000, `failed after ${wrong.ms} ms`);
  assert.match(wrong.stderr, /Authentication failed|401|could not read Username/i);
  const right = await gitRun(['clone', '-q', '--filter=blob:none', '--no-checkout', server.url('repo'), join(dir, 'c2')], { env: basicAuthEnv('alice', 's3cret') });
  assert.equal(right.code, 0, right.stderr);
  assert.ok(server.stats.byPath.get('GET info/refs')! >= 3);
});

test('hold() makes requests wait until release()', async (t) => {
  const { server } = await setup(t);
  server.hold();
  let done = false;
  const ls = gitRun(['ls-remote', server.url('repo')]).then((r) => { done = true; return r; });
  await server.waitForHeld(1, 10_000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(done, false);
  assert.equal(server.heldCount, 1);
  server.release();
  const r = await ls;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.heldCount, 0);
});

test('close() fails held requests, and is idempotent', async (t) => {
  const { server } = await setup(t);
  server.hold();
  const ls = gitRun(['ls-remote', server.url('repo')]);
  await server.waitForHeld(1, 10_000);
  await Promise.all([server.close(), server.close()]);
  const r = await ls;
  assert.notEqual(r.code, 0);
  await server.close();
});

test('a gzip request body is inflated by http-backend and still classified', async (t) => {
  const { server } = await setup(t);
  const body = Buffer.concat([encodePktLine('command=ls-refs\n'), DELIM_PKT, encodePktLine('ref-prefix refs/heads/\n'), FLUSH_PKT]);
  const res = await fetch(`${server.url('repo')}/git-upload-pack`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-git-upload-pack-request',
      'Content-Encoding': 'gzip',
      'Git-Protocol': 'version=2',
    },
    body: gzipSync(body),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /refs\/heads\/main/);
  assert.equal(server.stats.byCommand.get('ls-refs'), 1);
});

test('fixtures are deterministic; addCommit adds commits and branches', async (t) => {
  const dir = await tempDir(t, 'afs-fixture-');
  const files = { 'a.txt': 'a\n', 'dir/b.bin': Buffer.from([0, 1, 2, 255]), 'x': { exec: 'run\n' }, 'l': { symlink: 'a.txt' }, 'we"ird\\name': 'q' };
  const one = await makeRepo(join(dir, 'one'), files);
  const two = await makeRepo(join(dir, 'two'), files);
  assert.equal(one.head, two.head);
  const blobs = await listBlobs(one.bare);
  assert.deepEqual(blobs.map((b) => [b.path, b.mode]).sort(), [
    ['a.txt', 0o100644], ['dir/b.bin', 0o100644], ['l', 0o120000], ['we"ird\\name', 0o100644], ['x', 0o100755],
  ]);
  assert.equal(blobs.find((b) => b.path === 'dir/b.bin')!.oid, blobOid(Buffer.from([0, 1, 2, 255])));

  const second = await addCommit(one.bare, { 'a.txt': 'changed\n', 'new.txt': 'new\n' }, { delete: ['x'], message: 'second' });
  assert.equal((await git(['--git-dir', one.bare, 'rev-parse', 'main^'])).trim(), one.head);
  assert.equal((await git(['--git-dir', one.bare, 'rev-parse', 'main'])).trim(), second);
  assert.deepEqual((await listBlobs(one.bare)).map((b) => b.path).sort(), ['a.txt', 'dir/b.bin', 'l', 'new.txt', 'we"ird\\name']);
  const topic = await addCommit(one.bare, { 'topic.txt': 't\n' }, { branch: 'topic', from: one.head });
  assert.equal((await git(['--git-dir', one.bare, 'rev-parse', 'topic^'])).trim(), one.head);
  assert.notEqual(topic, second);
});

test('pushes reach the bare repository and are counted; receivePack: false refuses them', async (t) => {
  const { dir, repo, server } = await setup(t);
  const work = join(dir, 'work');
  assert.equal((await gitRun(['clone', '-q', server.url('repo'), work])).code, 0);
  const env = { GIT_AUTHOR_NAME: 'P', GIT_AUTHOR_EMAIL: 'p@example.com', GIT_COMMITTER_NAME: 'P', GIT_COMMITTER_EMAIL: 'p@example.com' };
  assert.equal((await gitRun(['-C', work, 'commit', '-q', '--allow-empty', '-m', 'pushed'], { env })).code, 0);
  const pushed = (await git(['-C', work, 'rev-parse', 'HEAD'])).trim();
  server.resetStats();
  const push = await gitRun(['-C', work, 'push', '-q', 'origin', 'HEAD:refs/heads/main']);
  assert.equal(push.code, 0, push.stderr);
  assert.equal((await git(['--git-dir', repo.bare, 'rev-parse', 'refs/heads/main'])).trim(), pushed);
  assert.equal(server.stats.pushRequests, 1);
  assert.equal(server.stats.fetchRequests, 0);

  const closed = await startGitServer({ root: join(dir, 'srv'), receivePack: false });
  defer(t, () => closed.close());
  assert.equal((await gitRun(['-C', work, 'commit', '-q', '--allow-empty', '-m', 'refused'], { env })).code, 0);
  const refused = await gitRun(['-C', work, 'push', '-q', closed.url('repo'), 'HEAD:refs/heads/main']);
  assert.notEqual(refused.code, 0);
  assert.equal((await git(['--git-dir', repo.bare, 'rev-parse', 'refs/heads/main'])).trim(), pushed);
  assert.equal(closed.stats.pushRequests, 0);
});
