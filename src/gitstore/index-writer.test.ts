import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
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

/** The payload of extension `sig` of a version-2 index, if present. */
function extension(index: Buffer, sig: string): Buffer | undefined {
  let pos = 12;
  for (let n = index.readUInt32BE(8); n > 0; n--) {
    const nameLen = index.readUInt16BE(pos + 60) & 0xfff;
    pos += (62 + nameLen + 8) & ~7;
  }
  while (pos + 8 <= index.length - 20) {
    const len = index.readUInt32BE(pos + 4);
    if (index.toString('latin1', pos, pos + 4) === sig) return index.subarray(pos + 8, pos + 8 + len);
    pos += 8 + len;
  }
  return undefined;
}

test('the cache tree we write is byte for byte the one git builds (read-tree), and git trusts it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'afs-index-tree-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' };
  const git = (args: string[], extra: Record<string, string> = {}) => execFileSync('git', ['-C', dir, ...args], { env: { ...env, ...extra } }).toString();
  git(['init', '-q']);
  // Sibling directories whose names sort differently by length and by bytes, nesting, a dir
  // holding only a dir, and a file next to a same-prefix directory.
  for (const p of ['zz/a.txt', 'b/deep/er/x.txt', 'b/deep/y.txt', 'b/c.txt', 'aaa/q.txt', 'a-b/r.txt', 'a/s.txt', 'only/dir/t.txt', 'top.txt', 'b.txt']) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), `${p}\n`);
  }
  git(['add', '-A']);
  git(['commit', '-qm', 'c']);
  const all = git(['ls-tree', '-r', '-t', '-z', 'HEAD']).split('\0').filter(Boolean).map((l) => {
    const [meta, path] = l.split('\t') as [string, string];
    const [mode, type, oid] = meta.split(' ') as [string, string, string];
    return { path, mode: parseInt(mode, 8), type, oid: asOid(oid) };
  });
  const files = all.filter((e) => e.type !== 'tree').map((e, i) => ({ ...e, size: 0, ino: 10 + i }));
  const trees = [{ path: '', oid: asOid(git(['rev-parse', 'HEAD^{tree}']).trim()) }, ...all.filter((e) => e.type === 'tree')];
  await writeIndex(join(dir, '.git'), files, { time: 1_700_000_000, uid: 0, gid: 0, trees });
  const ours = extension(readFileSync(join(dir, '.git', 'index')), 'TREE');
  git(['read-tree', 'HEAD'], { GIT_INDEX_FILE: join(dir, '.git', 'index.git') });
  const theirs = extension(readFileSync(join(dir, '.git', 'index.git')), 'TREE');
  assert.ok(theirs, 'git wrote a cache tree');
  assert.deepEqual(ours, theirs);
  git(['diff', '--cached', '--quiet']);
  assert.equal(git(['write-tree']).trim(), trees[0]!.oid);

  // A listing that misses a directory: no extension rather than a wrong one.
  await writeIndex(join(dir, '.git'), files, { time: 1_700_000_000, uid: 0, gid: 0, trees: trees.filter((tr) => tr.path !== 'b/deep') });
  assert.equal(extension(readFileSync(join(dir, '.git', 'index')), 'TREE'), undefined);
});
