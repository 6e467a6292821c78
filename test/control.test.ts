// The CLI ↔ daemon control socket end to end: a real daemon, real socket, real git server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afs, startDaemon } from './support/cli.js';
import { cliStatus, isMounted, liveStatus, sampleStatus, waitFor } from './support/control.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { makeRepo } from './support/git-fixtures.js';
import { startGitServer } from './support/git-server.js';

async function setup(t: import('node:test').TestContext, files: Record<string, string | Buffer>, names: string[] = ['r'], addArgs: string[] = []) {
  const dir = await tempDir(t, 'afs-ctl-');
  await makeRepo(join(dir, 'remote'), files, { name: 'src' });
  const server = await startGitServer({ root: join(dir, 'remote') });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  for (const name of names) {
    const add = await afs(state, ['add-repo', '--name', name, '--remote', server.url('src'), '--mount-root', mnt, ...addArgs]);
    assert.equal(add.code, 0, add.stderr);
  }
  // Last line of defence (runs after the daemons stop): no mount outlives the test, even when a
  // test killed its daemon with SIGKILL and failed before a new one replaced the dead mount.
  defer(t, async () => {
    for (const name of names) if (await isMounted(join(mnt, name))) spawnSync('umount', ['-l', join(mnt, name)]);
  });
  const daemons: Array<ReturnType<typeof startDaemon>> = [];
  defer(t, () => Promise.all(daemons.map((d) => d.stop())));
  const start = (args: string[] = [], env: Record<string, string> = {}) => {
    const d = startDaemon(state, args, env);
    daemons.push(d);
    return d;
  };
  return { dir, server, state, mnt, start };
}

