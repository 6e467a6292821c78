import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isHydratorError } from './errors.js';
import { addFiles, cacheFiles, makeKit, readBlob, until } from './testing/hydrator-kit.js';

test('a read retries with backoff and then succeeds', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { retry: { attempts: 5, baseDelayMs: 40, maxDelayMs: 1000 } });
  const [item] = addFiles(fetcher, ['a.ts']);
  fetcher.failNext = 2;
  const path = await hydrator.ensure(source, item!.oid, item!.size);
  assert.equal(await readBlob(path), fetcher.blobs.get(item!.oid)!.toString());
  assert.equal(fetcher.calls.length, 3);
  const [t0, t1, t2] = fetcher.times as [number, number, number];
  assert.ok(t1 - t0 >= 20 - 2, `first backoff ${t1 - t0} ms`); // half of 40 ms at least (jitter)
  assert.ok(t2 - t1 >= 40 - 2, `second backoff ${t2 - t1} ms`); // half of 80 ms at least
  assert.equal(hydrator.stats().failedBlobs, 0);
  hydrator.checkInvariants();
});

test('background batches that fail are retried until every blob is in', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 2, batchMaxBlobs: 10 });
  const items = addFiles(fetcher, Array.from({ length: 40 }, (_, i) => `f${i}.ts`));
  fetcher.failNext = 3;
  hydrator.enqueue(source, items);
  await hydrator.whenIdle();
  assert.equal(cache.count, 40);
  assert.equal(hydrator.stats().failedBlobs, 0);
  assert.equal(hydrator.stats().hydratedBlobs, 40);
  hydrator.checkInvariants();
});

test('a blob that always fails is given up; its reader gets hydration-failed, the others hydrate', async (t) => {
  const { hydrator, fetcher, source, cache, warnings } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 100 });
  const items = addFiles(fetcher, Array.from({ length: 16 }, (_, i) => `src/f${i}.ts`));
  const bad = items[5]!;
  fetcher.missing.add(bad.oid);
  hydrator.enqueue(source, items);
  const t0 = performance.now();
  await assert.rejects(hydrator.ensure(source, bad.oid, bad.size), (err: unknown) => {
    assert.ok(isHydratorError(err, 'hydration-failed'));
    assert.match(String((err.cause as Error).message), /not our ref/);
    return true;
  });
  assert.ok(performance.now() - t0 < 4000, 'well within the read deadline');
  await hydrator.whenIdle();
  assert.equal(cache.count, 15);
  assert.equal(cache.isKnown(bad.oid), false);
  assert.equal(hydrator.stats().failedBlobs, 1);
  assert.equal(warnings.length, 1);
  hydrator.checkInvariants();
});

test('background-only: a failing blob is isolated by halving and never takes its neighbours down', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 2, batchMaxBlobs: 64 });
  const items = addFiles(fetcher, Array.from({ length: 64 }, (_, i) => `lib/m${i}.py`));
  fetcher.missing.add(items[17]!.oid);
  fetcher.missing.add(items[40]!.oid);
  hydrator.enqueue(source, items);
  await hydrator.whenIdle();
  assert.equal(cache.count, 62);
  assert.equal(hydrator.stats().failedBlobs, 2);
  const alone = fetcher.calls.filter((c) => c.length === 1).map((c) => c[0]);
  assert.ok(alone.includes(items[17]!.oid) && alone.includes(items[40]!.oid), 'given up only after failing alone');
  hydrator.checkInvariants();
});

test('the read deadline bounds a read whose fetch stalls', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { readDeadlineMs: 150 });
  const [item] = addFiles(fetcher, ['stalls.ts']);
  fetcher.latencyMs = 60_000;
  const t0 = performance.now();
  await assert.rejects(hydrator.ensure(source, item!.oid, item!.size), (err: unknown) => isHydratorError(err, 'hydration-failed'));
  const ms = performance.now() - t0;
  assert.ok(ms >= 140 && ms < 2000, `rejected after ${ms.toFixed(0)} ms`);
  // The stalled batch times out too (foreground batches share the deadline) and frees its slot.
  await until(() => fetcher.running === 0);
});

test('corrupt content is rejected, never stored, and retried', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t, { concurrency: 1, batchMaxBlobs: 10 });
  const items = addFiles(fetcher, ['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts']);
  fetcher.corrupt.set(items[1]!.oid, 1);
  fetcher.corrupt.set(items[4]!.oid, 1);
  const path = hydrator.ensure(source, items[4]!.oid, items[4]!.size);
  hydrator.enqueue(source, items);
  assert.equal(await readBlob(await path), fetcher.blobs.get(items[4]!.oid)!.toString());
  await hydrator.whenIdle();
  for (const it of items) assert.equal(await readBlob(cache.pathOf(it.oid)), fetcher.blobs.get(it.oid)!.toString());
  assert.deepEqual((await cacheFiles(cache)).sort(), items.map((i) => i.oid).sort(), 'no temp file left');
  assert.equal(hydrator.stats().failedBlobs, 0);
  cache.checkInvariants();
  hydrator.checkInvariants();
});

test('content that is always corrupt fails its readers with the blob-corrupt cause', async (t) => {
  const { hydrator, fetcher, source, cache } = await makeKit(t);
  const [item] = addFiles(fetcher, ['evil.ts']);
  fetcher.corrupt.set(item!.oid, 1000);
  await assert.rejects(hydrator.ensure(source, item!.oid, item!.size), (err: unknown) =>
    isHydratorError(err, 'hydration-failed') && isHydratorError(err.cause, 'blob-corrupt'));
  assert.equal(fetcher.calls.length, 3);
  assert.equal(cache.count, 0);
});

test('an aborted reader leaves with code aborted; the fetch goes on for the others', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t);
  const [item] = addFiles(fetcher, ['shared.ts']);
  fetcher.latencyMs = 50;
  const ac = new AbortController();
  const quitter = hydrator.ensure(source, item!.oid, item!.size, ac.signal);
  const stayer = hydrator.ensure(source, item!.oid, item!.size);
  await until(() => fetcher.running === 1);
  ac.abort();
  await assert.rejects(quitter, (err: unknown) => isHydratorError(err, 'aborted') && (err as Error).name === 'AbortError');
  await stayer;
  assert.equal(fetcher.calls.length, 1);
  // Already aborted: rejects at once, nothing fetched.
  const [other] = addFiles(fetcher, ['other.ts']);
  await assert.rejects(hydrator.ensure(source, other!.oid, other!.size, AbortSignal.abort()), (err: unknown) => isHydratorError(err, 'aborted'));
  await hydrator.whenIdle();
  assert.equal(fetcher.calls.length, 1);
  hydrator.checkInvariants();
});

test('a reader that aborts before its batch leaves takes the blob out of the foreground', async (t) => {
  const { hydrator, fetcher, source } = await makeKit(t, { foregroundConcurrency: 1 });
  const [busy, dropped] = addFiles(fetcher, ['busy.ts', 'dropped.ts']);
  fetcher.latencyMs = 40;
  const first = hydrator.ensure(source, busy!.oid, busy!.size);
  await until(() => fetcher.running === 1);
  const ac = new AbortController();
  const second = hydrator.ensure(source, dropped!.oid, dropped!.size, ac.signal);
  assert.equal(hydrator.stats().queued, 1);
  ac.abort();
  await assert.rejects(second, (err: unknown) => isHydratorError(err, 'aborted'));
  assert.equal(hydrator.stats().queued, 0);
  await first;
  await hydrator.whenIdle();
  assert.deepEqual(fetcher.calls, [[busy!.oid]]);
  hydrator.checkInvariants();
});
