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
    [{ name: 'a', remote: 'x', requireCommit: 'abc123' }, /invalid --require-commit/],
    [{ name: 'a', remote: 'x', requireCommit: 'g'.repeat(40) }, /invalid --require-commit/],
    [{ name: 'a', remote: 'x', requireCommit: 'a'.repeat(40), refresh: '30s' }, /--require-commit pins the base commit: use --refresh never/],
    [{ name: 'a', remote: 'x', gitDir: '/d' }, /--git-dir needs --prepared-gitdir/],
    [{ name: 'a', remote: 'x', fetchRef: 'main' }, /--fetch-ref needs --prepared-gitdir/],
    [{ name: 'a', preparedGitdir: true }, /--git-dir is required with --prepared-gitdir/],
    [{ name: 'a', preparedGitdir: true, gitDir: '/d', depth: '1' }, /--depth cannot be used with --prepared-gitdir/],
    [{ name: 'a', preparedGitdir: true, gitDir: '/d', fetchRef: 'a b' }, /invalid --fetch-ref/],
    [{ name: 'a', preparedGitdir: true, gitDir: '/d', fetchRef: 'main', branch: 'dev' }, /name different refs/],
    [{ name: 'a', remote: 'x', branch: 'a..b' }, /invalid --branch/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => validateSpec(input), (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(input));
  }
  const ok = validateSpec({ name: 'repo-1_x.y', remote: 'https://h/r.git', ref: 'refs/pull/12/head', depth: '3', refresh: 'never' });
  assert.equal(ok.depth, 3);
  assert.equal(ok.refresh, 'never');
  const pinned = validateSpec({ name: 'p', remote: 'https://h/r.git', requireCommit: 'A'.repeat(40) });
  assert.equal(pinned.requireCommit, 'a'.repeat(40), 'lower-cased');
  assert.equal(pinned.refresh, 'never', '--require-commit defaults --refresh to never');
  const prepared = validateSpec({ name: 'p', preparedGitdir: true, gitDir: '/cache/r.git', branch: 'main' });
  assert.equal(prepared.remote, undefined, 'the remote may come from the prepared git dir');
  assert.equal(prepared.fetchRef, 'main', '--fetch-ref defaults to --branch');
  assert.equal(validateSpec({ name: 'p', preparedGitdir: true, gitDir: '/c', fetchRef: 'refs/heads/main', branch: 'main' }).fetchRef, 'refs/heads/main');
  assert.equal(validateSpec({ name: 'p', preparedGitdir: true, gitDir: '/c' }).fetchRef, undefined, 'no fetch: HEAD as prepared');
});

test('refresh intervals', () => {
  assert.equal(parseRefresh('30s'), 30_000);
  assert.equal(parseRefresh('5m'), 300_000);
  assert.equal(parseRefresh('250ms'), 250);
  assert.equal(parseRefresh('never'), null);
  assert.throws(() => parseRefresh('0s'), UsageError);
});