test('live status through the socket answers in < 100 ms while hydration runs', fuseTest, async (t) => {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 6000; i++) files[`d${i % 60}/f${i}.bin`] = randomBytes(4096);
  const { server, state, mnt, start } = await setup(t, files);
  server.setLatency(150);
  const daemon = start(['--hydration-concurrency', '2'], { ARTIFACT_FS_LOG: 'debug' });
  await daemon.waitMounted(join(mnt, 'r'));
  const samples = await sampleStatus(join(state, 'daemon.sock'), 'r');
  const last = samples[samples.length - 1]!;
  assert.equal(last.total, 6000);
  assert.equal(last.hydrated, 6000, 'hydration finished while sampling');
  const during = samples.filter((s) => s.hydrated < s.total).map((s) => s.ms);
  assert.ok(during.length >= 5, `only ${during.length} samples while hydration ran`);
  const sorted = [...during].sort((a, b) => a - b);
  const p50 = sorted[Math.floor(sorted.length / 2)]!;
  const p95 = sorted[Math.floor(sorted.length * 0.95)]!;
  const max = sorted[sorted.length - 1]!;
  assert.ok(samples.every((s) => s.source === 'daemon' && s.state === 'mounted'));
  // The daemon's own time per status (debug log), to tell a slow op from a busy event loop.
  const opMs = daemon.log().split('\n').filter((l) => l.includes('"control request"')).map((l) => (JSON.parse(l) as { ms: number }).ms).sort((a, b) => a - b);
  t.diagnostic(`status over the socket during hydration: ${during.length} samples, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${max.toFixed(1)} ms; in the daemon p50 ${opMs[Math.floor(opMs.length / 2)]} ms, max ${opMs[opMs.length - 1]} ms`);
  // The goal is < 100 ms; the 95th percentile is asserted because on a shared 2-CPU machine a
  // single sample can lose the CPU for longer (the max is reported above, and bounded here).
  assert.ok(p95 < 100, `95th percentile of live status: ${p95.toFixed(1)} ms`);
  assert.ok(max < 500, `slowest live status took ${max.toFixed(1)} ms`);
  // The whole CLI (node start-up included), for the record.
  const t0 = performance.now();
  const cli = await afs(state, ['status', '--name', 'r']);
  t.diagnostic(`artifact-fs status (process start to exit): ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stderr, '', 'no note when the daemon answered');
  assert.match(cli.stdout, /^repo=r state=mounted head=[0-9a-f]{40} ref=main ahead=0 behind=0 diverged=false last_fetch=\S+ result=ok prepare_error= hydrated_blobs=6000 /);
});

test('unmount and remount act at once on a running daemon and survive restarts', fuseTest, async (t) => {
  const { state, mnt, start } = await setup(t, { 'a.txt': 'a\n' });
  const mp = join(mnt, 'r');
  let daemon = start();
  await daemon.waitMounted(mp);
  assert.equal((await stat(join(state, 'daemon.sock'))).mode & 0o777, 0o600, 'socket is 0600');

  let t0 = Date.now();
  const un = await afs(state, ['unmount', '--name', 'r']);
  assert.equal(un.code, 0, un.stderr);
  assert.equal(un.stdout, 'unmounted r\n');
  assert.equal(un.stderr, '');
  assert.equal(await isMounted(mp), false, 'gone when the command returns');
  assert.ok(Date.now() - t0 < 1000, `unmount took ${Date.now() - t0} ms`);
  assert.equal((await liveStatus(state, 'r')).state, 'unmounted');
  await new Promise((r) => setTimeout(r, 1500)); // three reconcile passes
  assert.equal(await isMounted(mp), false, 'the reconcile loop does not mount it back');

  assert.equal(await daemon.stop(), 0);
  await assert.rejects(stat(join(state, 'daemon.sock')), /ENOENT/, 'a stopped daemon removes its socket');
  daemon = start();
  await waitFor(() => liveStatus(state, 'r').catch(() => undefined), (s) => s !== undefined, 10_000, 'the restarted daemon');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await isMounted(mp), false, 'still unmounted after a restart');

  t0 = Date.now();
  const re = await afs(state, ['remount', '--name', 'r']);
  assert.equal(re.code, 0, re.stderr);
  assert.equal(re.stdout, `mounted r ${mp}\n`);
  assert.equal(await isMounted(mp), true, 'mounted when the command returns');
  assert.ok(Date.now() - t0 < 1000, `remount took ${Date.now() - t0} ms`);
  assert.equal(await readFile(join(mp, 'a.txt'), 'utf8'), 'a\n');
  assert.equal((await liveStatus(state, 'r')).state, 'mounted');

  // remount of a mounted repo mounts it afresh; a restart keeps it mounted.
  assert.equal((await afs(state, ['remount', '--name', 'r'])).code, 0);
  assert.equal(await readFile(join(mp, 'a.txt'), 'utf8'), 'a\n');
  assert.equal(await daemon.stop(), 0);
  daemon = start();
  await daemon.waitMounted(mp, 10_000);
});

test('without a daemon the commands act on the registry and say so; a stale socket is handled', fuseTest, async (t) => {
  const { state, mnt, start } = await setup(t, { 'a.txt': 'a\n' });
  const mp = join(mnt, 'r');
  const un = await afs(state, ['unmount', '--name', 'r']);
  assert.equal(un.code, 0, un.stderr);
  assert.equal(un.stderr, 'artifact-fs: no daemon is running; recorded in the registry: r stays unmounted until remount\n');
  const st = await cliStatus(state, 'r');
  assert.equal(st.state, 'unmounted');
  assert.equal(st.source, 'registry');
  assert.equal(st.stderr, 'artifact-fs: no daemon is running; status from the registry\n');
  const sr = await afs(state, ['set-refresh', '--name', 'r', '--interval', '5m']);
  assert.equal(sr.code, 0, sr.stderr);
  assert.equal(sr.stdout, 'refresh r 5m\n');
  assert.match(sr.stderr, /^artifact-fs: no daemon is running; recorded in the registry/);
  const fe = await afs(state, ['fetch', '--name', 'r']);
  assert.equal(fe.code, 0, fe.stderr);
  assert.match(fe.stdout, /^repo=r ahead=0 behind=0 diverged=false last_fetch=\S+ result=ok\n$/);
  assert.equal(fe.stderr, 'artifact-fs: no daemon is running; fetched without it\n');

  // A daemon started now honours what was recorded.
  let daemon = start();
  const live = await waitFor(() => liveStatus(state, 'r').catch(() => undefined), (s) => s !== undefined, 10_000, 'the daemon');
  assert.equal(live!.refresh, '5m');
  assert.equal(live!.state, 'unmounted');
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(await isMounted(mp), false);

  // A daemon killed with SIGKILL leaves its socket file behind: commands see "no daemon", act
  // on the registry, and the next daemon replaces the file. (Killed while the repo is unmounted:
  // replacing a dead FUSE mount is the mount layer's business, tested elsewhere.)
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  assert.ok((await stat(join(state, 'daemon.sock'))).isSocket(), 'the dead daemon left its socket');
  const dead = await afs(state, ['set-refresh', '--name', 'r', '--interval', 'never']);
  assert.equal(dead.code, 0, dead.stderr);
  assert.match(dead.stderr, /^artifact-fs: no daemon is running \(stale control socket\); recorded in the registry/);
  const re = await afs(state, ['remount', '--name', 'r']);
  assert.equal(re.code, 0, re.stderr);
  assert.equal(re.stdout, '');
  assert.equal(re.stderr, 'artifact-fs: no daemon is running (stale control socket); recorded in the registry: r is mounted when a daemon starts\n');
  daemon = start();
  await daemon.waitMounted(mp, 15_000);
  const back = await liveStatus(state, 'r');
  assert.equal(back.refresh, 'never');
  assert.equal(back.state, 'mounted');
  assert.equal(await readFile(join(mp, 'a.txt'), 'utf8'), 'a\n');
});

test('control commands: bad input is one line and exit 2, an unknown repo exit 1, with or without a daemon', fuseTest, async (t) => {
  const { state, mnt, start } = await setup(t, { 'a.txt': 'a\n' });
  const check = async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['unmount'], 2, /^artifact-fs: --name is required$/],
      [['remount', '--name', 'a/b'], 2, /^artifact-fs: invalid repo name 'a\/b'/],
      [['set-refresh', '--name', 'r'], 2, /^artifact-fs: set-refresh: --interval is required/],
      [['set-refresh', '--name', 'r', '--interval', '30'], 2, /^artifact-fs: set-refresh: invalid --interval '30': use e\.g\. 30s/],
      [['fetch', '--name', 'r', '--force'], 2, /^artifact-fs: fetch: Unknown option '--force'/],
      [['fetch', '--name', 'nope'], 1, /^artifact-fs: no repo named 'nope'$/],
      [['unmount', '--name', 'nope'], 1, /^artifact-fs: no repo named 'nope'$/],
      [['status', '--name', 'nope'], 1, /^artifact-fs: no repo named 'nope'$/],
      [['remove-repo', '--name', 'nope'], 1, /^artifact-fs: no repo named 'nope'$/],
    ];
    for (const [args, code, re] of cases) {
      const r = await afs(state, args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${args.join(' ')}: one line: ${r.stderr}`);
      assert.match(lines[0]!, re, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
  };
  await check();
  const daemon = start();
  await daemon.waitMounted(join(mnt, 'r'));
  await check();
});

