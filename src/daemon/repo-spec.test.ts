import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, parseRefresh, validateSpec } from './repo-spec.js';

test('add-repo input validation: one clear error per bad input', () => {
  const bad: Array<[Parameters<typeof validateSpec>[0], RegExp]> = [
    [{ remote: 'x' }, /--name is required/],
    [{ name: 'a' }, /--remote is required/],
    [{ name: 'a/b', remote: 'x' }, /invalid repo name/],
    [{ name: 'a\\b', remote: 'x' }, /invalid repo name/],
    [{ name: '..', remote: 'x' }, /invalid repo name/],
    [{ name: 'a..b', remote: 'x' }, /invalid repo name/],
    [{ name: 'a', remote: 'x', branch: 'main', ref: 'refs/tags/v1' }, /cannot be used together/],
    [{ name: 'a', remote: 'x', depth: '-1' }, /invalid --depth/],
    [{ name: 'a', remote: 'x', depth: '0' }, /invalid --depth/],
    [{ name: 'a', remote: 'x', depth: 'ten' }, /invalid --depth/],
    [{ name: 'a', remote: 'x', refresh: '30' }, /invalid --refresh/],
    [{ name: 'a', remote: 'x', refresh: 'soon' }, /invalid --refresh/],
    [{ name: 'a', remote: 'x', ref: 'main' }, /invalid --ref/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => validateSpec(input), (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(input));
  }
  const ok = validateSpec({ name: 'repo-1_x.y', remote: 'https://h/r.git', ref: 'refs/pull/12/head', depth: '3', refresh: 'never' });
  assert.equal(ok.depth, 3);
  assert.equal(ok.refresh, 'never');
});

test('refresh intervals', () => {
  assert.equal(parseRefresh('30s'), 30_000);
  assert.equal(parseRefresh('5m'), 300_000);
  assert.equal(parseRefresh('250ms'), 250);
  assert.equal(parseRefresh('never'), null);
  assert.throws(() => parseRefresh('0s'), UsageError);
});
