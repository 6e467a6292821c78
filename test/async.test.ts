// add-repo --async end to end: a real daemon, real gated FUSE mount, real git server held,
// failing and healed (docs/async-add-repo.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afs, startDaemon, type CliResult } from './support/cli.js';
import { cliStatus, isMounted, liveStatus, waitFor } from './support/control.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { makeRepo } from './support/git-fixtures.js';
import { startGitServer } from './support/git-server.js';

const SECRET = 'pw-Zq81xK-async';
const FILES = { 'a.txt': 'alpha\n', 'dir/b.txt': 'beta\n', '.gitignore': '*.log\n' };

async function setup(t: import('node:test').TestContext) {
  const dir = await tempDir(t, 'afs-async-');
  await makeRepo(join(dir, 'remote'), FILES, { name: 'src' });
  const server = await startGitServer({ root: join(dir, 'remote'), basicAuth: { user: 'u', password: SECRET } });
  defer(t, () => server.close());
  defer(t, () => server.release());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const url = server.url('src').replace('http://', `http://u:${SECRET}@`);
  const outputs: CliResult[] = [];
  const cli = async (args: string[]) => {
    const r = await afs(state, args);
    outputs.push(r);
    return r;
  };
  const daemons: Array<ReturnType<typeof startDaemon>> = [];
  // Runs after the daemons stop: no mount outlives the test, even after a SIGKILL.
  defer(t, async () => {
    for (const name of await readdir(mnt).catch(() => [] as string[])) if (await isMounted(join(mnt, name))) spawnSync('umount', ['-l', join(mnt, name)]);
  });
  defer(t, () => Promise.all(daemons.map((d) => d.stop())));
  const start = async () => {
    const d = startDaemon(state);
    daemons.push(d);
    await waitFor(() => stat(join(state, 'daemon.sock')).then(() => true, () => false), (ok) => ok, 10_000, 'the control socket');
    return d;
  };
  /** Everything anyone could read the secret from: CLI output, daemon logs, the registry files, the git config. */
  const assertNoSecret = async () => {
    for (const o of outputs) assert.ok(!(o.stdout + o.stderr).includes(SECRET), 'secret in CLI output');
    for (const d of daemons) assert.ok(!d.log().includes(SECRET), 'secret in the daemon log');
    for (const f of await readdir(state)) {
      if (f.startsWith('registry.db')) assert.ok(!(await readFile(join(state, f))).includes(SECRET), `secret in ${f}`);
    }
    const config = await readFile(join(state, 'repos', 'r', 'work', '.git', 'config'), 'utf8').catch(() => '');
    assert.ok(!config.includes(SECRET), 'secret in the git config');
  };
  return { dir, server, state, mnt, url, cli, start, assertNoSecret };
}

/** The daemon mounted `repo` exactly once and never unmounted it (mount ids are recycled, so the log is the proof). */
function assertMountedOnce(log: string, repo: string): void {
  const lines = log.split('\n').filter((l) => l.includes(`"repo":"${repo}"`));
  assert.equal(lines.filter((l) => l.includes('"msg":"mounted (gated until prepared)"')).length, 1, log);
  assert.equal(lines.filter((l) => l.includes('"msg":"unmounted"')).length, 0, log);
}

function run(cmd: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((r) => child.on('close', (code, signal) => r({ code, signal, stdout, stderr })));
  return { child, done };
}

const still = async (p: Promise<unknown>, ms: number) => (await Promise.race([p.then(() => 'done'), new Promise((r) => setTimeout(() => r('running'), ms))])) === 'running';

