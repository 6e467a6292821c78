// Fast status in the repo mount: git's fsmonitor hook reads the daemon's change journal
// (src/gitstore/fsmonitor-journal.ts). Real daemon, real git server, git in the mount, and a
// native clone of the same commit as the control.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DaemonChild } from './support/cli.js';
import { fuseTest } from './support/fuse-env.js';
import { mountedRepo } from './support/mounted-repo.js';

const exec = promisify(execFile);
// git 2.39 (this machine) gets the hook only when asked (fsmonitorWanted): these tests ask.
process.env.ARTIFACT_FS_FSMONITOR = 'on';

const FILES: Record<string, string | { exec: string }> = {
  'README.md': '# tracked\n',
  'package.json': '{"name":"f"}\n',
  'src/a.ts': 'export const a = 1;\n',
  'src/lib/b.ts': 'export const b = 2;\n',
  'src/lib/c.ts': 'export const c = 3;\n',
  'pkg/core/src/util/deep.ts': 'export const deep = 1;\n',
  'pkg/core/README.md': 'core\n',
  'bin/run': { exec: '#!/bin/sh\n' },
};

async function setup(t: import('node:test').TestContext) {
  const m = await mountedRepo(t, 'f', FILES);
  const native = join(m.dir, 'native');
  await exec('git', ['clone', '-q', m.server.url('f'), native]);
  return { ...m, native, hook: join(m.state, 'repos', 'f', 'fsmonitor', 'hook') };
}

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await exec('git', ['-C', dir, ...args], { maxBuffer: 1 << 24 })).stdout;
}

const status = (dir: string, ...extra: string[]) => git(dir, 'status', '--porcelain=v1', '-z', ...extra);

/** The hook as git runs it: [token, ...paths]. */
async function askHook(hook: string, token: string): Promise<string[]> {
  const out = (await exec(hook, ['2', token], { encoding: 'buffer' })).stdout.toString('utf8');
  assert.ok(out.endsWith('\0'));
  return out.slice(0, -1).split('\0');
}

/** The journal's current token: the hook answers it to any query. */
async function currentToken(hook: string): Promise<string> {
  return (await askHook(hook, 'unknown'))[0]!;
}

/** git status with GIT_TRACE_FSMONITOR: the output and the trace. */
async function tracedStatus(dir: string, trace: string): Promise<{ out: string; trace: string }> {
  await rm(trace, { force: true });
  const { stdout } = await exec('git', ['-C', dir, 'status', '--porcelain=v1', '-z'], { env: { ...process.env, GIT_TRACE_FSMONITOR: trace } });
  return { out: stdout, trace: await readFile(trace, 'utf8') };
}

/** Index entries git lstat'ed and found clean during a traced command. */
const rechecked = (trace: string) => trace.split('\n').filter((l) => l.includes('mark_fsmonitor_clean')).length;

