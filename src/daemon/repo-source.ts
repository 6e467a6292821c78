// Where a new repo's commits come from: a blobless clone of the remote, or a copy of a prepared
// git dir fast-forwarded to --fetch-ref. Either way the result is `<work>/.git` inside add-repo's
// temp dir, HEAD at the commit to mount, and — with --require-commit — verified to be exactly
// that commit before anything is installed.

import { join } from 'node:path';
import { blobLessClone, currentBranch, headCommit } from '../gitstore/clone.js';
import { copyPreparedGitDir, fetchAndFastForward, inspectPreparedGitDir, type PreparedGitDirInfo } from '../gitstore/prepared-gitdir.js';
import { SourceError } from '../gitstore/source-error.js';
import { splitCredentials, type SplitRemote } from '../util/redact.js';
import { fullRefName, type AddRepoSpec } from './repo-spec.js';
import type { RemoteAccess } from './remote-access.js';

export interface ResolvedRemote {
  /** The remote URL split from its credentials. */
  remote: SplitRemote;
  prepared?: PreparedGitDirInfo;
}

/** The remote to use: --remote, else the prepared git dir's origin. Reads, never writes. */
export async function resolveRemote(spec: AddRepoSpec): Promise<ResolvedRemote> {
  const prepared = spec.preparedGitDir !== undefined ? await inspectPreparedGitDir(spec.preparedGitDir) : undefined;
  const url = spec.remote ?? prepared?.originUrl;
  if (!url) throw new SourceError('usage', `--remote is required: the prepared git dir ${prepared?.dir ?? ''} has no origin remote`);
  return { remote: splitCredentials(url), prepared };
}

export interface AcquiredSource {
  gitDir: string;
  /** The branch HEAD is on; null when HEAD is detached. */
  branch: string | null;
  /** The full ref a detached HEAD came from, when one was named. */
  ref: string | null;
  head: { oid: string; time: number; tree: string };
  /** The prepared git dir copied from (absolute), if any. */
  preparedFrom: string | null;
  /** The full ref fetched into the copy, if any. */
  fetchRef: string | null;
}

async function fromPrepared(work: string, spec: AddRepoSpec, prepared: PreparedGitDirInfo, access: RemoteAccess, signal?: AbortSignal): Promise<string> {
  const gitDir = await copyPreparedGitDir(prepared, work, access.url);
  if (spec.fetchRef !== undefined) await fetchAndFastForward(gitDir, fullRefName(spec.fetchRef), { url: access.url, config: access.gitConfig, signal });
  return gitDir;
}

/** Fills `<work>/.git` (work must not exist) with the source's commits and trees; `signal` aborts the network part. */
export async function acquireSource(work: string, spec: AddRepoSpec, src: ResolvedRemote, access: RemoteAccess, signal?: AbortSignal): Promise<AcquiredSource> {
  let gitDir: string;
  if (src.prepared) gitDir = await fromPrepared(work, spec, src.prepared, access, signal);
  else {
    await blobLessClone(work, { url: access.url, branch: spec.branch, ref: spec.ref, depth: spec.depth, config: access.gitConfig, signal });
    gitDir = join(work, '.git');
  }
  const head = await headCommit(gitDir).catch(() => {
    throw src.prepared
      ? new SourceError('usage', `the prepared git dir ${src.prepared.dir} has no commit at HEAD: give --fetch-ref`)
      : new SourceError('ref-not-found', 'the remote has no commit to mount (empty repository?)');
  });
  if (spec.requireCommit !== undefined && head.oid !== spec.requireCommit) {
    const what = spec.fetchRef ?? spec.ref ?? spec.branch ?? 'HEAD';
    throw new SourceError('commit-mismatch', `--require-commit: '${what}' is at ${head.oid}, not ${spec.requireCommit}; nothing was installed`);
  }
  const branch = await currentBranch(gitDir);
  const named = spec.fetchRef ?? spec.ref;
  return {
    gitDir, branch, ref: branch ? null : (named !== undefined ? fullRefName(named) : null), head,
    preparedFrom: src.prepared?.dir ?? null, fetchRef: src.prepared && spec.fetchRef !== undefined ? fullRefName(spec.fetchRef) : null,
  };
}
