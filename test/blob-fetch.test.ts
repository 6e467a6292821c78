// Blobs into a real blobless clone from the test server: which are local, one batched fetch,
// then reading them back through one long-lived cat-file, byte-exact and streamed.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { before, after, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BlobFetchError, CatFileBatch, ObjectMissingError, exists, fetchMissingBlobs, missingAmong, type ObjectContent } from '../src/gitstore/blob-fetch.js';
import { CatFileError } from '../src/gitstore/cat-file-batch.js';
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

async function collect(c: ObjectContent): Promise<{ data: Buffer; chunks: number; largest: number }> {
  const parts: Buffer[] = [];
  let largest = 0;
  for await (const chunk of c.stream) {
    parts.push(chunk as Buffer);
    largest = Math.max(largest, (chunk as Buffer).length);
  }
  return { data: Buffer.concat(parts), chunks: parts.length, largest };
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

  const cat = new CatFileBatch(gitDir);
  t.after(() => cat.close());
  // All at once: pipelined through one process, answered in order.
  const contents = await Promise.all(all.map(async (oid) => ({ oid, got: await cat.readAll(oid) })));
  for (const { oid, got } of contents) {
    assert.equal(got.type, 'blob');
    assert.ok(got.data.equals(await gitBytes(['--git-dir', repo.bare, 'cat-file', 'blob', oid])), oid);
  }
  const streamed = await collect(await cat.read(big));
  assert.ok(streamed.data.equals(BIG));
  assert.ok(streamed.chunks > 10 && streamed.largest <= 1024 * 1024, `${streamed.chunks} chunks, largest ${streamed.largest}`);
  assert.equal(cat.spawnCount, 1);
  assert.equal(server.stats.requests, 0);
});

test('a missing object is object-missing at once, with no request and no dying process', async () => {
  const gitDir = await blobless('c2');
  const cat = new CatFileBatch(gitDir);
  try {
    const started = performance.now();
    // Unknown anywhere, and known to the promisor remote but not fetched (the case that makes
    // GIT_NO_LAZY_FETCH=1 git die on 2.39).
    for (const oid of [UNKNOWN, small[0]!, big]) {
      await assert.rejects(cat.read(oid), (e: unknown) => e instanceof ObjectMissingError && e.code === 'object-missing' && e.oid === oid);
    }
    assert.ok(performance.now() - started < 2000);
    assert.equal(server.stats.requests, 0);
    assert.equal(cat.spawnCount, 1);
    // Fetched behind the running process' back: it rescans packs and finds them.
    await fetchMissingBlobs(gitDir, [small[0]!, big]);
    assert.equal((await cat.readAll(small[0]!)).type, 'blob');
    assert.ok((await collect(await cat.read(big))).data.equals(BIG));
    assert.equal(cat.spawnCount, 1);
  } finally {
    await cat.close();
  }
});

test('a slow reader holds back the pipe; an abandoned stream does not block later reads', async () => {
  const gitDir = await blobless('c3');
  await fetchMissingBlobs(gitDir, [big, small[1]!]);
  const cat = new CatFileBatch(gitDir);
  try {
    const first = await cat.read(big);
    const second = cat.read(small[1]!);
    // Nobody reads `first`: the process blocks on a full pipe, `second` waits behind it.
    const raced = await Promise.race([second.then(() => 'second'), delay(300, 'waiting')]);
    assert.equal(raced, 'waiting');
    first.stream.destroy(); // the rest of big.bin is discarded, the pipe flows again
    assert.equal((await collect(await second)).data.toString(), 'small file 1\n'.repeat(2));
    // Abort after the header: the stream errors, the next read is unaffected.
    const ac = new AbortController();
    const third = await cat.read(big, { signal: ac.signal });
    ac.abort(new Error('reader gone'));
    await assert.rejects(collect(third), /reader gone/);
    assert.ok((await cat.readAll(small[1]!)).data.length > 0);
  } finally {
    await cat.close();
  }
});

test('the process is restarted when it dies; close() is final and idempotent', async () => {
  const gitDir = await blobless('c4');
  await fetchMissingBlobs(gitDir, small.slice(0, 20));
  const cat = new CatFileBatch(gitDir);
  assert.equal((await cat.readAll(small[0]!)).type, 'blob');
  process.kill(cat.pid!, 'SIGKILL');
  await delay(100);
  const again = await Promise.all(small.slice(0, 20).map((o) => cat.readAll(o)));
  assert.equal(again.length, 20);
  assert.equal(cat.spawnCount, 2);
  await Promise.all([cat.close(), cat.close()]);
  assert.equal(cat.state, 'closed');
  await assert.rejects(cat.read(small[0]!), (e: unknown) => e instanceof CatFileError && e.code === 'cat-file-closed');
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
