// Read-path rows: a synthetic repository served over smart HTTP at 0 and 25 ms per request,
// artifact-fs (add-repo + daemon) against plain `git clone` variants and a native checkout.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afs, startDaemon, type DaemonChild } from '../test/support/cli.js';
import { startGitServer, type GitServer } from '../test/support/git-server.js';
import { medianOf, type Row } from './report.js';
import { makeSyntheticRepo, type SyntheticShape } from './synthetic-repo.js';

const exec = promisify(execFile);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === '.git') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function clone(server: GitServer, dest: string, flags: string[]): Promise<{ ms: number; requests: number }> {
  server.resetStats();
  const [ms] = await timed(() => exec('git', ['clone', '-q', ...flags, server.url('bench'), dest], { maxBuffer: 1 << 24 }));
  return { ms, requests: server.stats.requests };
}

async function statAll(files: string[]): Promise<number> {
  const [ms] = await timed(async () => { for (const f of files) await stat(f); });
  return ms;
}

/** Waits for the daemon's `hydration complete` log line (polling `status` would load the CPUs). */
async function waitHydrated(daemon: DaemonChild, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!daemon.log().includes('"hydration complete"')) {
    if (Date.now() > end) throw new Error('not hydrated in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sha(files: string[]): Promise<string> {
  const h = createHash('sha1');
  for (const f of files.sort()) h.update(await readFile(f));
  return h.digest('hex');
}

interface Scenario { label: string; latencyMs: number }

async function scenario(root: string, server: GitServer, s: Scenario, small: string): Promise<Row[]> {
  server.setLatency(s.latencyMs);
  const g = `${s.label}, ${s.latencyMs} ms/request`;
  const dir = join(root, `run-${s.latencyMs}`);
  await mkdir(dir, { recursive: true });
  const full = await clone(server, join(dir, 'full'), []);
  const blobless = await clone(server, join(dir, 'blobless'), ['--filter=blob:none']);
  const noCheckout = await clone(server, join(dir, 'nocheckout'), ['--filter=blob:none', '--no-checkout']);
  const shallow = await clone(server, join(dir, 'depth1'), ['--depth=1']);
  const nativeFiles = await walk(join(dir, 'depth1'));
  const nativeSum = await sha(nativeFiles);

  // artifact-fs: daemon already running and watching the registry; add-repo → ls → full hydration.
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const daemon: DaemonChild = startDaemon(state, ['--root', mnt]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    server.resetStats();
    const t0 = performance.now();
    const add = await afs(state, ['add-repo', '--name', 'bench', '--remote', server.url('bench'), '--branch', 'main']);
    if (add.code !== 0) throw new Error(add.stderr);
    const root = join(mnt, 'bench');
    await daemon.waitMounted(root, 60_000);
    await readdir(root);
    const lsMs = performance.now() - t0;
    const [firstReadMs] = await timed(() => readFile(join(root, small)));
    await waitHydrated(daemon, 600_000);
    const files = await walk(root);
    const mountSum = await sha(files);
    const hydrateMs = performance.now() - t0;
    if (mountSum !== nativeSum) throw new Error('mount content differs from the depth-1 checkout');
    const requests = server.stats.requests;
    const statMount = await statAll(files);
    const statNative = await statAll(nativeFiles);
    const [grepMount] = await timed(() => exec('grep', ['-r', '-c', 'zzzz-not-there', root]).catch(() => undefined));
    const [grepNative] = await timed(() => exec('grep', ['-r', '-c', 'zzzz-not-there', join(dir, 'depth1')]).catch(() => undefined));
    return [
      { group: g, what: 'add-repo → ls works vs blobless --no-checkout clone', subject: lsMs, baseline: noCheckout.ms, unit: 'ms', goal: '≤ 1.1x', note: `blobless clone with checkout ${blobless.ms.toFixed(0)} ms` },
      { group: g, what: 'first read of a small file (after mount)', subject: firstReadMs, baseline: Math.max(1, s.latencyMs), unit: 'ms', goal: '≤ 1 RTT + 20 ms', note: 'baseline: one round trip' },
      { group: g, what: 'add-repo → every file hydrated + verified vs clone --depth=1', subject: hydrateMs, baseline: shallow.ms, unit: 'ms', goal: '≤ 2x', note: `${requests} requests vs ${shallow.requests}` },
      { group: g, what: 'same vs full git clone', subject: hydrateMs, baseline: full.ms, unit: 'ms', goal: '≤ 0.3x', note: `full clone ${full.requests} requests` },
      { group: g, what: `stat ${files.length} files (hydrated) vs native checkout`, subject: statMount, baseline: statNative, unit: 'ms' },
      { group: g, what: 'grep -r after hydration vs native checkout', subject: grepMount, baseline: grepNative, unit: 'ms' },
    ];
  } finally {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

async function gitStatus(dir: string): Promise<number> {
  const [ms] = await timed(() => exec('git', ['-C', dir, 'status', '--porcelain'], { maxBuffer: 1 << 24 }));
  return ms;
}

/** A small edit session: 10 tracked files rewritten and one new file in a deep directory. */
async function editSome(dir: string, files: string[]): Promise<void> {
  for (const f of files) await writeFile(join(dir, f), 'edited\n');
  const deep = files[files.length - 1]!.split('/').slice(0, -1).join('/');
  await writeFile(join(dir, deep, 'bench-new-file.txt'), 'new\n');
}

/** Stat of every file and the first `git status`, before any hydration (background off). */
async function statBeforeHydration(root: string, server: GitServer): Promise<Row[]> {
  server.setLatency(0);
  const dir = join(root, 'stat-cold');
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  await exec('git', ['clone', '-q', server.url('bench'), join(dir, 'native')]);
  const nativeFiles = await walk(join(dir, 'native'));
  const add = await afs(state, ['add-repo', '--name', 'bench', '--remote', server.url('bench'), '--mount-root', mnt]);
  if (add.code !== 0) throw new Error(add.stderr);
  const daemon = startDaemon(state, ['--hydration-concurrency', '0']);
  try {
    await daemon.waitMounted(join(mnt, 'bench'));
    server.resetStats();
    const files = await walk(join(mnt, 'bench'));
    const mount = await statAll(files);
    const native = await statAll(nativeFiles);
    const statFetches = server.stats.fetchRequests;
    const statusMount = await gitStatus(join(mnt, 'bench'));
    const statusNative = await gitStatus(join(dir, 'native'));
    const firstFetches = server.stats.fetchRequests - statFetches;
    const warmMount = await medianOf(5, () => gitStatus(join(mnt, 'bench')));
    const warmNative = await medianOf(5, () => gitStatus(join(dir, 'native')));
    const warmFetches = server.stats.fetchRequests - statFetches - firstFetches;
    // The deepest 10 files (sorted by depth, then name): an edit far from the root.
    const edited = nativeFiles.map((f) => relative(join(dir, 'native'), f)).sort((a, b) => b.split('/').length - a.split('/').length || a.localeCompare(b)).slice(0, 10);
    await editSome(join(mnt, 'bench'), edited);
    await editSome(join(dir, 'native'), edited);
    const editedMount = await gitStatus(join(mnt, 'bench'));
    const editedNative = await gitStatus(join(dir, 'native'));
    return [
      { group: 'read path', what: `stat ${files.length} files before any hydration vs native`, subject: mount, baseline: native, unit: 'ms', goal: '≤ 2x, 0 fetches', note: `${statFetches} fetch requests` },
      { group: 'read path', what: 'first git status after mount vs native checkout', subject: statusMount, baseline: statusNative, unit: 'ms', goal: '≤ 2x, 0 fetches', note: `${firstFetches} fetch requests` },
      { group: 'read path', what: 'warm git status vs native checkout (median of 5)', subject: warmMount, baseline: warmNative, unit: 'ms', goal: '≤ 1.5x, 0 fetches', note: `${warmFetches} fetch requests` },
      { group: 'read path', what: 'git status after 10 edits + 1 new deep file vs native', subject: editedMount, baseline: editedNative, unit: 'ms', goal: '≤ 1.5x', note: `${server.stats.fetchRequests - statFetches} fetch requests` },
    ];
  } finally {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

export async function repoRows(root: string, shape: SyntheticShape, label: string): Promise<Row[]> {
  const remote = join(root, 'remote');
  await makeSyntheticRepo(join(remote, 'bench.git'), shape);
  const server = await startGitServer({ root: remote });
  try {
    const rows: Row[] = await statBeforeHydration(root, server);
    for (const latencyMs of [0, 25]) rows.push(...(await scenario(root, server, { label, latencyMs }, 'package.json')));
    return rows;
  } finally {
    await server.close();
  }
}