/** FUSE requests the mount has served, by opcode (the daemon logs them on SIGUSR2). */
async function requestCounts(daemon: DaemonChild): Promise<Record<string, number>> {
  const seen = daemon.log().split('\n').filter((l) => l.includes('"fuse requests"')).length;
  daemon.child.kill('SIGUSR2');
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = daemon.log().split('\n').filter((l) => l.includes('"fuse requests"'));
    if (lines.length > seen) return JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
    if (Date.now() > deadline) throw new Error('the daemon did not log its request counts');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const LISTING_OPS = ['FUSE_OPENDIR', 'FUSE_READDIR', 'FUSE_READDIRPLUS'];
function listings(before: Record<string, number>, after: Record<string, number>): number {
  return LISTING_OPS.reduce((n, op) => n + (after[op] ?? 0) - (before[op] ?? 0), 0);
}

/** The same operations in the mount and in the native clone. */
async function edit(dir: string): Promise<void> {
  await writeFile(join(dir, 'src/a.ts'), 'export const a = 42;\n');
  await writeFile(join(dir, 'new file.txt'), 'new\n');
  await mkdir(join(dir, 'deep/er/est'), { recursive: true });
  await writeFile(join(dir, 'deep/er/est/leaf.txt'), 'leaf\n');
  await rename(join(dir, 'README.md'), join(dir, 'docs.md'));
  await rename(join(dir, 'src/lib'), join(dir, 'lib2'));
  await rm(join(dir, 'bin/run'));
  await chmod(join(dir, 'package.json'), 0o755);
  await truncate(join(dir, 'pkg/core/README.md'), 0);
  await symlink('src/a.ts', join(dir, 'link'));
}

const EDITED_PATHS = [
  'src/a.ts', 'new file.txt', 'deep/', 'deep/er/', 'deep/er/est/', 'deep/er/est/leaf.txt', 'README.md', 'docs.md',
  'src/lib/', 'lib2/', 'bin/run', 'package.json', 'pkg/core/README.md', 'link',
];

test('edits, creates, renames, deletes and chmods in the mount: the hook lists exactly those paths; git status equals a native clone', fuseTest, async (t) => {
  const { root, native, hook } = await setup(t);
  assert.equal(await status(root), '');
  const token = await currentToken(hook);
  assert.deepEqual(await askHook(hook, token), [token], 'nothing changed yet: no path');
  assert.equal(await git(root, 'config', 'core.fsmonitor'), `${hook}\n`);
  await edit(root);
  await edit(native);
  const [again, ...paths] = await askHook(hook, token);
  assert.equal(again, token);
  assert.deepEqual(paths.sort(), [...EDITED_PATHS].sort());
  assert.ok((await status(root)).length > 0);
  assert.equal(await status(root), await status(native));
  assert.equal(await status(root, '-uall'), await status(native, '-uall'));
  assert.equal(await status(root), await status(native), 'a second status (untracked cache in use) agrees too');
});

test('a new untracked file in an existing deep directory shows up; so does an edit after status settled', fuseTest, async (t) => {
  const { root, native } = await setup(t);
  for (const d of [root, native]) {
    assert.equal(await status(d), '');
    assert.equal(await status(d), '');
  }
  for (const d of [root, native]) await writeFile(join(d, 'pkg/core/src/util/new.ts'), 'new\n');
  assert.equal(await status(root), '?? pkg/core/src/util/new.ts\0');
  assert.equal(await status(root), await status(native));
  for (const d of [root, native]) await writeFile(join(d, 'pkg/core/src/util/deep.ts'), 'edited\n');
  assert.equal(await status(root), await status(native));
  for (const d of [root, native]) await rm(join(d, 'pkg/core/src/util/new.ts'));
  assert.equal(await status(root), ' M pkg/core/src/util/deep.ts\0');
});

test('after a daemon restart the hook answers "everything" and status is still right', fuseTest, async (t) => {
  const { root, native, hook, restart } = await setup(t);
  await status(root);
  const before = await currentToken(hook);
  await edit(root);
  await edit(native);
  const expected = await status(native);
  assert.equal(await status(root), expected);
  await restart();
  const [token = "", everything] = await askHook(hook, before);
  assert.notEqual(token, before, 'a new boot has a new token');
  assert.equal(everything, '/');
  assert.equal(await status(root), expected);
  for (const d of [root, native]) await writeFile(join(d, 'docs.md'), 'changed after the restart\n');
  assert.equal(await status(root), await status(native));
  assert.deepEqual((await askHook(hook, token)).slice(1), ['docs.md']);
});

test('nothing changed: git status lists no directory and fetches no blob', fuseTest, async (t) => {
  const { root, server, daemon } = await setup(t);
  server.resetStats();
  await status(root); // first status: git's token is unknown, so it checks everything once
  await status(root);
  const before = await requestCounts(daemon());
  assert.equal(await status(root), '');
  const after = await requestCounts(daemon());
  assert.equal(listings(before, after), 0, `status listed directories: ${JSON.stringify({ before, after })}`);
  assert.equal(server.stats.fetchRequests, 0, 'status fetched a blob');
  // The control: without the hook and the untracked cache, the same status lists every directory
  // (so the count can fail).
  await git(root, '-c', 'core.fsmonitor=false', '-c', 'core.untrackedCache=false', 'status', '--porcelain');
  const control = await requestCounts(daemon());
  assert.ok(listings(after, control) >= 6, `the control status listed ${listings(after, control)} directories`);
  assert.equal(server.stats.fetchRequests, 0);
});

test('the first status after add-repo re-checks no entry (pristine mount); after changes and a restart it re-checks them all, once', fuseTest, async (t) => {
  const { root, server, hook, restart, daemon } = await setup(t);
  const trace = join(root, '..', '..', 'fsmonitor.trace');
  server.resetStats();
  const before = await requestCounts(daemon());
  const first = await tracedStatus(root, trace);
  const after = await requestCounts(daemon());
  assert.equal(first.out, '');
  assert.match(first.trace, /read fsmonitor extension successful 'afs-add-repo'/);
  assert.equal(rechecked(first.trace), 0, first.trace);
  const lookups = (after.FUSE_LOOKUP ?? 0) - (before.FUSE_LOOKUP ?? 0);
  assert.ok(lookups < Object.keys(FILES).length, `${lookups} lookups: git lstat'ed the tracked files`);
  assert.equal(server.stats.fetchRequests, 0);
  // A restart with nothing changed: still pristine, still cheap.
  await restart();
  assert.equal(rechecked((await tracedStatus(root, trace)).trace), 0);
  // A change, then a restart: the mount is no longer pristine, git's token is unknown: "/".
  await writeFile(join(root, 'src/a.ts'), 'export const a = 5;\n');
  await restart();
  assert.deepEqual((await askHook(hook, 'afs-add-repo')).slice(1), ['/']);
  const full = await tracedStatus(root, trace);
  assert.equal(full.out, ' M src/a.ts\0');
  assert.ok(rechecked(full.trace) >= Object.keys(FILES).length - 1, full.trace);
  assert.equal(rechecked((await tracedStatus(root, trace)).trace), 0, 'the next status is cheap again');
});