test('add-repo --async returns at once; the gated mount blocks until prepared, honours interrupts, opens without a remount', fuseTest, async (t) => {
  const { server, state, mnt, url, cli, start, assertNoSecret } = await setup(t);
  const mp = join(mnt, 'r');
  const daemon = await start();
  server.hold();

  const t0 = performance.now();
  const add = await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--mount-root', mnt]);
  const addMs = performance.now() - t0;
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, 'queued r\n');
  assert.equal(add.stderr, '');
  const t1 = performance.now();
  await waitFor(() => isMounted(mp), (m) => m, 5000, 'the gated mount');
  const mountMs = performance.now() - t1;
  t.diagnostic(`add-repo --async returned in ${addMs.toFixed(0)} ms (process start to exit); gated mount ${mountMs.toFixed(0)} ms after it returned`);
  assert.ok(addMs < 300, `add-repo --async took ${addMs.toFixed(0)} ms`);
  assert.ok(mountMs < 1000, `the gated mount took ${mountMs.toFixed(0)} ms`);
  assert.ok((await stat(mp)).isDirectory(), 'stat of the mount root works while preparing');
  await server.waitForHeld(1);
  const s = await liveStatus(state, 'r');
  assert.equal(s.state, 'preparing');
  assert.equal(s.prepare_state, 'preparing');
  assert.equal(s.prepare_error, '');
  assert.equal(s.head, '');

  const ls = run('ls', [mp]);
  const cat = run('cat', [join(mp, 'dir', 'b.txt')]);
  const interrupted = run('cat', [join(mp, 'a.txt')]);
  assert.ok(await still(ls.done, 400), 'ls blocks while preparing');
  assert.ok(await still(cat.done, 1), 'a read blocks while preparing');
  // A blocked request the process is interrupted out of ends at once (FUSE_INTERRUPT → EINTR);
  // without an answer from the daemon the kernel would keep the killed process waiting.
  const tInt = performance.now();
  interrupted.child.kill('SIGINT');
  const int = await interrupted.done;
  const intMs = performance.now() - tInt;
  t.diagnostic(`an interrupted blocked read ended ${intMs.toFixed(0)} ms after SIGINT`);
  assert.equal(int.signal, 'SIGINT');
  assert.ok(intMs < 1000, `interrupted read took ${intMs.toFixed(0)} ms to end`);
  assert.ok(await still(ls.done, 1), 'ls still blocked');

  const tRel = performance.now();
  server.release();
  const [l, c] = await Promise.all([ls.done, cat.done]);
  t.diagnostic(`blocked ls returned ${(performance.now() - tRel).toFixed(0)} ms after the server was released`);
  assert.equal(l.code, 0, l.stderr);
  assert.deepEqual(l.stdout.split('\n').filter(Boolean), ['a.txt', 'dir']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, 'beta\n');
  assert.equal(await readFile(join(mp, 'a.txt'), 'utf8'), 'alpha\n');
  // The ls blocked since before the release succeeded on the same mount (a remount would have
  // ended its request with the old session), and the daemon never unmounted.
  assertMountedOnce(daemon.log(), 'r');
  assert.match(daemon.log(), /"msg":"gate opened".*"released":[1-9]/);
  const git = spawnSync('git', ['-C', mp, 'status', '--porcelain'], { encoding: 'utf8' });
  assert.equal(git.status, 0, git.stderr);
  assert.equal(git.stdout, '', 'git sees a clean work tree');

  const done = await cliStatus(state, 'r');
  assert.equal(done.state, 'mounted');
  assert.equal(done.prepare_state, 'ready');
  assert.match(String(done.head), /^[0-9a-f]{40}$/);
  assert.equal((await stat(join(state, 'repos', 'r', 'credentials'))).mode & 0o777, 0o600);
  // Idempotent on a ready repo.
  const again = await cli(['prepare', '--name', 'r']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'ready r\n');
  await assertNoSecret();
});

