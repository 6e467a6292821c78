// One repo served by the test git server, added with the real CLI and mounted by a real daemon
// (background hydration off, so the server's counters show what each step fetched), with a
// restart that keeps the state root. Shared by the e2e tests of the repo mount.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { afs, startDaemon, type DaemonChild } from './cli.js';
import { defer, tempDir } from './fuse-env.js';
import { makeRepo, type FixtureFile, type FixtureRepo } from './git-fixtures.js';
import { startGitServer, type GitServer } from './git-server.js';

export interface MountedRepo {
  dir: string;
  bare: FixtureRepo['bare'];
  server: GitServer;
  state: string;
  /** The mount: `<dir>/mnt/<name>`. */
  root: string;
  daemon(): DaemonChild;
  /** SIGTERM, a new daemon on the same state root, mounted again. */
  restart(): Promise<void>;
}

export async function mountedRepo(t: TestContext, name: string, files: Record<string, FixtureFile>,
  prepare?: (bare: string) => Promise<unknown>): Promise<MountedRepo> {
  const dir = await tempDir(t, `afs-${name}-`);
  const { bare } = await makeRepo(join(dir, 'remote'), files, { name });
  await prepare?.(bare);
  const server = await startGitServer({ root: join(dir, 'remote') });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const add = await afs(state, ['add-repo', '--name', name, '--remote', server.url(name), '--mount-root', mnt]);
  assert.equal(add.code, 0, add.stderr);
  const root = join(mnt, name);
  const start = async () => {
    const d = startDaemon(state, ['--hydration-concurrency', '0']);
    defer(t, () => d.stop());
    await d.waitMounted(root);
    return d;
  };
  let daemon = await start();
  return {
    dir, bare, server, state, root,
    daemon: () => daemon,
    restart: async () => {
      assert.equal(await daemon.stop(), 0);
      daemon = await start();
    },
  };
}
