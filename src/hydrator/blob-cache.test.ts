import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Oid } from '../model/ids.js';
import { BlobCache, TEMP_PREFIX } from './blob-cache.js';
import { isHydratorError } from './errors.js';
import { blobOid, chunks } from './testing/mock-fetcher.js';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'afs-cache-'));
  roots.push(dir);
  return dir;
}

async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(dir)) for (const f of await readdir(join(dir, sub))) out.push(f);
  return out;
}

test('write stores a verified blob under its fan-out path and counts it', async () => {
  const cache = await BlobCache.open({ root: await tempRoot() });
  const data = Buffer.from('hello world\n');
  const oid = blobOid(data);
  assert.equal(oid, '3b18e512dba79e4c8300dd08aeb37f8e728b8dad'); // `git hash-object` of the same bytes
  const path = await cache.write(oid, data.length, chunks(data));
  assert.equal(path, join(cache.dir, '3b', oid));
  assert.deepEqual(await readFile(path), data);
  assert.equal(cache.isKnown(oid), true);
  assert.equal(cache.sizeOf(oid), data.length);
  assert.equal(cache.count, 1);
  assert.equal(cache.totalBytes, data.length);
  cache.checkInvariants();
});

test('empty blobs, unknown sizes and SHA-256 ids are supported', async () => {
  const cache = await BlobCache.open({ root: await tempRoot() });
  const empty = blobOid('');
  assert.equal(empty, 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  await cache.write(empty, 0, chunks(Buffer.alloc(0)));
  const unknown = Buffer.from('size learned while writing');
  await cache.write(blobOid(unknown), -1, chunks(unknown));
  const big = Buffer.alloc(100_000, 'x');
  const sha256 = blobOid(big, 'sha256');
  assert.equal(sha256.length, 64);
  await cache.write(sha256, big.length, chunks(big, 4096));
  assert.equal(cache.count, 3);
  assert.equal(cache.totalBytes, unknown.length + big.length);
  assert.deepEqual(await readFile(cache.pathOf(sha256)), big);
  cache.checkInvariants();
});

test('size and hash mismatches throw blob-corrupt and leave nothing behind', async () => {
  const cache = await BlobCache.open({ root: await tempRoot() });
  const data = Buffer.from('the real content');
  const oid = blobOid(data);
  const cases: Array<[number, Buffer]> = [
    [data.length, Buffer.from('the fake content')], // same size, wrong hash
    [data.length, Buffer.from('the real content, and more')], // too long
    [data.length, Buffer.from('short')], // too short
    [-1, Buffer.from('unknown size, wrong content')], // hashed after the write
  ];
  for (const [size, content] of cases) {
    await assert.rejects(cache.write(oid, size, chunks(content)), (err: unknown) => {
      assert.ok(isHydratorError(err, 'blob-corrupt'));
      assert.equal(err.oid, oid);
      return true;
    });
  }
  assert.equal(cache.isKnown(oid), false);
  assert.equal(await cache.has(oid), false);
  assert.deepEqual(await listAll(cache.dir), [], 'no temp file and no blob left');
  cache.checkInvariants();
});

test('an aborted write removes its temp file', async () => {
  const cache = await BlobCache.open({ root: await tempRoot() });
  const data = Buffer.alloc(10_000, 'a');
  const ac = new AbortController();
  async function* slow(): AsyncIterable<Buffer> {
    yield data.subarray(0, 100);
    ac.abort(new Error('stop'));
    yield data.subarray(100);
  }
  await assert.rejects(cache.write(blobOid(data), data.length, slow(), ac.signal), /stop/);
  assert.deepEqual(await listAll(cache.dir), []);
});

test('concurrent writes of one oid both succeed and store it once', async () => {
  const cache = await BlobCache.open({ root: await tempRoot() });
  const data = Buffer.alloc(50_000, 'z');
  const oid = blobOid(data);
  const paths = await Promise.all(Array.from({ length: 5 }, () => cache.write(oid, data.length, chunks(data, 1000))));
  assert.ok(paths.every((p) => p === cache.pathOf(oid)));
  assert.deepEqual(await listAll(cache.dir), [oid]);
  assert.equal(cache.count, 1);
  assert.equal(cache.totalBytes, data.length);
  // Already known: the content is drained, not rewritten.
  let pulled = 0;
  async function* counted(): AsyncIterable<Buffer> { for await (const c of chunks(data, 1000)) { pulled++; yield c; } }
  await cache.write(oid, data.length, counted());
  assert.equal(pulled, 50);
});

test('temp files are never visible as blobs, and a reopened cache finds what was written', async () => {
  const root = await tempRoot();
  const first = await BlobCache.open({ root });
  const blobs = ['a', 'bb', 'ccc'].map((s) => Buffer.from(s.repeat(1000)));
  for (const b of blobs) await first.write(blobOid(b), b.length, chunks(b));
  // A stale temp file from a crashed writer, and a fresh one that may belong to a live writer.
  const dir = join(first.dir, 'ab');
  await mkdir(dir, { recursive: true });
  const stale = join(dir, `${TEMP_PREFIX}dead`);
  const fresh = join(dir, `${TEMP_PREFIX}live`);
  await writeFile(stale, 'partial');
  await writeFile(fresh, 'partial');
  const old = new Date(Date.now() - 3600_000);
  await utimes(stale, old, old);

  const second = await BlobCache.open({ root });
  assert.equal(second.count, 3);
  assert.equal(second.totalBytes, 6000);
  for (const b of blobs) assert.equal(second.isKnown(blobOid(b)), true);
  await assert.rejects(stat(stale), { code: 'ENOENT' });
  await stat(fresh); // kept: younger than staleTempMs
  assert.equal(second.isKnown(`${TEMP_PREFIX}live` as Oid), false);
  second.checkInvariants();

  // A blob written by another instance after open() is found by has() (one stat), then known.
  const late = Buffer.from('late');
  await first.write(blobOid(late), late.length, chunks(late));
  assert.equal(second.isKnown(blobOid(late)), false);
  assert.equal(await second.has(blobOid(late)), true);
  assert.equal(second.isKnown(blobOid(late)), true);
  assert.equal(second.count, 4);
});