test('a failed preparation: state=failed with one redacted line, EIO in the mount, then prepare retries without a remount', fuseTest, async (t) => {
  const { server, state, mnt, url, cli, start, assertNoSecret } = await setup(t);
  const mp = join(mnt, 'r');
  const daemon = await start();
  server.failWith(500);
  const add = await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--mount-root', mnt]);
  assert.equal(add.code, 0, add.stderr);
  const failed = await waitFor(() => cliStatus(state, 'r'), (s) => s.state === 'failed', 15_000, 'state=failed');
  t.diagnostic(`prepare_error=${String(failed.prepare_error)}`);
  assert.equal(failed.prepare_state, 'failed');
  assert.match(String(failed.prepare_error), /500|unable to access|cannot reach/);
  assert.ok(!String(failed.prepare_error).includes('\n'));
  assert.match(String(failed.prepare_error), /127\.0\.0\.1/, 'says which remote');
  const line = (await cli(['status', '--name', 'r'])).stdout;
  assert.match(line, /^repo=r state=failed head= ref= .* prepare_error="[^"\n]+" /);

  await waitFor(() => isMounted(mp), (m) => m, 5000, 'the gated mount');
  assert.ok((await stat(mp)).isDirectory(), 'the root still answers');
  await assert.rejects(readFile(join(mp, 'a.txt')), /EIO/);
  const ls = spawnSync('ls', [mp], { encoding: 'utf8' });
  assert.notEqual(ls.status, 0);
  assert.match(ls.stderr, /Input\/output error/);
  const fetch = await cli(['fetch', '--name', 'r']);
  assert.equal(fetch.code, 1);
  assert.match(fetch.stderr, /cannot fetch r: its preparation failed/);

  server.failWith(undefined);
  const retry = await cli(['prepare', '--name', 'r']);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /^(preparing|queued|ready) r\n$/);
  await waitFor(() => readFile(join(mp, 'a.txt'), 'utf8').catch((e: Error) => e.message), (v) => v === 'alpha\n', 15_000, 'the retried repo to be readable');
  assertMountedOnce(daemon.log(), 'r');
  const ok = await cliStatus(state, 'r');
  assert.equal(ok.state, 'mounted');
  assert.equal(ok.prepare_error, '');
  assert.match(daemon.log(), /"preparation failed"/);
  await assertNoSecret();
});

