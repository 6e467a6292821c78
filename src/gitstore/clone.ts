// The blobless clone behind add-repo: commits, trees and refs only, one branch (or one ref),
// no tags, optional depth. File contents arrive later through the hydrator.

import { mkdir } from 'node:fs/promises';
import { GitError, lastLine, runGit, type GitOptions } from './git-run.js';
import { redactUrl } from '../util/redact.js';
import { SourceError } from './source-error.js';

export interface CloneOptions {
  /** URL without credentials (see redact.ts). */
  url: string;
  /** Exactly one of branch / ref. */
  branch?: string;
  /** A full ref name (refs/tags/v1, refs/pull/1/head) checked out as a detached HEAD. */
  ref?: string;
  depth?: number;
  /** Git config for credentials etc. (GIT_CONFIG_* env). */
  config?: Record<string, string>;
  signal?: AbortSignal;
}

const COMMON = ['--filter=blob:none', '--no-tags'];

/**
 * One line for a failed clone or fetch of `what` (e.g. "branch 'main'") from `url`: the remote's
 * own words, credentials redacted, sorted into the codes callers act on.
 */
export function classifyRemoteError(err: GitError, url: string, what: string): SourceError {
  const msg = err.stderr;
  const where = redactUrl(url);
  if (/Remote branch .* not found|couldn't find remote ref|not our ref|invalid refspec/i.test(msg)) {
    return new SourceError('ref-not-found', `${what} not found on ${where}`);
  }
  if (/Authentication failed|could not read Username|could not read Password|401|403|Permission denied \(publickey/i.test(msg)) {
    return new SourceError('auth-failed', `authentication failed for ${where}`);
  }
  if (/Could not resolve host|Connection refused|Failed to connect|does not appear to be a git repository|not found|unable to access|Could not read from remote|Host key verification failed/i.test(msg)) {
    return new SourceError('remote-unreachable', `cannot reach remote ${where}: ${lastLine(msg)}`);
  }
  return new SourceError('fetch-failed', `fetching ${what} from ${where} failed: ${lastLine(msg)}`);
}

function classify(err: GitError, o: CloneOptions): SourceError {
  return classifyRemoteError(err, o.url, o.branch ? `branch '${o.branch}'` : o.ref ? `ref '${o.ref}'` : 'the default branch');
}

/**
 * Clones into `dir` (created; must not exist): a normal (non-bare) repository with no checkout,
 * whose `.git` is the git dir the mount's synthesized `.git` file points at.
 */
export async function blobLessClone(dir: string, o: CloneOptions): Promise<void> {
  const gopts: GitOptions = { config: o.config ?? {}, signal: o.signal };
  const depth = o.depth ? [`--depth=${o.depth}`] : [];
  try {
    if (o.ref === undefined) {
      const branch = o.branch ? ['--branch', o.branch] : [];
      await runGit(['clone', '--no-checkout', '--single-branch', ...COMMON, ...depth, ...branch, '--', o.url, dir], gopts);
      return;
    }
    await mkdir(dir, { recursive: true });
    await runGit(['init', '-q', dir], gopts);
    await runGit(['-C', dir, 'remote', 'add', 'origin', o.url], gopts);
    await runGit(['-C', dir, 'config', 'remote.origin.promisor', 'true'], gopts);
    await runGit(['-C', dir, 'config', 'remote.origin.partialclonefilter', 'blob:none'], gopts);
    await runGit(['-C', dir, 'fetch', ...COMMON, ...depth, 'origin', `+${o.ref}:refs/artifact-fs/base`], gopts);
    const oid = (await runGit(['-C', dir, 'rev-parse', 'refs/artifact-fs/base^{commit}'], gopts)).trim();
    await runGit(['-C', dir, 'update-ref', '--no-deref', 'HEAD', oid], gopts);
  } catch (err) {
    if (err instanceof GitError) throw classify(err, o);
    throw err;
  }
}

/** The commit HEAD points at, and its committer time (seconds). */
export async function headCommit(gitDir: string): Promise<{ oid: string; time: number; tree: string }> {
  const out = (await runGit(['--git-dir', gitDir, 'log', '-1', '--format=%H %ct %T', 'HEAD'])).trim();
  const [oid, time, tree] = out.split(' ');
  return { oid: oid!, time: Number(time), tree: tree! };
}

/** The branch HEAD is on (short name), or null when HEAD is detached. */
export async function currentBranch(gitDir: string): Promise<string | null> {
  const out = await runGit(['--git-dir', gitDir, 'symbolic-ref', '-q', '--short', 'HEAD']).catch(() => '');
  return out.trim() || null;
}
