import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Oid } from '../model/ids.js';
import { PRIORITY, type Priority } from './priority.js';
import { BlobQueue, UNKNOWN_SIZE_ESTIMATE } from './queue.js';

const oid = (n: number): Oid => n.toString(16).padStart(40, '0') as Oid;

test('best class first; within a class smaller first, unknown sizes last, then push order', () => {
  const q = new BlobQueue();
  q.push(oid(1), 500, PRIORITY.source);
  q.push(oid(2), -1, PRIORITY.manifest);
  q.push(oid(3), 10, PRIORITY.bulk);
  q.push(oid(4), 100, PRIORITY.manifest);
  q.push(oid(5), -1, PRIORITY.manifest);
  q.push(oid(6), 100, PRIORITY.manifest);
  q.checkInvariants();
  assert.equal(q.bestPriority(), PRIORITY.manifest);
  assert.deepEqual(q.takeBatch(100, Infinity), [oid(4), oid(6), oid(2), oid(5), oid(1), oid(3)]);
  assert.equal(q.size, 0);
  assert.equal(q.bestPriority(), undefined);
});

test('the same oid is queued once; a push only ever improves its priority', () => {
  const q = new BlobQueue();
  assert.equal(q.push(oid(1), 10, PRIORITY.docs), true);
  assert.equal(q.push(oid(1), 10, PRIORITY.bulk), false);
  assert.equal(q.priorityOf(oid(1)), PRIORITY.docs);
  assert.equal(q.push(oid(1), 10, PRIORITY.manifest), true);
  assert.equal(q.priorityOf(oid(1)), PRIORITY.manifest);
  assert.equal(q.upgrade(oid(1), PRIORITY.other), false);
  assert.equal(q.upgrade(oid(1), PRIORITY.nudged), true);
  assert.equal(q.upgrade(oid(2), PRIORITY.nudged), false, 'upgrade never inserts');
  assert.equal(q.size, 1);
  q.checkInvariants();
  assert.equal(q.delete(oid(1)), true);
  assert.equal(q.delete(oid(1)), false);
  assert.equal(q.size, 0);
});

test('takeBatch respects blob and byte budgets, always takes one, and mixes classes', () => {
  const q = new BlobQueue();
  q.push(oid(1), 1000, PRIORITY.bulk);
  q.push(oid(2), 40, PRIORITY.manifest);
  q.push(oid(3), 50, PRIORITY.config);
  q.push(oid(4), 60, PRIORITY.config);
  assert.deepEqual(q.takeBatch(2, Infinity), [oid(2), oid(3)]);
  assert.deepEqual(q.takeBatch(10, 100), [oid(4)], 'stops before the first blob over budget');
  assert.deepEqual(q.takeBatch(10, 100), [oid(1)], 'a blob larger than the budget still goes, alone');
  q.push(oid(5), -1, PRIORITY.other);
  q.push(oid(6), -1, PRIORITY.other);
  assert.deepEqual(q.takeBatch(10, UNKNOWN_SIZE_ESTIMATE * 1.5), [oid(5)]);
  q.checkInvariants();
});

test('random operations keep the invariants and match a simple model', () => {
  const q = new BlobQueue();
  const model = new Map<Oid, { size: number; priority: Priority; seq: number }>();
  let seq = 0;
  let rnd = 12345;
  const rand = (n: number): number => ((rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0) >>> 16) % n;
  for (let step = 0; step < 5000; step++) {
    const o = oid(rand(300));
    const p = rand(8) as Priority;
    const op = rand(10);
    const m = model.get(o);
    if (op < 5) {
      const size = rand(4) === 0 ? -1 : rand(1000);
      q.push(o, size, p);
      if (m === undefined) model.set(o, { size, priority: p, seq: seq++ });
      else { if (m.size < 0 && size >= 0) m.size = size; m.priority = Math.min(m.priority, p) as Priority; }
    } else if (op < 7) {
      q.upgrade(o, p);
      if (m !== undefined) m.priority = Math.min(m.priority, p) as Priority;
    } else if (op < 9) {
      q.delete(o);
      model.delete(o);
    } else {
      const got = q.takeBatch(rand(5) + 1, Infinity);
      const want = [...model.entries()].sort(([, a], [, b]) =>
        a.priority - b.priority || (a.size < 0 ? Infinity : a.size) - (b.size < 0 ? Infinity : b.size) || a.seq - b.seq)
        .slice(0, got.length).map(([k]) => k);
      assert.deepEqual(got, want);
      for (const k of got) model.delete(k);
    }
    if (step % 250 === 0) q.checkInvariants();
    assert.equal(q.size, model.size);
  }
  q.checkInvariants();
});

test('100k entries: push, upgrade and drain stay fast', () => {
  const q = new BlobQueue();
  const n = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) q.push(oid(i), (i * 7919) % 100_000, (2 + (i % 6)) as Priority);
  for (let i = 0; i < n; i += 10) q.upgrade(oid(i), PRIORITY.nudged);
  let taken = 0;
  let last = -1;
  while (q.size > 0) {
    const batch = q.takeBatchEntries(2000, 64 * 1024 * 1024);
    for (const b of batch) {
      assert.ok(b.priority >= last);
      last = b.priority;
    }
    taken += batch.length;
  }
  assert.equal(taken, n);
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
});
