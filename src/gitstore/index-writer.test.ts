import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asOid } from '../model/ids.js';
import { writeIndex } from './index-writer.js';

test('git reads the index we write: same tree as HEAD, our stat data, byte-order sorted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'afs-index-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' } }).toString();
  git('init', '-q');
  mkdirSync(join(dir, 'a-b'));
  writeFileSync(join(dir, 'a-b', 'x.txt'), 'x\n');
  mkdirSync(join(dir, 'a'));
  writeFileSync(join(dir, 'a', 'y.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'naïve.txt'), 'unicode\n');
  symlinkSync('naïve.txt', join(dir, 'link'));
  git('add', '-A');
  git('commit', '-qm', 'c');
  const entries = git('ls-tree', '-r', '-z', 'HEAD').split('\0').filter(Boolean).map((l, i) => {
    const [meta, path] = l.split('\t') as [string, string];
    const [mode, , oid] = meta.split(' ') as [string, string, string];
    const size = Number(git('cat-file', '-s', oid).trim());
    return { path, mode: parseInt(mode, 8), oid: asOid(oid), size, ino: 100 + i };
  });
  await writeIndex(join(dir, '.git'), [...entries].reverse(), { time: 1_700_000_000, uid: 0, gid: 0 });
  git('diff', '--cached', '--quiet'); // throws if the index differs from HEAD's tree
  const debug = git('ls-files', '--debug');
  assert.match(debug, /ctime: 1700000000:0/);
  assert.match(debug, /ino: 10\d/);
  assert.deepEqual(git('ls-files', '-z').split('\0').filter(Boolean), ['a-b/x.txt', 'a/y.sh', 'link', 'naïve.txt']);
});
