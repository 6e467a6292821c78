import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Oid } from '../model/ids.js';
import { BlobCache } from './blob-cache.js';
import { isHydratorError } from './errors.js';
import { Hydrator } from './hydrator.js';
import { classify } from './priority.js';
import { MockFetcher } from './testing/mock-fetcher.js';
import { addFiles, cacheFiles, makeKit, readBlob, until } from './testing/hydrator-kit.js';

test('100 concurrent ensure() of one blob fetch it once, across sources too', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t);
  fetcher.latencyMs = 20;
  const other = new MockFetcher();
  const [item] = addFiles(fetcher, ['src/a.ts']);
  other.blobs.set(item!.oid, fetcher.blobs.get(item!.oid)!);
  const second = hydrator.addSource('other', other);
  const reads = Array.from({ length: 100 }, (_, i) => hydrator.ensure(i % 2 ? source : second, item!.oid, item!.size));
  hydrator.checkInvariants();
  const paths = await Promise.all(reads);
  assert.equal(new Set(paths).size, 1);
  assert.equal(fetcher.requested + other.requested, 1);
  assert.equal(await readBlob(paths[0]!), fetcher.blobs.get(item!.oid)!.toString());
  // Cached now: no fetch at all.
  assert.equal(await hydrator.ensure(source, item!.oid, item!.size), paths[0]);
  assert.equal(fetcher.requested + other.requested, 1);
  assert.equal(hydrator.stats().hydratedBlobs, 1);
  hydrator.checkInvariants();
});

test('explicit reads arriving together are coalesced into one foreground batch', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t);
  const items = addFiles(fetcher, Array.from({ length: 10 }, (_, i) => `f${i}.ts`));
  await Promise.all(items.map((it) => hydrator.ensure(source, it.oid, it.size)));
  assert.equal(fetcher.calls.length, 1);
  assert.equal(fetcher.calls[0]!.length, 10);
});

test('a read pre-empts four slow background batches', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { concurrency: 4, batchMaxBlobs: 5 });
  const background = addFiles(fetcher, Array.from({ length: 40 }, (_, i) => `bg/${i}.ts`));
  const [read] = addFiles(fetcher, ['wanted.ts']);
  fetcher.latencyFor = (oids) => (oids.includes(read!.oid) ? 20 : 800);
  hydrator.enqueue(source, background);
  await until(() => fetcher.running === 4);
  hydrator.checkInvariants();
  const t0 = performance.now();
  await hydrator.ensure(source, read!.oid, read!.size);
  const ms = performance.now() - t0;
  assert.equal(fetcher.delivered.length, 1, 'no background blob was delivered before the read');
  assert.ok(ms < 600, `read took ${ms.toFixed(0)} ms behind background batches`);
  await until(() => hydrator.stats().inflight === 20); // the read's own batch settles just after
  hydrator.checkInvariants();
});

test('a read of a blob inside a slow background batch does not wait for that batch', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { concurrency: 1 });
  const items = addFiles(fetcher, Array.from({ length: 10 }, (_, i) => `${i}.ts`));
  const target = items[9]!;
  fetcher.latencyFor = (oids) => (oids.length > 1 ? 800 : 20);
  hydrator.enqueue(source, items);
  await until(() => fetcher.running === 1);
  await hydrator.ensure(source, target.oid, target.size);
  assert.deepEqual(fetcher.delivered, [target.oid]);
  await hydrator.whenIdle();
  assert.equal(hydrator.stats().hydratedBlobs, 10);
});

test('background batches follow the classification order', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 2 });
  const paths = ['img/logo.png', 'README.md', 'src/main.ts', 'data.bin.unknown', 'tsconfig.json',
    'package.json', 'go.mod', 'docs/guide.md', 'lib/util.go', '.gitignore', 'video.mp4'];
  const items = addFiles(fetcher, paths);
  hydrator.enqueue(source, items);
  await hydrator.whenIdle();
  const byOid = new Map(items.map((it) => [it.oid, it]));
  const order = fetcher.calls.flat().map((o) => byOid.get(o)!);
  const classes = order.map((it) => classify(it.path, it.size));
  assert.deepEqual(classes, [...classes].sort((a, b) => a - b), order.map((it) => it.path).join(' '));
  assert.deepEqual(order.slice(0, 2).map((it) => it.path).sort(), ['go.mod', 'package.json']);
  assert.ok(fetcher.calls.every((c) => c.length <= 2));
  assert.equal(cache.count, paths.length);
});

test('enqueue deduplicates by oid, skips cached blobs, and nudge moves blobs ahead', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 1 });
  const [a, b, c] = addFiles(fetcher, ['a.png', 'b.ts', 'c.md']);
  await hydrator.ensure(source, c!.oid, c!.size);
  const other = hydrator.addSource('other', fetcher);
  assert.equal(hydrator.enqueue(source, [a!, b!, c!, { ...b!, path: 'copy/of/b.ts' }]), 2);
  assert.equal(hydrator.enqueue(other, [a!]), 1, 'queued in the other source too, fetched once');
  assert.equal(hydrator.nudge(source, [a!.oid]), 1);
  assert.equal(hydrator.stats().queued, 3);
  hydrator.checkInvariants();
  await hydrator.whenIdle();
  assert.deepEqual(fetcher.calls.slice(1), [[a!.oid], [b!.oid]]);
  assert.equal(hydrator.stats().hydratedBlobs, 3);
});

