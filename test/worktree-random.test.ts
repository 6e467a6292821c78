// A seeded random sequence of filesystem operations applied to WorkTreeFs (mounted in a child
// process) and to a native directory: every outcome (value or errno) and the final trees must be
// identical, in an empty subdirectory and over the tracked fixture tree. The sequence goes on
// across a clean restart of the child half-way; the final tree is checked again after another.
// Hard links and xattrs are not drawn (link answers EPERM by design).
// Replay a failure with WORKTREE_SEED=<seed printed>; WORKTREE_OPS sets the length,
// WORKTREE_TRACE=<file prefix> writes each op and its outcome.

import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { closeAll, listing, newSide, openSlots, outcome, randomOp, rng, type Pool } from './support/random-ops.js';
import { FIXTURE } from './support/worktree-fixture.js';
import { startWorktree } from './support/worktree-proc.js';

const OPS = Number(process.env.WORKTREE_OPS ?? 2000);
const BASE_SEED = process.env.WORKTREE_SEED !== undefined ? Number(process.env.WORKTREE_SEED) : Date.now() % 1_000_000;

/** Writes the fixture tree as plain files (the native twin of the mounted base tree). */
async function materialise(dir: string): Promise<void> {
  for (const [path, raw] of Object.entries(FIXTURE)) {
    const p = join(dir, path);
    await mkdir(dirname(p), { recursive: true });
    if (raw.startsWith('->')) await symlink(raw.slice(2), p);
    else if (raw.startsWith('*')) { await writeFile(p, raw.slice(1)); await chmod(p, 0o755); } else await writeFile(p, raw);
  }
}

async function run(t: TestContext, seed: number, pool: Pool, sub: string | undefined): Promise<void> {
  const root = await tempDir(t, 'afs-wt-rand-');
  const nativeRoot = join(root, 'native');
  const mnt = join(root, 'mnt');
  const state = join(root, 'state');
  await mkdir(nativeRoot);
  await mkdir(mnt);
  await mkdir(state);
  let fs = await startWorktree(mnt, state);
  defer(t, () => fs.stop());
  const native = sub ? join(nativeRoot, sub) : nativeRoot;
  const mounted = sub ? join(mnt, sub) : mnt;
  if (sub) {
    await mkdir(native);
    await mkdir(mounted);
  } else {
    await materialise(native);
  }
  const skip = ['.git'];
  const where = `seed ${seed} (replay: WORKTREE_SEED=${seed})`;
  assert.deepEqual(await listing(mounted, skip), await listing(native, skip), `initial trees differ; ${where}`);
  for (const d of pool.dirs) if (d && !d.includes('/') && sub) { await mkdir(join(native, d)); await mkdir(join(mounted, d)); }
  const a = newSide(native);
  const b = newSide(mounted);
  defer(t, () => closeAll(b));
  defer(t, () => closeAll(a));
  const r = rng(seed);
  const log: string[] = [];
  for (let i = 0; i < OPS; i++) {
    const op = randomOp(r, pool, openSlots(a));
    const want = await outcome(op, a);
    const got = await outcome(op, b);
    log.push(`${i}: ${op.text} ${want}`);
    if (want !== got) {
      assert.fail(`op ${i} ${op.text}: native ${want}, mount ${got}; ${where}\n  last ops:\n  ${log.slice(-25).join('\n  ')}`);
    }
    if (i % 500 === 499) {
      assert.deepEqual(await listing(mounted, skip), await listing(native, skip), `trees differ after op ${i}; ${where}`);
    }
    if (i === Math.floor(OPS / 2)) {
      // Half-way: a clean restart of the child (handles closed on both sides), then go on.
      await closeAll(a);
      await closeAll(b);
      await fs.stop();
      fs = await startWorktree(mnt, state);
      assert.match(fs.output(), /invariants ok\nlost 0\norphans 0\n/, `store after the mid-way restart; ${where}`);
    }
  }
  if (process.env.WORKTREE_TRACE) await writeFile(`${process.env.WORKTREE_TRACE}.${seed}`, log.join('\n'));
  await closeAll(a);
  await closeAll(b);
  const final = await listing(native, skip);
  assert.deepEqual(await listing(mounted, skip), final, `final trees differ; ${where}`);
  await fs.stop();
  fs = await startWorktree(mnt, state);
  assert.match(fs.output(), /invariants ok\nlost 0\norphans 0\n/, `store after restart; ${where}`);
  assert.deepEqual(await listing(mounted, skip), final, `trees differ after restart; ${where}`);
}

const NAMES = ['a', 'b', 'c', 'd', 'e'];

test('random operations: WorkTreeFs (empty subdirectory) matches a native directory', fuseTest, async (t) => {
  const seed = BASE_SEED;
  process.stdout.write(`# worktree-random: seed ${seed}\n`);
  const pool: Pool = { dirs: ['', 'p', 'q', 'p/r'], names: NAMES };
  await run(t, seed, pool, 'rand');
});

test('random operations: WorkTreeFs over the tracked fixture tree matches a native copy', fuseTest, async (t) => {
  const seed = BASE_SEED + 1;
  process.stdout.write(`# worktree-random: seed ${seed}\n`);
  const pool: Pool = {
    dirs: ['', 'src', 'src/lib', 'src/lib/deep', 'docs', 'bin'],
    names: ['README.md', 'main.ts', 'util.ts', 'a.txt', 'b.txt', 'run.sh', 'guide.md', 'link-to-readme', 'lib', 'deep', 'x', 'y'],
  };
  await run(t, seed, pool, undefined);
});