test('a daemon stopped or killed while preparing: the next one resumes the preparation and completes it', fuseTest, async (t) => {
  const { server, state, mnt, url, cli, start, assertNoSecret } = await setup(t);
  const mp = join(mnt, 'r');
  const zeroth = await start();
  server.hold();
  assert.equal((await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--mount-root', mnt])).code, 0);
  await server.waitForHeld(1);
  // A clean stop never waits for the stalled clone: it is aborted and the repo goes back to the queue.
  const tStop = performance.now();
  assert.equal(await zeroth.stop(), 0);
  t.diagnostic(`daemon stop with a preparation stalled: ${(performance.now() - tStop).toFixed(0)} ms`);
  assert.ok(performance.now() - tStop < 3000);
  assert.equal(await isMounted(mp), false, 'the gated mount went with the daemon');
  const queued = await cliStatus(state, 'r');
  assert.equal(queued.prepare_state, 'queued');
  assert.equal(queued.state, 'unmounted');

  const first = await start();
  await server.waitForHeld(2);
  assert.equal((await liveStatus(state, 'r')).prepare_state, 'preparing');
  first.child.kill('SIGKILL');
  await first.exited;
  const stale = await cliStatus(state, 'r');
  assert.equal(stale.prepare_state, 'preparing', 'the registry still says preparing: nobody reset it');

  await assert.rejects(stat(mp), /ENOTCONN/, 'the dead daemon left its mount');
  const second = await start();
  // The dead mount is replaced by a live gated one: its root answers again.
  await waitFor(() => stat(mp).then((st) => st.isDirectory(), () => false), (ok) => ok, 10_000, 'the gated mount, replacing the dead one');
  assert.match(second.log(), /resuming interrupted preparations/);
  await server.waitForHeld(3); // the aborted clone's request, the dead daemon's clone, and this one
  server.release();
  await waitFor(() => readFile(join(mp, 'dir', 'b.txt'), 'utf8').catch((e: Error) => e.message), (v) => v === 'beta\n', 20_000, 'the resumed repo to be readable');
  const s = await liveStatus(state, 'r');
  assert.equal(s.state, 'mounted');
  assert.equal(s.prepare_state, 'ready');
  assert.deepEqual((await readdir(join(state, 'repos'))).filter((n) => n.startsWith('.prepare-')), [], 'no work dir left');
  assert.equal(await second.stop(), 0);
  await assertNoSecret();
});

test('add-repo --async validates at once (bad flags, a duplicate name: exit 2); without a daemon: queued in the registry', fuseTest, async (t) => {
  const { state, mnt, url, cli } = await setup(t);
  const bad = await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--depth', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^artifact-fs: invalid --depth '0'/);
  assert.equal((await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--mount-root', mnt])).code, 0);
  const dup = await cli(['add-repo', '--async', '--name', 'r', '--remote', url]);
  assert.equal(dup.code, 2);
  assert.equal(dup.stderr, "artifact-fs: repo 'r' already exists (remove-repo first)\n");
  const s = await cliStatus(state, 'r');
  assert.equal(s.state, 'unmounted', 'no daemon: nobody prepares it');
  assert.equal(s.prepare_state, 'queued');
  assert.equal(s.head, '');
  const list = await cli(['list-repos']);
  assert.equal(list.stdout, `r\t\t${join(mnt, 'r')}\t${url.replace(`u:${SECRET}@`, '')}\n`);
  const p = await cli(['prepare', '--name', 'r']);
  assert.equal(p.code, 0);
  assert.equal(p.stdout, 'queued r\n');
  assert.match(p.stderr, /no daemon is running; recorded in the registry/);
  const badDir = await cli(['add-repo', '--async', '--name', 'p', '--prepared-gitdir', '--git-dir', join(mnt, 'nope')]);
  assert.equal(badDir.code, 2, 'a prepared git dir is checked before the command returns');
  assert.match(badDir.stderr, /is not a directory/);
  const rm = await cli(['remove-repo', '--name', 'r', '--purge']);
  assert.equal(rm.code, 0, rm.stderr);
});

test('add-repo --async --prepared-gitdir: credentials in the prepared dir\'s origin URL are split off; the daemon copies and fetches', fuseTest, async (t) => {
  const { dir, server, state, mnt, url, cli, start, assertNoSecret } = await setup(t);
  const cache = join(dir, 'ci-cache.git');
  const clone = await run('git', ['clone', '-q', '--bare', '--filter=blob:none', url, cache]).done; // not spawnSync: the server runs in this process
  assert.equal(clone.code, 0, clone.stderr);
  await start();
  server.hold();
  const add = await cli(['add-repo', '--async', '--name', 'r', '--prepared-gitdir', '--git-dir', cache, '--fetch-ref', 'main', '--mount-root', mnt]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, 'queued r\n');
  await server.waitForHeld(1);
  server.release();
  await waitFor(() => readFile(join(mnt, 'r', 'a.txt'), 'utf8').catch((e: Error) => e.message), (v) => v === 'alpha\n', 15_000, 'the prepared repo');
  const s = await liveStatus(state, 'r');
  assert.equal(s.ref, 'main');
  assert.equal((await readFile(join(state, 'repos', 'r', 'credentials'), 'utf8')), `username=u\npassword=${SECRET}\n`);
  await assertNoSecret();
});

test('remove-repo while preparing aborts the preparation and unmounts the gated mount', fuseTest, async (t) => {
  const { server, state, mnt, url, cli, start } = await setup(t);
  const mp = join(mnt, 'r');
  const daemon = await start();
  server.hold();
  assert.equal((await cli(['add-repo', '--async', '--name', 'r', '--remote', url, '--mount-root', mnt])).code, 0);
  await server.waitForHeld(1);
  await waitFor(() => isMounted(mp), (m) => m, 5000, 'the gated mount');
  const blocked = run('ls', [mp]);
  const t0 = performance.now();
  const rm = await cli(['remove-repo', '--name', 'r', '--purge']);
  const rmMs = performance.now() - t0;
  t.diagnostic(`remove-repo with a process blocked in the gated mount: ${rmMs.toFixed(0)} ms`);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(await isMounted(mp), false);
  assert.ok(rmMs < 2000, 'blocked requests do not hold the unmount');
  const ls = await blocked.done;
  assert.notEqual(ls.code, 0, 'the blocked ls failed when its mount went away');
  await waitFor(async () => daemon.log(), (l) => l.includes('"preparation interrupted"'), 5000, 'the preparation to stop');
  await waitFor(() => readdir(join(state, 'repos')), (names) => !names.some((n) => n === 'r' || n.startsWith('.prepare-')), 5000, 'no data left');
  assert.equal((await cli(['status', '--name', 'r'])).code, 1);
});