test('whenIdle waits for the queue to drain and reports stats', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 2, batchMaxBlobs: 40 });
  fetcher.latencyMs = 5;
  await hydrator.whenIdle(); // idle from the start
  const items = addFiles(fetcher, Array.from({ length: 200 }, (_, i) => `dir${i % 7}/file${i}.js`));
  hydrator.enqueue(source, items);
  assert.equal(hydrator.stats().queued, 200);
  await hydrator.whenIdle();
  const s = hydrator.stats();
  assert.equal(s.queued, 0);
  assert.equal(s.inflight, 0);
  assert.equal(s.hydratedBlobs, 200);
  assert.equal(s.hydratedBytes, items.reduce((n, it) => n + it.size, 0));
  assert.equal(s.fetchBatches, fetcher.calls.length);
  assert.equal(fetcher.requested, 200);
  assert.ok(fetcher.maxRunning <= 2);
  assert.equal(cache.count, 200);
  hydrator.checkInvariants();
});

test('a second hydrator on the same cache directory sees earlier blobs; no temp file is ever a blob', async (t) => {
  const first = await makeKit(t);
  const items = addFiles(first.fetcher, ['a.ts', 'b.ts', 'c.ts']);
  first.hydrator.enqueue(first.source, items);
  await first.hydrator.whenIdle();
  assert.deepEqual((await cacheFiles(first.cache)).sort(), items.map((i) => i.oid).sort());
  await first.hydrator.close();

  const cache = await BlobCache.open({ root: first.root });
  const second = new Hydrator({ cache });
  t.after(() => second.destroy());
  const fetcher = new MockFetcher();
  const source = second.addSource('repo', fetcher);
  for (const it of items) assert.equal(await second.ensure(source, it.oid, it.size), cache.pathOf(it.oid));
  assert.equal(second.enqueue(source, items), 0);
  assert.equal(fetcher.calls.length, 0);
});

test('source.close() drops its queued work and leaves other sources alone', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 5 });
  fetcher.latencyMs = 30;
  const other = new MockFetcher();
  const otherSource = hydrator.addSource('other', other);
  hydrator.enqueue(source, addFiles(fetcher, Array.from({ length: 30 }, (_, i) => `x${i}.ts`)));
  hydrator.enqueue(otherSource, addFiles(other, Array.from({ length: 10 }, (_, i) => `y${i}.ts`)));
  await until(() => fetcher.running === 1);
  const [late] = addFiles(fetcher, ['late.ts']);
  const read = hydrator.ensure(source, late!.oid, late!.size);
  const closing = source.close();
  assert.equal(source.close(), closing, 'idempotent');
  await assert.rejects(read, (err: unknown) => isHydratorError(err, 'closed'));
  await closing;
  await assert.rejects(hydrator.ensure(source, late!.oid, late!.size), (err: unknown) => isHydratorError(err, 'closed'));
  await hydrator.whenIdle();
  assert.ok(fetcher.requested <= 10, `only the batches already running: ${fetcher.requested}`);
  assert.equal(other.requested, 10);
  assert.doesNotThrow(() => hydrator.addSource('repo', new MockFetcher()), 'the id is free again');
  hydrator.checkInvariants();
});

test('close() drains running batches, refuses new work, and is idempotent', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 2 });
  fetcher.latencyMs = 50;
  const items = addFiles(fetcher, ['1.ts', '2.ts', '3.ts', '4.ts']);
  hydrator.enqueue(source, items);
  await until(() => fetcher.running === 1);
  const first = hydrator.close();
  assert.equal(hydrator.close(), first);
  assert.equal(hydrator.state, 'closing');
  await first;
  assert.equal(hydrator.state, 'closed');
  assert.equal(cache.count, 2, 'the running batch finished, the rest was dropped');
  await assert.rejects(hydrator.ensure(source, items[3]!.oid, items[3]!.size), (err: unknown) => isHydratorError(err, 'closed'));
  assert.equal(hydrator.enqueue(source, items), 0);
  await hydrator.whenIdle();
  await hydrator.destroy();
  await hydrator.destroy();
  assert.equal(hydrator.state, 'destroyed');
  hydrator.checkInvariants();
});

test('destroy() aborts running fetches and rejects readers at once', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t);
  const [slow] = addFiles(fetcher, ['slow.ts']);
  fetcher.latencyMs = 10_000;
  const read = hydrator.ensure(source, slow!.oid, slow!.size);
  const idle = hydrator.whenIdle();
  await until(() => fetcher.running === 1);
  const t0 = performance.now();
  const err = new Error('shutting down');
  const destroyed = hydrator.destroy(err);
  assert.equal(hydrator.destroy(), destroyed);
  await assert.rejects(read, (e: unknown) => isHydratorError(e, 'closed') && e.cause === err);
  await assert.rejects(idle, (e: unknown) => isHydratorError(e, 'closed'));
  await destroyed;
  await until(() => fetcher.running === 0);
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(await hydrator.close().then(() => 'closed'), 'closed', 'close after destroy resolves');
  hydrator.checkInvariants();
});

test('unknown oids and non-owned sources are refused', async (t) => {
  const { hydrator } = await makeKit(t);
  const foreign = new Hydrator({ cache: (await makeKit(t)).cache });
  const src = foreign.addSource('x', new MockFetcher());
  await assert.rejects(hydrator.ensure(src, '0'.repeat(40) as Oid, 1), TypeError);
  await foreign.destroy();
  assert.throws(() => hydrator.addSource('repo', new MockFetcher()), /already exists/);
});