test('concurrent commands on one repo never lose an update, with and without a daemon', fuseTest, async (t) => {
  const names = ['a', 'b', 'c'];
  const { state, mnt, start } = await setup(t, { 'a.txt': 'a\n' }, names, ['--refresh', 'never']);
  const round = async (intervals: string[]) => {
    // Two different settings of each repo at the same moment: its refresh interval and unmount.
    const runs = names.flatMap((n, i) => [afs(state, ['set-refresh', '--name', n, '--interval', intervals[i]!]), afs(state, ['unmount', '--name', n])]);
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    for (const [i, n] of names.entries()) {
      const s = await cliStatus(state, n);
      assert.equal(s.refresh, intervals[i], `${n}: refresh lost`);
      assert.equal(s.state, 'unmounted', `${n}: unmount lost`);
    }
  };
  await round(['11s', '12s', '13s']);
  const daemon = start();
  await waitFor(() => liveStatus(state, 'a').catch(() => undefined), (s) => s !== undefined, 10_000, 'the daemon');
  for (const n of names) assert.equal((await afs(state, ['remount', '--name', n])).code, 0);
  for (const n of names) assert.equal(await isMounted(join(mnt, n)), true);
  await round(['21s', '22s', '23s']);
  for (const n of names) assert.equal(await isMounted(join(mnt, n)), false, `${n} unmounted`);
  // And many set-refresh calls racing on one repo: the registry and the daemon agree on the winner.
  const values = ['1m', '2m', '3m', '4m', '5m', '6m'];
  const rs = await Promise.all(values.map((v) => afs(state, ['set-refresh', '--name', 'a', '--interval', v])));
  for (const r of rs) assert.equal(r.code, 0, r.stderr);
  const live = await liveStatus(state, 'a');
  assert.ok(values.includes(String(live.refresh)));
  assert.equal((await cliStatus(state, 'a')).refresh, live.refresh);
});

test('remove-repo on a running daemon unmounts before it answers', fuseTest, async (t) => {
  const { state, mnt, start } = await setup(t, { 'a.txt': 'a\n' });
  const daemon = start();
  await daemon.waitMounted(join(mnt, 'r'));
  const r = await afs(state, ['remove-repo', '--name', 'r', '--purge']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'removed r (purged)\n');
  assert.equal(r.stderr, '');
  assert.equal(await isMounted(join(mnt, 'r')), false);
  await assert.rejects(stat(join(state, 'repos', 'r')), /ENOENT/);
  assert.match((await afs(state, ['status', '--name', 'r'])).stderr, /^artifact-fs: no repo named 'r'\n$/);
});
