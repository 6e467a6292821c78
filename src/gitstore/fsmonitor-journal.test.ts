import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsmonitorJournal, fsmonitorHookScript } from './fsmonitor-journal.js';

function setup(t: import('node:test').TestContext, dirName = 'fsm') {
  const dir = mkdtempSync(join(tmpdir(), 'afs-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sub = join(dir, dirName);
  mkdirSync(sub);
  const journal = join(sub, 'journal');
  const hook = join(sub, 'hook');
  writeFileSync(hook, fsmonitorHookScript(journal));
  chmodSync(hook, 0o755);
  return { dir: sub, journal, hook };
}

/** Runs the hook with a shell as git would run it; returns [token, ...paths]. */
function ask(hook: string, token: string, shell = '/bin/sh', version = '2'): string[] {
  const out = execFileSync(shell, [hook, version, token]).toString('utf8');
  assert.ok(out.endsWith('\0'), `hook output not NUL-terminated: ${JSON.stringify(out)}`);
  return out.slice(0, -1).split('\0');
}

test('a journal starts with its token; paths are recorded once per boot, NUL-terminated', (t) => {
  const { journal } = setup(t);
  const j = FsmonitorJournal.open(journal);
  t.after(() => j.close());
  assert.match(j.token, /^afs-[0-9a-f]{16}$/);
  j.record(['a.txt', 'dir/']);
  j.record(['a.txt', 'b', 'dir/', 'b']);
  j.record([]);
  assert.equal(readFileSync(journal, 'utf8'), `${j.token}\na.txt\0dir/\0b\0`);
  assert.equal(j.size, 3);
});

test('the hook answers the paths since the boot for its token, "/" for any other, under dash and bash', (t) => {
  const { journal, hook } = setup(t, "state dir with 'quote' and space");
  const j = FsmonitorJournal.open(journal);
  t.after(() => j.close());
  const odd = ['with space.txt', 'new\nline/file', 'tab\there', 'ünïcødé/', '-n', '\\backslash', '%s'];
  j.record(odd);
  for (const shell of ['/bin/sh', '/bin/bash']) {
    assert.deepEqual(ask(hook, j.token, shell), [j.token, ...odd], shell);
    assert.deepEqual(ask(hook, 'afs-0000000000000000', shell), [j.token, '/'], `${shell}: old token`);
    assert.deepEqual(ask(hook, '1795316746327555891', shell), [j.token, '/'], `${shell}: git's initial token`);
    assert.deepEqual(ask(hook, '', shell), [j.token, '/'], `${shell}: empty token`);
  }
  // Protocol v1 is not spoken: failure, which git answers by re-checking everything.
  assert.notEqual(spawnSync('/bin/sh', [hook, '1', '0']).status, 0);
});

test('an empty journal answers its token and no path', (t) => {
  const { journal, hook } = setup(t);
  const j = FsmonitorJournal.open(journal);
  t.after(() => j.close());
  assert.equal(execFileSync('/bin/sh', [hook, '2', j.token]).toString(), `${j.token}\0`);
});

test('no journal (no daemon): the hook answers "none" and "/"', (t) => {
  const { hook } = setup(t);
  const r = spawnSync('/bin/sh', [hook, '2', 'afs-0123456789abcdef']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.toString(), 'none\0/\0');
  assert.equal(r.stderr.toString(), '', 'git shows a hook\'s stderr to the user');
});

test('compaction: past the path limit a new boot starts; the old token gets "/"', (t) => {
  const { journal, hook } = setup(t);
  const j = FsmonitorJournal.open(journal, { maxPaths: 3 });
  t.after(() => j.close());
  j.record(['a', 'b', 'c']);
  const first = j.token;
  assert.deepEqual(ask(hook, first), [first, 'a', 'b', 'c']);
  j.record(['a']); // already recorded in this boot: no growth, no new boot
  assert.equal(j.token, first);
  j.record(['d']);
  assert.notEqual(j.token, first);
  assert.deepEqual(ask(hook, first), [j.token, '/']);
  assert.deepEqual(ask(hook, j.token), [j.token, 'd']);
  j.record(['a']); // recorded again: a new boot forgets the old one's paths
  assert.deepEqual(ask(hook, j.token), [j.token, 'd', 'a']);
});

test('compaction by size', (t) => {
  const { journal } = setup(t);
  const j = FsmonitorJournal.open(journal, { maxBytes: 64 });
  t.after(() => j.close());
  j.record(['x'.repeat(30)]);
  const first = j.token;
  j.record(['y'.repeat(30)]);
  assert.notEqual(j.token, first);
  assert.equal(readFileSync(journal, 'utf8'), `${j.token}\n${'y'.repeat(30)}\0`);
});

test('a new daemon boot replaces a journal left behind; close removes it', (t) => {
  const { journal, hook } = setup(t);
  const old = FsmonitorJournal.open(journal);
  old.record(['left-behind']);
  const oldToken = old.token; // the daemon dies without close()
  const j = FsmonitorJournal.open(journal);
  assert.notEqual(j.token, oldToken);
  assert.deepEqual(ask(hook, oldToken), [j.token, '/']);
  j.close();
  j.close();
  assert.equal(existsSync(journal), false);
  j.record(['after-close']);
  assert.equal(existsSync(journal), false);
  assert.deepEqual(ask(hook, j.token), ['none', '/']);
});

test('paths that cannot be journaled are skipped: empty, NUL inside', (t) => {
  const { journal } = setup(t);
  const j = FsmonitorJournal.open(journal);
  t.after(() => j.close());
  j.record(['', 'a\0b', 'ok']);
  assert.equal(readFileSync(journal, 'utf8'), `${j.token}\nok\0`);
});

test('a journal that cannot be written is removed (the hook answers "/"), warns once, and recovers with a new boot', (t) => {
  const { dir, journal, hook } = setup(t);
  const warnings: string[] = [];
  const j = FsmonitorJournal.open(journal, { log: (_l, m) => warnings.push(m), maxPaths: 2 });
  t.after(() => j.close());
  const first = j.token;
  j.record(['a', 'b']);
  // The next path needs a new boot, which fails: the journal's directory is gone.
  rmSync(dir, { recursive: true });
  j.record(['c']);
  j.record(['d']);
  assert.equal(j.token, '');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  mkdirSync(dir);
  writeFileSync(hook, fsmonitorHookScript(journal));
  chmodSync(hook, 0o755);
  j.record(['b']);
  assert.notEqual(j.token, '');
  assert.notEqual(j.token, first);
  assert.deepEqual(ask(hook, first), [j.token, '/']);
  assert.deepEqual(ask(hook, j.token), [j.token, 'b']);
});

test('a pristine boot answers any token with its journal; the next boot (compaction) is not pristine', (t) => {
  const { journal, hook } = setup(t);
  const j = FsmonitorJournal.open(journal, { pristine: true, maxPaths: 2 });
  t.after(() => j.close());
  for (const shell of ['/bin/sh', '/bin/bash']) {
    assert.deepEqual(ask(hook, 'afs-add-repo', shell), [j.token], shell);
    assert.deepEqual(ask(hook, '', shell), [j.token], shell);
  }
  j.record(['a', 'b']);
  assert.deepEqual(ask(hook, '1795316746327555891'), [j.token, 'a', 'b']);
  const first = j.token;
  j.record(['c']); // compaction: changes happened before this boot, so it cannot be pristine
  assert.notEqual(j.token, first);
  assert.deepEqual(ask(hook, 'afs-add-repo'), [j.token, '/']);
  assert.deepEqual(ask(hook, j.token), [j.token, 'c']);
  assert.equal(readFileSync(journal, 'utf8'), `${j.token}\nc\0`);
});
