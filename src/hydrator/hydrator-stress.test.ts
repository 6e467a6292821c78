import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Oid } from '../model/ids.js';
import type { BlobFetcher } from './ports.js';
import { isHydratorError } from './errors.js';
import { MockFetcher } from './testing/mock-fetcher.js';
import { addFiles, cacheFiles, makeKit, readBlob } from './testing/hydrator-kit.js';

test('a background batch whose fetcher ignores its signal times out, frees its slot and is retried', async (t) => {
  const { hydrator, fetcher, cache } = await makeKit(t, { concurrency: 1, batchTimeoutMs: 100 });
  const items = addFiles(fetcher, ['a.ts', 'b.ts', 'c.ts']);
  let calls = 0;
  const stubborn: BlobFetcher = {
    fetch: (oids, deliver, signal) => (calls++ === 0 ? new Promise<void>(() => {}) : fetcher.fetch(oids, deliver, signal)),
  };
  const other = hydrator.addSource('stubborn', stubborn);
  hydrator.enqueue(other, items);
  await hydrator.whenIdle();
  assert.ok(calls >= 2, 'the stalled batch was retried'); // in halves: 3 blobs → 2 + 1
  assert.equal(cache.count, 3);
});

test('chaos: random failures, corruption, aborts and unknown sizes end with every good blob stored', async (t) => {
  const { hydrator, fetcher, source, cache, warnings } = await makeKit(t, {
    concurrency: 3, foregroundConcurrency: 1, batchMaxBlobs: 25, foregroundBatchMaxBlobs: 4,
    retry: { attempts: 6, baseDelayMs: 2, maxDelayMs: 10 },
  });
  let seed = 42;
  const rand = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n;
  const items = addFiles(fetcher, Array.from({ length: 300 }, (_, i) => `d${i % 9}/f${i}.${['ts', 'md', 'png', 'json'][i % 4]}`));
  for (let i = 0; i < 30; i++) fetcher.corrupt.set(items[rand(300)]!.oid, 1);
  const bad = new Set<Oid>([items[7]!.oid, items[150]!.oid]);
  for (const o of bad) fetcher.missing.add(o);
  let chaosSeed = 7;
  const mayFail: BlobFetcher = {
    fetch: async (oids, deliver, signal) => {
      if (((chaosSeed = (Math.imul(chaosSeed, 1103515245) + 12345) >>> 0) >>> 16) % 8 === 0) throw new Error('chaos: 502');
      return fetcher.fetch(oids, deliver, signal);
    },
  };
  const second = hydrator.addSource('second', mayFail);
  hydrator.enqueue(source, items.slice(0, 200));
  hydrator.enqueue(second, items.slice(100).map((it) => ({ ...it, size: rand(3) === 0 ? -1 : it.size })));
  const reads: Array<Promise<unknown>> = [];
  for (let i = 0; i < 120; i++) {
    const it = items[rand(300)]!;
    const ac = new AbortController();
    if (rand(4) === 0) setTimeout(() => ac.abort(), rand(20));
    reads.push(hydrator.ensure(i % 2 ? source : second, it.oid, rand(5) === 0 ? -1 : it.size, ac.signal).then(
      async (path) => assert.equal(await readBlob(path), fetcher.blobs.get(it.oid)!.toString()),
      (err: unknown) => assert.ok(isHydratorError(err, 'aborted') || (isHydratorError(err, 'hydration-failed') && bad.has(it.oid)), String(err)),
    ));
    if (i % 10 === 0) {
      hydrator.checkInvariants();
      await new Promise((r) => setTimeout(r, rand(5)));
    }
  }
  await Promise.all(reads);
  await hydrator.whenIdle();
  hydrator.checkInvariants();
  cache.checkInvariants();
  for (const it of items) assert.equal(cache.isKnown(it.oid), !bad.has(it.oid), `${it.path} ${it.oid}: ${warnings.join('; ')}`);
  assert.equal((await cacheFiles(cache)).length, 298, 'no temp files left');
  assert.equal(hydrator.stats().failedBlobs >= 2, true);
  assert.equal(hydrator.stats().queued, 0);
});

test('stats count a blob read from two sources once', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t);
  const other = new MockFetcher();
  const [item] = addFiles(fetcher, ['x.ts']);
  other.blobs.set(item!.oid, fetcher.blobs.get(item!.oid)!);
  const second = hydrator.addSource('b', other);
  hydrator.enqueue(source, [item!]);
  hydrator.enqueue(second, [item!]);
  await hydrator.whenIdle();
  assert.equal(fetcher.requested + other.requested, 1);
  assert.equal(hydrator.stats().hydratedBlobs, 1);
});
