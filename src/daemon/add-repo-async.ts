// add-repo --async: register now, prepare later (docs/async-add-repo.md). The command validates
// everything it can without the network (flags, name, a prepared git dir), splits credentials
// off the remote and stores them 0600 in the repo's directory, and registers the repo as
// 'queued' with its spec; the daemon mounts a gated placeholder at once and runs the same
// prepareRepo() as sync add-repo, then registers the snapshot (preparer.ts). Imports stay light:
// this process's start-up is the command's latency.

import { rm } from 'node:fs/promises';
import type { Db } from '../registry/db.js';
import { insertRepo } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import { separateCredentials, stageRepoDir, withAddLock } from './repo-staging.js';
import { fullRefName, type AddRepoSpec } from './repo-spec.js';

/** Registers `spec` for the daemon to prepare. Resolves once it is in the registry (no network). */
export async function queueRepo(root: StateRoot, db: Db, spec: AddRepoSpec): Promise<void> {
  await withAddLock(root, db, spec.name, async () => {
    const { spec: clean, credentials } = await separateCredentials(spec);
    await stageRepoDir(root, spec.name, credentials);
    try {
      insertRepo(db, {
        name: spec.name, remote: clean.remote, branch: spec.branch ?? null, ref: spec.ref ?? null, mountRoot: spec.mountRoot ?? null,
        refresh: spec.refresh, depth: spec.depth ?? null, gitDir: root.gitDir(spec.name), hasCredentials: credentials !== undefined,
        objectInfo: false, generation: 0, createdAt: new Date().toISOString(), requireCommit: spec.requireCommit ?? null,
        sourceGitDir: spec.preparedGitDir ?? null, fetchRef: spec.fetchRef !== undefined ? fullRefName(spec.fetchRef) : null,
        prepareState: 'queued', prepareSpec: JSON.stringify(clean),
      });
    } catch (err) {
      await rm(root.repoDir(spec.name), { recursive: true, force: true });
      throw err;
    }
  });
}
