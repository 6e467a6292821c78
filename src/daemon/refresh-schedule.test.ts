import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueIn, MAX_BACKOFF_MS, refreshDelay } from './refresh-schedule.js';

const noJitter = () => 0;
const fullJitter = () => 0.999999;

test('refresh backoff: the interval after a success, doubling per failure, capped', () => {
  assert.equal(refreshDelay(30_000, 0, noJitter), 30_000);
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => refreshDelay(30_000, n, noJitter)), [60_000, 120_000, 240_000, 480_000, 900_000]);
  assert.equal(refreshDelay(30_000, 6, noJitter), MAX_BACKOFF_MS, 'capped at 15 minutes');
  assert.equal(refreshDelay(30_000, 10_000, noJitter), MAX_BACKOFF_MS, 'huge failure counts do not overflow');
  assert.equal(refreshDelay(2 * 3_600_000, 3, noJitter), 2 * 3_600_000, 'an interval longer than the cap is the cap');
  assert.equal(refreshDelay(500, 1, noJitter), 1000);
});

test('refresh backoff: jitter shortens by at most 10% and never below the interval', () => {
  assert.equal(refreshDelay(1000, 3, fullJitter), 7200);
  assert.equal(refreshDelay(1000, 1, fullJitter), 1800);
  for (let n = 1; n < 40; n++) assert.ok(refreshDelay(3_600_000, n, fullJitter) >= 3_600_000, `n=${n}`);
  assert.equal(refreshDelay(500, 0, fullJitter), 500, 'no jitter on the normal schedule');
});

test('refresh due time counts from the last attempt', () => {
  const now = 1_000_000;
  assert.equal(dueIn(now - 10_000, 30_000, 0, now), 20_000);
  assert.equal(dueIn(now - 60_000, 30_000, 0, now), 0, 'overdue: at once');
  assert.equal(dueIn(now + 3_600_000, 30_000, 0, now), 30_000, 'a clock that jumped back waits one interval, not an hour');
  assert.equal(dueIn(now - 10_000, 30_000, 1, now, noJitter), 50_000, 'a failure backs off from the attempt');
  assert.equal(dueIn(Number.NaN, 30_000, 0, now), 30_000, 'an unparsable time counts as now');
});
