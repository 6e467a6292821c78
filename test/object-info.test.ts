// Protocol v2 object-info against real upload-pack: over smart HTTP (the test server) and over a
// local file:// remote, compared with what `git cat-file -s` says for every blob.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, type TestContext } from 'node:test';
import { fetchObjectSizes, probeObjectInfo } from '../src/gitstore/object-info.js';
import { RemoteError, openRemoteTransport, type RemoteTransport } from '../src/gitstore/remote-transport.js';
import { asOid, type Oid } from '../src/model/ids.js';
import { defer, tempDir } from './support/fuse-env.js';
import { git, listBlobs, makeRepo, type FixtureFile, type FixtureRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer } from './support/git-server.js';

const FILES: Record<string, FixtureFile> = {
  'README.md': '# fixture\n',
  'empty.txt': '',
  'data/blob.bin': randomBytes(70_000), // binary, NULs included, larger than one pkt-line
  'bin/tool': { exec: '#!/bin/sh\nexit 0\n' },
  'link': { symlink: 'data/blob.bin' },
  'deep/a/b/c/d.txt': 'deep\n'.repeat(1000),
  'unicode-é.txt': 'ünïcödé\n',
};

async function fixture(t: TestContext): Promise<{ dir: string; repo: FixtureRepo; server: GitServer }> {
  const dir = await tempDir(t, 'afs-oinfo-');
  const repo = await makeRepo(join(dir, 'srv'), FILES);
  const server = await startGitServer({ root: join(dir, 'srv') });
  defer(t, () => server.close());
  return { dir, repo, server };
}

function transport(t: TestContext, url: string, opts: Parameters<typeof openRemoteTransport>[1] = {}): RemoteTransport {
  const remote = openRemoteTransport(url, opts);
  defer(t, () => remote.close());
  return remote;
}

/** What git itself says each blob's size is. */
async function gitSizes(bare: string, oids: readonly Oid[]): Promise<Map<Oid, number>> {
  const out = await git(['--git-dir', bare, 'cat-file', '--batch-check=%(objectname) %(objectsize)'], `${oids.join('\n')}\n`);
  return new Map(out.trim().split('\n').map((l) => {
    const [oid, size] = l.split(' ');
    return [asOid(oid!), Number(size)] as [Oid, number];
  }));
}

test('sizes over smart HTTP equal git cat-file -s for every blob', async (t) => {
  const { repo, server } = await fixture(t);
  const oids = (await listBlobs(repo.bare)).map((b) => b.oid);
  const remote = transport(t, server.url('repo'));
  assert.equal(await probeObjectInfo(remote), true);
  const sizes = await fetchObjectSizes(remote, [...oids, ...oids]); // duplicates asked once
  assert.deepEqual(sizes, await gitSizes(repo.bare, oids));
  assert.ok([...sizes.values()].includes(0), 'the empty blob');
  assert.ok([...sizes.values()].includes(70_000), 'the binary');
  assert.equal(server.stats.objectInfoRequests, 1);
  assert.equal(server.stats.fetchRequests, 0, 'no blob was downloaded');
  // The advertisement is fetched once per transport, then cached.
  assert.equal(server.stats.byPath.get('GET info/refs'), 1);
});

test('sizes over file:// and a plain path, with upload-pack run locally', async (t) => {
  const { repo } = await fixture(t);
  const oids = (await listBlobs(repo.bare)).map((b) => b.oid);
  const expected = await gitSizes(repo.bare, oids);
  // transfer.advertiseObjectInfo for git versions that read it (2.39 advertises regardless).
  const config = { 'transfer.advertiseObjectInfo': 'true' };
  for (const url of [pathToFileURL(repo.bare).href, repo.bare]) {
    const remote = transport(t, url, { config });
    assert.equal(await probeObjectInfo(remote), true, url);
    assert.deepEqual(await fetchObjectSizes(remote, oids), expected, url);
  }
});

test('an object the server lacks is left out, not an error', async (t) => {
  const { repo, server } = await fixture(t);
  const [first] = await listBlobs(repo.bare);
  const unknown = asOid('0123456789abcdef0123456789abcdef01234567');
  const sizes = await fetchObjectSizes(transport(t, server.url('repo')), [first!.oid, unknown]);
  assert.deepEqual([...sizes.keys()], [first!.oid]);
});

