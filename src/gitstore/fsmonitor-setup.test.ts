// The hook protocol against real git (2.39) in a native checkout: git trusts the journal, so a
// change nobody journaled stays invisible until a new boot (which proves the hook is what git
// asks), and every journaled change is seen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, chmodSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsmonitorJournal } from './fsmonitor-journal.js';
import { writeIndex } from './index-writer.js';
import { asOid } from '../model/ids.js';
import { fsmonitorConfig, hookCommand, setUpFsmonitor } from './fsmonitor-setup.js';

function repo(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'afs-fsm setup '));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const work = join(dir, 'work');
  const git = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args]).toString();
  mkdirSync(join(work, 'src/lib'), { recursive: true });
  writeFileSync(join(work, 'README.md'), '# r\n');
  writeFileSync(join(work, 'src/a.ts'), 'a\n');
  writeFileSync(join(work, 'src/lib/b.ts'), 'b\n');
  execFileSync('git', ['init', '-q', work]);
  git('add', '-A');
  git('commit', '-qm', 'c');
  const files = { hook: join(dir, 'fsmonitor', 'hook'), journal: join(dir, 'fsmonitor', 'journal') };
  return { work, git, gitDir: join(work, '.git'), files };
}

const status = (git: (...a: string[]) => string) => git('status', '--porcelain=v1', '-z').split('\0').filter(Boolean).sort();

test('setUpFsmonitor writes the hook and config once; a second run changes nothing', async (t) => {
  const { gitDir, git, files } = repo(t);
  await setUpFsmonitor(gitDir, files);
  const want = fsmonitorConfig(files.hook);
  for (const [k, v] of Object.entries(want)) assert.equal(git('config', '--local', k).trim(), v);
  assert.equal(want['core.fsmonitor'], hookCommand(files.hook));
  assert.match(want['core.fsmonitor']!, /^'.* .*'$/, 'a path with a space is quoted for the shell git runs it with');
  assert.equal(statSync(files.hook).mode & 0o777, 0o755);
  const before = [statSync(join(gitDir, 'config')).mtimeMs, statSync(files.hook).mtimeMs];
  await new Promise((r) => setTimeout(r, 20));
  await setUpFsmonitor(gitDir, files);
  assert.deepEqual([statSync(join(gitDir, 'config')).mtimeMs, statSync(files.hook).mtimeMs], before);
  assert.equal(hookCommand('/var/lib/artifact-fs/repos/r/fsmonitor/hook'), '/var/lib/artifact-fs/repos/r/fsmonitor/hook');
});

test('git status follows the journal: journaled changes are seen, unjournaled ones only after a new boot', async (t) => {
  const { work, git, gitDir, files } = repo(t);
  await setUpFsmonitor(gitDir, files);
  let j = FsmonitorJournal.open(files.journal);
  t.after(() => j.close());
  assert.deepEqual(status(git), []); // first query: git's own token, answered with "/"
  assert.deepEqual(status(git), []);

  writeFileSync(join(work, 'README.md'), '# changed behind the journal\n');
  assert.deepEqual(status(git), [], 'git trusts the hook: an unjournaled change is not seen');

  writeFileSync(join(work, 'src/a.ts'), 'a2\n');
  j.record(['src/a.ts']);
  mkdirSync(join(work, 'deep/er/est'), { recursive: true });
  writeFileSync(join(work, 'deep/er/est/new file.txt'), 'n\n');
  j.record(['deep/', 'deep/er/', 'deep/er/est/', 'deep/er/est/new file.txt']);
  renameSync(join(work, 'src/lib'), join(work, 'lib2'));
  j.record(['src/lib/', 'lib2/']);
  chmodSync(join(work, 'src/a.ts'), 0o755);
  j.record(['src/a.ts']);
  assert.deepEqual(status(git), [' D src/lib/b.ts', ' M src/a.ts', '?? deep/', '?? lib2/']);
  assert.deepEqual(git('status', '--porcelain=v1', '-z', '-uall').split('\0').filter(Boolean).sort(),
    [' D src/lib/b.ts', ' M src/a.ts', '?? deep/er/est/new file.txt', '?? lib2/b.ts']);

  j = FsmonitorJournal.open(files.journal); // a daemon restart: git's token is now unknown
  assert.deepEqual(status(git), [' D src/lib/b.ts', ' M README.md', ' M src/a.ts', '?? deep/', '?? lib2/']);
  assert.ok(readFileSync(join(gitDir, 'index')).includes('UNTR'), 'git keeps an untracked cache in the index');
});

test('an index written with an fsmonitor token and a pristine journal: the first status lstat\'s no entry', async (t) => {
  const { work, git, gitDir, files } = repo(t);
  await setUpFsmonitor(gitDir, files);
  // Our own index of HEAD (times and inodes that match nothing on disk) with the fsmonitor extension.
  const entries = git('ls-files', '-s', '-z').split('\0').filter(Boolean).map((l, i) => {
    const [meta, path] = l.split('\t') as [string, string];
    const [mode, oid] = meta.split(' ') as [string, string];
    return { path, mode: parseInt(mode, 8), oid: asOid(oid), size: statSync(join(work, path)).size, ino: 1000 + i };
  });
  await writeIndex(gitDir, entries, { time: 1_700_000_000, uid: 0, gid: 0, fsmonitorToken: 'afs-add-repo' });
  writeFileSync(join(work, 'README.md'), '# changed, but nobody journaled it\n');
  const j = FsmonitorJournal.open(files.journal, { pristine: true });
  t.after(() => j.close());
  const trace = join(work, '..', 'trace');
  execFileSync('git', ['-C', work, 'status', '--porcelain'], { env: { ...process.env, GIT_TRACE_FSMONITOR: trace } });
  const log = readFileSync(trace, 'utf8');
  assert.match(log, /read fsmonitor extension successful 'afs-add-repo'/);
  assert.doesNotMatch(log, /mark_fsmonitor_clean/, 'git re-checked an entry');
  assert.deepEqual(status(git), [], 'git trusted the extension and the hook');
  // Not pristine (a daemon that found changes): the same index makes git check everything.
  await writeIndex(gitDir, entries, { time: 1_700_000_000, uid: 0, gid: 0, fsmonitorToken: 'afs-add-repo' });
  const k = FsmonitorJournal.open(files.journal);
  t.after(() => k.close());
  assert.deepEqual(status(git), [' M README.md']);
});

test('fsmonitorWanted: forced by ARTIFACT_FS_FSMONITOR, else only for git >= 2.44 (the check_removed fix)', async () => {
  const { fsmonitorWanted } = await import('./fsmonitor-setup.js');
  const saved = process.env.ARTIFACT_FS_FSMONITOR;
  try {
    process.env.ARTIFACT_FS_FSMONITOR = 'on';
    assert.equal(await fsmonitorWanted(), true);
    process.env.ARTIFACT_FS_FSMONITOR = 'off';
    assert.equal(await fsmonitorWanted(), false);
    delete process.env.ARTIFACT_FS_FSMONITOR;
    const [, major, minor] = /(\d+)\.(\d+)/.exec((await import('node:child_process')).execFileSync('git', ['--version']).toString())!;
    assert.equal(await fsmonitorWanted(), Number(major) > 2 || (Number(major) === 2 && Number(minor) >= 44));
  } finally {
    if (saved === undefined) delete process.env.ARTIFACT_FS_FSMONITOR;
    else process.env.ARTIFACT_FS_FSMONITOR = saved;
  }
});
