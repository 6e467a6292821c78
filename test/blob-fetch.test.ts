// Blobs into a real blobless clone from the test server: which are local, one batched fetch,
// then read back through the hydrator's fetcher (bulk cat-file; large blobs streamed), and the
// urgent path (one in-process request).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { before, after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BlobFetchError, exists, fetchMissingBlobs, missingAmong } from '../src/gitstore/blob-fetch.js';
import { createGitBlobFetcher } from '../src/gitstore/git-blob-fetcher.js';
import { asOid, type Oid } from '../src/model/ids.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { gitBytes, gitRun, listBlobs, makeRepo, type FixtureFile, type FixtureRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer } from './support/git-server.js';

const BIG = randomBytes(5 * 1024 * 1024);
const UNKNOWN = asOid('0123456789abcdef0123456789abcdef01234567');

let dir: string;
let repo: FixtureRepo;
let server: GitServer;
let small: Oid[];
let big: Oid;
let all: Oid[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'afs-blobfetch-'));
  const files: Record<string, FixtureFile> = { 'big.bin': BIG, 'empty': '' };
  for (let i = 0; i < 210; i++) files[`src/f${i}.txt`] = `small file ${i}\n`.repeat(1 + (i % 7));
  repo = await makeRepo(join(dir, 'srv'), files);
  server = await startGitServer({ root: join(dir, 'srv') });
  const blobs = await listBlobs(repo.bare);
  big = blobs.find((b) => b.path === 'big.bin')!.oid;
  small = blobs.filter((b) => b.path.startsWith('src/')).map((b) => b.oid);
  all = blobs.map((b) => b.oid);
});

after(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh blobless clone; returns its git dir. */
async function blobless(name: string): Promise<string> {
  const dest = join(dir, name);
  const r = await gitRun(['clone', '-q', '--filter=blob:none', '--no-checkout', '--single-branch', server.url('repo'), dest]);
  assert.equal(r.code, 0, r.stderr);
  server.resetStats();
  return join(dest, '.git');
}

/** Everything a fetcher delivers: content and how many chunks it came in. */
async function fetchAll(gitDir: string, oids: Oid[], urgent = false): Promise<Map<Oid, { data: Buffer; chunks: number }>> {
  const fetcher = createGitBlobFetcher(gitDir, { url: server.url('repo'), gitConfig: {}, scratchDir: dir, log: () => {} });
  const got = new Map<Oid, { data: Buffer; chunks: number }>();
  try {
    await fetcher.fetch(oids, async (oid, _size, content) => {
      const parts: Buffer[] = [];
      for await (const c of content) parts.push(c);
      got.set(oid, { data: Buffer.concat(parts), chunks: parts.length });
    }, new AbortController().signal, { urgent });
  } finally {
    await fetcher.close();
  }
  return got;
}

test('missing blobs are found locally, fetched in one batch, read back byte-exact', async (t) => {
  const gitDir = await blobless('c1');
  assert.deepEqual(await missingAmong(gitDir, [...all, all[0]!]), all);
  assert.equal(await exists(gitDir, all[0]!), false);
  assert.equal(await exists(gitDir, repo.head), true);
  assert.equal(server.stats.requests, 0, 'checking never fetches');

  const batch = small.slice(0, 200);
  await fetchMissingBlobs(gitDir, batch);
  assert.ok(server.stats.requests <= 3, `fetch of 200 blobs took ${server.stats.requests} requests`);
  assert.equal(server.stats.fetchRequests, 1);
  t.diagnostic(`200 blobs: ${server.stats.requests} HTTP requests (${[...server.stats.byPath].join(', ')})`);
  assert.deepEqual(await missingAmong(gitDir, all), all.filter((o) => !batch.includes(o)));

  await fetchMissingBlobs(gitDir, all);
  assert.deepEqual(await missingAmong(gitDir, all), []);
  server.resetStats();

  const got = await fetchAll(gitDir, all);
  for (const oid of all) assert.ok(got.get(oid)!.data.equals(await gitBytes(['--git-dir', repo.bare, 'cat-file', 'blob', oid])), oid);
  assert.ok(got.get(big)!.chunks > 10, `the 5 MB blob was streamed in ${got.get(big)!.chunks} chunks`);
  assert.equal(server.stats.fetchRequests, 0, 'blobs already local: nothing fetched');
});

test('an urgent fetch is one in-process request, and git finds the blob locally afterwards', async () => {
  const gitDir = await blobless('c-urgent');
  const fetcher = createGitBlobFetcher(gitDir, { url: server.url('repo'), gitConfig: {}, scratchDir: dir, log: () => {} });
  await delay(200); // capabilities are learned when the fetcher is created
  server.resetStats();
  const parts: Buffer[] = [];
  await fetcher.fetch([small[3]!], async (_oid, _size, content) => { for await (const c of content) parts.push(c); }, new AbortController().signal, { urgent: true });
  await fetcher.close();
  assert.equal(server.stats.requests, 1);
  assert.ok(Buffer.concat(parts).equals(await gitBytes(['--git-dir', repo.bare, 'cat-file', 'blob', small[3]!])));
  assert.deepEqual(await missingAmong(gitDir, [small[3]!]), [], 'written to the object store as a loose object');
});

test('an id the remote does not have fails the batch and is named', async () => {
  const gitDir = await blobless('c5');
  const err = await fetchMissingBlobs(gitDir, [small[5]!, UNKNOWN]).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof BlobFetchError, String(err));
  assert.equal(err.code, 'blob-unknown-to-remote');
  assert.equal(err.oid, UNKNOWN);
  // Nothing to fetch: no process output, no request.
  server.resetStats();
  await fetchMissingBlobs(gitDir, []);
  assert.equal(server.stats.requests, 0);
  // A stalled server: the bound kills git and says so.
  server.hold();
  try {
    const started = performance.now();
    await assert.rejects(fetchMissingBlobs(gitDir, [small[5]!], { timeoutMs: 300 }), (e: unknown) => e instanceof BlobFetchError && e.code === 'blob-fetch-timeout');
    assert.ok(performance.now() - started < 3000);
  } finally {
    server.release();
  }
  await assert.rejects(fetchMissingBlobs(gitDir, ['HEAD' as Oid]), TypeError);
});

// What the object view exists for. If a git upgrade changes either behaviour, this says so.
test('git quirks: in a partial clone cat-file fetches lazily, and GIT_NO_LAZY_FETCH=1 makes it die', async () => {
  const gitDir = await blobless('c6');
  const die = await gitRun(['--git-dir', gitDir, 'cat-file', '--batch-check'], { input: `${small[7]}\n${small[8]}\n`, env: { GIT_NO_LAZY_FETCH: '1' } });
  assert.equal(die.code, 128);
  assert.match(die.stderr, /could not fetch .* from promisor remote/);
  assert.equal(server.stats.requests, 0);
  const lazy = await gitRun(['--git-dir', gitDir, 'cat-file', '--batch-check'], { input: `${small[7]}\n${small[8]}\n` });
  assert.equal(lazy.code, 0);
  assert.equal(server.stats.fetchRequests, 2, 'one fetch per object');
  assert.equal(server.stats.requests, 4);
});
