import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SerialFlush } from './durability.js';

test('SerialFlush: callers during a flush share the next one, which starts after it', async () => {
  const log: string[] = [];
  let n = 0;
  let release: (() => void) | undefined;
  const flush = new SerialFlush(async () => {
    const id = ++n;
    log.push(`start ${id}`);
    await new Promise<void>((r) => (release = r));
    log.push(`end ${id}`);
  });
  const first = flush.run();
  const second = flush.run(); // arrives while flush 1 runs: needs a flush that starts later
  const third = flush.run(); // shares flush 2
  assert.equal(second, third);
  release!();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['start 1', 'end 1', 'start 2']);
  release!();
  await second;
  assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2']);
  const fourth = flush.run(); // idle again: starts at once
  assert.equal(log.at(-1), 'start 3');
  release!();
  await fourth;
});

test('SerialFlush: a failed flush rejects its callers and does not stop the next one', async () => {
  let fail = true;
  const flush = new SerialFlush(async () => {
    if (fail) throw new Error('EIO');
  });
  await assert.rejects(flush.run(), /EIO/);
  fail = false;
  await flush.run();
});
