// The first steps of add-repo in both modes, kept free of heavy imports (add-repo --async runs
// only these, and its start-up time is its latency): the per-name lock, the remote resolved and
// split from its credentials, and the repo's directory holding the credentials file (0600).

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeCredentialsFile, type Credentials } from '../gitstore/credential-helper.js';
import type { Db } from '../registry/db.js';
import { getRepo } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import { acquirePidLock } from '../util/pid-lock.js';
import { resolveRemote } from './repo-source.js';
import { UsageError, type AddRepoSpec } from './repo-spec.js';

/** The spec with a credential-free remote, and the credentials that were in it. */
export interface SeparatedSpec {
  spec: AddRepoSpec & { remote: string };
  credentials: Credentials | undefined;
}

/**
 * Resolves the remote (--remote, else the prepared git dir's origin) and splits its credentials
 * off. Everything after this sees only the clean URL; the credentials go to stageRepoDir.
 */
export async function separateCredentials(spec: AddRepoSpec): Promise<SeparatedSpec> {
  const { remote } = await resolveRemote(spec);
  const hasCredentials = remote.username !== undefined || remote.password !== undefined;
  return {
    spec: { ...spec, remote: remote.url },
    credentials: hasCredentials ? { username: remote.username ?? '', password: remote.password ?? '' } : undefined,
  };
}

/**
 * Creates the repo's directory afresh (an orphan left by a crash before registration is removed)
 * holding only its credentials file (0600), when there are credentials.
 */
export async function stageRepoDir(root: StateRoot, name: string, credentials: Credentials | undefined): Promise<void> {
  const dest = root.repoDir(name);
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true, mode: 0o700 });
  if (credentials) await writeCredentialsFile(root.credentialsFile(name), credentials);
}

/** Holds add-repo's per-name lock around `fn`, after checking the name is free. */
export async function withAddLock<T>(root: StateRoot, db: Db, name: string, fn: () => Promise<T>): Promise<T> {
  // One add-repo per name at a time: a concurrent one would replace this one's directory.
  const lock = await acquirePidLock(join(root.dir, 'repos', `.add-${name}.lock`), (pid) => `another add-repo for '${name}' is running (pid ${pid})`);
  try {
    if (getRepo(db, name)) throw new UsageError(`repo '${name}' already exists (remove-repo first)`);
    return await fn();
  } finally {
    await lock.release();
  }
}

