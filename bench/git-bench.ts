// Git in the mount (issue 5): status, diff, add -A and a branch checkout in the artifact-fs
// mount next to the same commands in a native checkout (a full clone), with the blobs each
// fetched. A branch that changes 1,000 files; the mount is a blobless clone, so its checkout
// must fetch those blobs: the note shows the requests, and a native blobless clone doing the
// same checkout is a second baseline.

import { execFile } from 'node:child_process';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afs, startDaemon } from '../test/support/cli.js';
import { startGitServer, type GitServer } from '../test/support/git-server.js';
import { median, type Row } from './report.js';
import { makeSyntheticRepo, SHAPE_WORKERS_SDK, type SyntheticShape } from './synthetic-repo.js';

const exec = promisify(execFile);
const SHAPE: SyntheticShape = { ...SHAPE_WORKERS_SDK, branchChanges: 1000, history: 100 };
const EDITED = 100;
const RUNS = 5;

async function git(dir: string, ...args: string[]): Promise<number> {
  const t0 = performance.now();
  await exec('git', ['-C', dir, ...args], { maxBuffer: 1 << 26 });
  return performance.now() - t0;
}

async function trackedFiles(dir: string): Promise<string[]> {
  const { stdout } = await exec('git', ['-C', dir, 'ls-files'], { maxBuffer: 1 << 24 });
  return stdout.split('\n').filter((p) => p.endsWith('.ts') || p.endsWith('.js')).slice(0, EDITED);
}

/** Runs `fn` in the mount and in each native directory; the server's fetch requests during the mount's run. */
async function side(server: GitServer, fn: (dir: string) => Promise<number>, mount: string, natives: string[]): Promise<{ mount: number; native: number[]; fetches: number }> {
  server.resetStats();
  const m = await fn(mount);
  const fetches = server.stats.fetchRequests;
  const native: number[] = [];
  for (const d of natives) native.push(await fn(d));
  return { mount: m, native, fetches };
}

export async function gitRows(root: string): Promise<Row[]> {
  const remote = join(root, 'remote');
  await makeSyntheticRepo(join(remote, 'bench.git'), SHAPE);
  const server = await startGitServer({ root: remote });
  const state = join(root, 'state');
  const mnt = join(root, 'mnt');
  const mount = join(mnt, 'bench');
  const native = join(root, 'native');
  const blobless = join(root, 'blobless');
  const daemon = startDaemon(state, ['--hydration-concurrency', '0']);
  try {
    await exec('git', ['clone', '-q', server.url('bench'), native]);
    await exec('git', ['clone', '-q', '--filter=blob:none', server.url('bench'), blobless]);
    const add = await afs(state, ['add-repo', '--name', 'bench', '--remote', server.url('bench'), '--mount-root', mnt]);
    if (add.code !== 0) throw new Error(add.stderr);
    await daemon.waitMounted(mount);
    const g = 'git in the mount';
    const rows: Row[] = [];
    const first = await side(server, (d) => git(d, 'status', '--porcelain'), mount, [native]);
    rows.push({ group: g, what: 'first git status after mount vs native checkout', subject: first.mount, baseline: first.native[0]!, unit: 'ms', goal: '≤ 2x, 0 fetches', note: `${first.fetches} fetch requests` });
    const warm: number[][] = [[], []];
    for (let i = 0; i < RUNS; i++) {
      warm[0]!.push(await git(mount, 'status', '--porcelain'));
      warm[1]!.push(await git(native, 'status', '--porcelain'));
    }
    rows.push({ group: g, what: `warm git status (median of ${RUNS})`, subject: median(warm[0]!), baseline: median(warm[1]!), unit: 'ms', goal: '≤ 1.5x' });
    // Edit 100 tracked files on every side (each edit reads the file: the mount hydrates them).
    const edit = async (d: string) => {
      for (const p of await trackedFiles(d)) await appendFile(join(d, p), '// edited\n');
      return 0;
    };
    server.resetStats();
    await edit(mount);
    const editFetches = server.stats.fetchRequests;
    await edit(native);
    const diff = await side(server, (d) => git(d, 'diff', '--stat'), mount, [native]);
    rows.push({ group: g, what: `git diff after editing ${EDITED} files`, subject: diff.mount, baseline: diff.native[0]!, unit: 'ms', note: `${diff.fetches} fetch requests (the edits fetched ${editFetches})` });
    const addAll = await side(server, (d) => git(d, 'add', '-A'), mount, [native]);
    rows.push({ group: g, what: `git add -A after editing ${EDITED} files`, subject: addAll.mount, baseline: addAll.native[0]!, unit: 'ms', note: `${addAll.fetches} fetch requests` });
    for (const d of [mount, native]) await git(d, 'reset', '-q', '--hard');
    // The branch: fetched first (commits and trees only) where the clone has a single branch.
    await git(mount, 'fetch', '-q', 'origin', 'feature:refs/remotes/origin/feature');
    const checkout = await side(server, (d) => git(d, 'checkout', '-q', '-b', 'feature', 'origin/feature'), mount, [native, blobless]);
    rows.push({
      group: g, what: 'git checkout of a branch changing 1,000 files vs native', subject: checkout.mount, baseline: checkout.native[0]!, unit: 'ms',
      goal: '≤ 3x + its fetches', note: `${checkout.fetches} fetch requests; native blobless clone: ${checkout.native[1]!.toFixed(0)} ms`,
    });
    const after = await side(server, (d) => git(d, 'status', '--porcelain'), mount, [native]);
    rows.push({ group: g, what: 'git status after that checkout', subject: after.mount, baseline: after.native[0]!, unit: 'ms', note: `${after.fetches} fetch requests` });
    const deadline = Date.now() + 60_000;
    while (!daemon.log().includes('"generation switched"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const line = daemon.log().split('\n').find((l) => l.includes('"generation switched"'));
    const switchMs = line ? (JSON.parse(line) as { ms: number }).ms : NaN;
    rows.push({ group: g, what: 'daemon re-base after the checkout (diff-tree + overlay) vs the checkout', subject: switchMs, baseline: checkout.mount, unit: 'ms' });
    return rows;
  } finally {
    await daemon.stop();
    await server.close();
    await rm(root, { recursive: true, force: true }).catch(() => {});
  }
}
