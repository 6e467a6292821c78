// kill -9 durability of WorkTreeFs: a child serves the mount, writes go through it (new files,
// tracked files, truncates, renames), some files are fsync'ed and their content recorded as
// acknowledged; the child is SIGKILLed (the mount goes stale) at a seeded moment — between
// operations, or while operations are in flight — and restarted on the same database and
// overlay directory. Every acknowledged file must be intact, the store's invariants must hold
// and no row may name a missing backing file. When the kill falls between operations, every
// completed write must survive too (each write commits its row at once: docs/overlay-design.md).
// Replay a failure with WORKTREE_SEED=<seed printed>.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, open, readFile, rename, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { hash, rng } from './support/random-ops.js';
import { FIXTURE } from './support/worktree-fixture.js';
import { startWorktree, type WorktreeChild } from './support/worktree-proc.js';

const ITERATIONS = 8;
const SEED = process.env.WORKTREE_SEED !== undefined ? Number(process.env.WORKTREE_SEED) : Date.now() % 1_000_000;
const TRACKED = Object.entries(FIXTURE).filter(([, v]) => !v.startsWith('->')).map(([p]) => p);

/**
 * SIGKILL, then wait out the kernel's attribute cache (CACHE_TTL = 1 s): until it expires, a
 * stat of the dead mount's root is answered from the cache, so mountFilesystem's stale probe
 * (src/fuse/mount.ts probeMount) sees it as live and refuses the mount point as busy.
 */
async function killAndSettle(child: WorktreeChild): Promise<void> {
  await child.kill();
  await new Promise((res) => setTimeout(res, 1100));
}

function lazyUnmount(mp: string): void {
  spawnSync('umount', ['-l', mp], { stdio: 'ignore' });
}

test('SIGKILL of the worktree child keeps every fsync\'ed file and a consistent overlay', fuseTest, async (t) => {
  process.stdout.write(`# worktree-crash: seed ${SEED}\n`);
  const where = `seed ${SEED} (replay: WORKTREE_SEED=${SEED})`;
  const root = await tempDir(t, 'afs-wt-crash-');
  const mnt = join(root, 'mnt');
  const state = join(root, 'state');
  await mkdir(mnt);
  await mkdir(state);
  // Runs last: a stale mount left by a failed iteration would block removing the temp dir.
  defer(t, () => { if (spawnSync('grep', ['-q', mnt, '/proc/mounts']).status === 0) lazyUnmount(mnt); });
  const r = rng(SEED);
  const int = (n: number): number => Math.floor(r() * n);
  /** path → content hash that must be found after every restart. */
  const acked = new Map<string, string>();
  let child: WorktreeChild | undefined;
  defer(t, () => child?.stop());
  for (let it = 0; it < ITERATIONS; it++) {
    child = await startWorktree(mnt, state);
    assert.match(child.output(), /invariants ok\n/, `iteration ${it}: store invariants after restart; ${where}`);
    assert.match(child.output(), /lost 0\n/, `iteration ${it}: rows naming a missing backing file; ${where}`);
    assert.match(child.output(), /orphans 0\n/, `iteration ${it}: backing files leaked by the crash not collected; ${where}`);
    for (const [p, h] of acked) {
      assert.equal(hash(await readFile(join(mnt, p))), h, `iteration ${it}: ${p} lost acknowledged content; ${where}`);
    }
    const inFlight = it % 2 === 1;
    const ops = 20 + int(60);
    const killAt = int(ops);
    // Files of this iteration: written, maybe fsync'ed (then acknowledged and never touched again).
    const pending: Array<Promise<void>> = [];
    const completed = new Map<string, string>();
    let killed = false;
    const busy = new Set<string>();
    for (let i = 0; i < ops; i++) {
      const step = async (): Promise<void> => {
        const tracked = r() < 0.2 ? TRACKED[int(TRACKED.length)]! : undefined;
        const p = tracked && !acked.has(tracked) && !busy.has(tracked) ? tracked : `f-${it}-${i}`;
        busy.add(p);
        const data = Buffer.alloc(1 + int(20000), `${it}:${i}:`);
        const fh = await open(join(mnt, p), 'r+').catch(() => open(join(mnt, p), 'w+'));
        try {
          await fh.truncate(int(3) === 0 ? 0 : int(30000));
          await fh.write(data, 0, data.length, int(5000));
          const sync = r() < 0.5;
          const content = await readFile(join(mnt, p)); // what the file holds now
          if (sync) await fh.sync();
          if (!killed) {
            if (sync) { acked.set(p, hash(content)); completed.delete(p); }
            else completed.set(p, hash(content));
          }
        } finally {
          await fh.close().catch(() => {});
        }
        if (!sync0(p) && r() < 0.1) await rename(join(mnt, p), join(mnt, `${p}.moved`)).then(() => completed.delete(p)).catch(() => {});
        if (!sync0(p) && r() < 0.05) await unlink(join(mnt, p)).then(() => completed.delete(p)).catch(() => {});
        if (!sync0(p) && r() < 0.05) await truncate(join(mnt, p), 0).then(() => completed.set(p, hash(Buffer.alloc(0)))).catch(() => {});
        busy.delete(p);
      };
      const sync0 = (p: string): boolean => acked.has(p);
      if (inFlight) {
        pending.push(step().catch(() => {}));
        if (pending.length >= 4) await Promise.race(pending);
        if (i === killAt) {
          await new Promise((res) => setTimeout(res, int(15)));
          killed = true;
          await killAndSettle(child);
          break;
        }
      } else {
        await step();
        if (i === killAt) break;
      }
    }
    if (!inFlight) {
      killed = true;
      await killAndSettle(child);
    }
    await Promise.allSettled(pending);
    if (!inFlight) {
      // Between operations: every completed write survives a killed daemon, fsync'ed or not.
      child = await startWorktree(mnt, state);
      assert.match(child.output(), /invariants ok\n/, `iteration ${it}: store invariants; ${where}`);
      for (const [p, h] of completed) {
        assert.equal(hash(await readFile(join(mnt, p))), h, `iteration ${it}: ${p} lost a completed write; ${where}`);
      }
      await killAndSettle(child);
    }
  }
  child = await startWorktree(mnt, state);
  assert.match(child.output(), /invariants ok\nlost 0\n/, `final restart; ${where}`);
  for (const [p, h] of acked) assert.equal(hash(await readFile(join(mnt, p))), h, `final: ${p}; ${where}`);
  await child.stop();
  assert.ok(acked.size > 0, 'some files were acknowledged');
});
