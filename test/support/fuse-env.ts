// Whether this machine can run FUSE end-to-end tests (root and /dev/fuse), and per-test
// cleanup. CI has both and checks that no test was skipped; a developer machine without them
// skips with the reason.

import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export function fuseUnavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'FUSE e2e tests need root';
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is not available';
  }
  return undefined;
}

/** `test(name, fuseTest, fn)`: options that skip the test when FUSE cannot be used here. */
export const fuseTest = { skip: fuseUnavailableReason() ?? false, timeout: 120_000 };

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

/**
 * Registers teardown that runs last-in-first-out when the test ends (t.after runs in
 * registration order, which would remove a temp dir before unmounting what is mounted on it).
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const s: Array<() => unknown> = [];
    stacks.set(t, s);
    stack = s;
    t.after(async () => {
      for (const f of s.reverse()) {
        try { await f(); } catch (err) { process.stderr.write(`teardown: ${(err as Error).message}\n`); }
      }
    });
  }
  stack.push(fn);
}

/** A fresh temp directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'afs-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}