test('a server without object-info: probe false, sizes rejected before any request', async (t) => {
  const { dir, repo } = await fixture(t);
  const server = await startGitServer({ root: join(dir, 'srv'), objectInfo: false });
  defer(t, () => server.close());
  const remote = transport(t, server.url('repo'));
  assert.equal(await probeObjectInfo(remote), false);
  const oids = (await listBlobs(repo.bare)).map((b) => b.oid);
  await assert.rejects(fetchObjectSizes(remote, oids), (err: unknown) => err instanceof RemoteError && err.code === 'object-info-unsupported');
  assert.equal(server.stats.byPath.get('POST git-upload-pack'), undefined);
});

test('10,000 blobs are asked in several batched requests', async (t) => {
  const dir = await tempDir(t, 'afs-oinfo-big-');
  const files: Record<string, FixtureFile> = {};
  for (let i = 0; i < 10_000; i++) files[`d${i % 50}/f${i}.txt`] = `file ${i}\n${'x'.repeat(i % 97)}`;
  const repo = await makeRepo(join(dir, 'srv'), files);
  const server = await startGitServer({ root: join(dir, 'srv') });
  defer(t, () => server.close());
  const oids = (await listBlobs(repo.bare)).map((b) => b.oid);
  assert.equal(oids.length, 10_000);
  const sizes = await fetchObjectSizes(transport(t, server.url('repo')), oids);
  assert.equal(server.stats.objectInfoRequests, 3); // 4096 + 4096 + 1808
  assert.deepEqual(sizes, await gitSizes(repo.bare, oids));

  server.resetStats();
  await fetchObjectSizes(transport(t, server.url('repo')), oids, { batchSize: 1000, concurrency: 2 });
  assert.equal(server.stats.objectInfoRequests, 10);
});

test('HTTP errors carry the status and a redacted URL', async (t) => {
  const { dir, server } = await fixture(t);
  const url = server.url('missing').replace('http://', 'http://bob:hunter2@');
  const err = await probeObjectInfo(transport(t, url)).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RemoteError, String(err));
  assert.equal(err.code, 'remote-error');
  assert.equal(err.status, 404);
  assert.doesNotMatch(`${err.message} ${err.url} ${err.stack}`, /hunter2/);

  const locked = await startGitServer({ root: join(dir, 'srv'), basicAuth: { user: 'bob', password: 'hunter2' } });
  defer(t, () => locked.close());
  await assert.rejects(probeObjectInfo(transport(t, locked.url('repo'))), (e: unknown) => e instanceof RemoteError && e.status === 401 && !/hunter2/.test(e.message));
  // Credentials as a header, or as URL userinfo (moved into a header, never sent in the URL).
  const authorization = `Basic ${Buffer.from('bob:hunter2').toString('base64')}`;
  assert.equal(await probeObjectInfo(transport(t, locked.url('repo'), { authorization })), true);
  assert.equal(await probeObjectInfo(transport(t, locked.url('repo').replace('http://', 'http://bob:hunter2@'))), true);
});

test('a stalled server hits the timeout; the caller can abort too', async (t) => {
  const { repo, server } = await fixture(t);
  const oids = (await listBlobs(repo.bare)).map((b) => b.oid);
  const remote = transport(t, server.url('repo'), { timeoutMs: 300 });
  await probeObjectInfo(remote);
  server.hold();
  const started = Date.now();
  await assert.rejects(fetchObjectSizes(remote, oids), (e: unknown) => e instanceof RemoteError && e.code === 'remote-timeout');
  assert.ok(Date.now() - started < 2000);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('caller gave up')), 100);
  await assert.rejects(fetchObjectSizes(transport(t, server.url('repo')), oids, { signal: ac.signal }), /caller gave up/);
  server.release();
});

test('remotes git cannot be spoken to without git are refused clearly', () => {
  assert.throws(() => openRemoteTransport('ssh://git@example.com/repo.git'), (e: unknown) => e instanceof RemoteError && e.code === 'transport-unsupported');
  assert.throws(() => openRemoteTransport('git@example.com:repo.git'), (e: unknown) => e instanceof RemoteError && e.code === 'transport-unsupported');
});
