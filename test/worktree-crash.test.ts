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
import { mkdir, open, readFile, rename, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { hash, rng } from './support/random-ops.js';
import { FIXTURE } from './support/worktree-fixture.js';
import { startWorktree, type WorktreeChild } from './support/worktree-proc.js';

const ITERATIONS = 8;
const SEED = process.env.WORKTREE_SEED !== undefined ? Number(process.env.WORKTREE_SEED) : Date.now() % 1_000_000;
const TRACKED = Object.entries(FIXTURE).filter(([, v]) => !v.startsWith('->')).map(([p]) => p);

/** SIGKILL; the next mount on the same point must detect the dead mount and replace it at once. */
async function killAndSettle(child: WorktreeChild): Promise<void> {
  await child.kill();
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
    const gone = new Set<string>();
    const held: FileHandle[] = [];
    for (let i = 0; i < ops; i++) {
      // Every random choice is drawn before the step's first await, so in-flight steps
      // interleave without changing the sequence a seed replays.
      const tracked = r() < 0.2 ? TRACKED[int(TRACKED.length)]! : undefined;
      const p = tracked && !acked.has(tracked) && !busy.has(tracked) ? tracked : `f-${it}-${i}`;
      const data = Buffer.alloc(1 + int(20000), `${it}:${i}:`);
      const cut = int(3) === 0 ? 0 : int(30000);
      const at = int(5000);
      const sync = r() < 0.5;
      const after = r();
      busy.add(p);
      const step = async (): Promise<void> => {
        const fh = await open(join(mnt, p), 'r+').catch(() => open(join(mnt, p), 'w+'));
        let keep = false;
        if (!killed) gone.delete(p); // recreated
        try {
          await fh.truncate(cut);
          await fh.write(data, 0, data.length, at);
          const content = await readFile(join(mnt, p)); // what the file holds now
          if (sync) await fh.sync();
          if (!killed) {
            if (sync) { acked.set(p, hash(content)); completed.delete(p); }
            else completed.set(p, hash(content));
          }
          if (acked.has(p)) return;
          const move = async (f: () => Promise<unknown>, then: () => void): Promise<void> => {
            await f().then(() => { if (!killed) then(); }, () => {});
          };
          if (after < 0.1) {
            await move(() => rename(join(mnt, p), join(mnt, `${p}.moved`)), () => { completed.delete(p); gone.add(p); });
          } else if (after < 0.2) {
            // Unlinked while open, and still written through the handle when the kill comes.
            keep = true;
            held.push(fh);
            await move(() => unlink(join(mnt, p)), () => { completed.delete(p); gone.add(p); });
            await fh.write(data, 0, data.length, 0).catch(() => {});
          } else if (after < 0.25) {
            await move(() => unlink(join(mnt, p)), () => { completed.delete(p); gone.add(p); });
          } else if (after < 0.3) {
            await move(() => truncate(join(mnt, p), 0), () => completed.set(p, hash(Buffer.alloc(0))));
          }
        } finally {
          if (!keep) await fh.close().catch(() => {});
          busy.delete(p);
        }
      };
      if (inFlight) {
        const done: Promise<void> = step().catch(() => {}).finally(() => pending.splice(pending.indexOf(done), 1));
        pending.push(done);
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
    for (const fh of held.splice(0)) await fh.close().catch(() => {});
    if (!inFlight) {
      // Between operations: every completed write survives a killed daemon, fsync'ed or not.
      child = await startWorktree(mnt, state);
      assert.match(child.output(), /invariants ok\n/, `iteration ${it}: store invariants; ${where}`);
      for (const [p, h] of completed) {
        assert.equal(hash(await readFile(join(mnt, p))), h, `iteration ${it}: ${p} lost a completed write; ${where}`);
      }
      for (const p of gone) {
        await assert.rejects(stat(join(mnt, p)), { code: 'ENOENT' }, `iteration ${it}: removed ${p} came back; ${where}`);
      }
      await killAndSettle(child);
    }
  }
  child = await startWorktree(mnt, state);
  assert.match(child.output(), /invariants ok\nlost 0\n/, `final restart; ${where}`);
  for (const [p, h] of acked) assert.equal(hash(await readFile(join(mnt, p))), h, `final: ${p}; ${where}`);
  // A restart after a kill may still be deleting files it released while recovering (rows left
  // unlinked-but-open); after a clean stop nothing is pending, so any file no row names leaked.
  await child.stop();
  child = await startWorktree(mnt, state);
  assert.match(child.output(), /invariants ok\nlost 0\norphans 0\n/, `clean restart after the kills; ${where}`);
  await child.stop();
  assert.ok(acked.size > 0, 'some files were acknowledged');
});
