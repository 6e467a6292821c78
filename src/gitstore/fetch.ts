// Remote refresh for a mounted repo: fetch the tracked branch (or ref) into its remote-tracking
// ref and count commits ahead/behind. Never touches HEAD, the index or the work tree, and never
// downloads a blob: the git dir is a blobless partial clone, the fetch keeps the blob:none filter,
// and GIT_NO_LAZY_FETCH=1 makes git fail rather than fetch a missing object on the side.

import { GitError, lastLine, runGit } from './git-run.js';
import { redactUrl } from '../util/redact.js';

/** What a repo follows: a branch (refs/heads/B) or, for `add-repo --ref`, a full ref name. */
export type Upstream = { branch: string } | { ref: string };

/**
 * Where the remote's value lands. A branch: `refs/remotes/origin/<branch>`, as git itself would.
 * A `--ref` repo (detached HEAD): `refs/artifact-fs/upstream`; before its first refresh the
 * clone's `refs/artifact-fs/base` (the value the repo was cloned from) stands in.
 */
export function trackingRef(u: Upstream): string {
  return 'branch' in u ? `refs/remotes/origin/${u.branch}` : 'refs/artifact-fs/upstream';
}

const BEFORE_FIRST_REFRESH = 'refs/artifact-fs/base';

export class FetchError extends Error {
  readonly code = 'fetch-failed';
  constructor(message: string) {
    // One line, credentials redacted at creation (the message is persisted and printed as is).
    super(redactUrl(message).replace(/\s*\n\s*/g, ' ').slice(0, 400));
    this.name = 'FetchError';
  }
}

export interface FetchOptions {
  /** Git config carrying the remote's credentials (GIT_CONFIG_* env, never argv). */
  config?: Record<string, string>;
  signal?: AbortSignal;
}

/** No lazy fetch, and none of the side work a fetch may start in a repo the daemon serves. */
const NO_SIDE_EFFECTS = ['--no-tags', '--no-write-fetch-head', '--no-auto-maintenance', '--no-recurse-submodules', '--quiet'];

/** Fetches `u` from `origin` into trackingRef(u). Rejects FetchError with one clean line. */
export async function fetchUpstream(gitDir: string, u: Upstream, o: FetchOptions = {}): Promise<void> {
  const src = 'branch' in u ? `refs/heads/${u.branch}` : u.ref;
  const args = ['--git-dir', gitDir, 'fetch', ...NO_SIDE_EFFECTS, '--filter=blob:none', 'origin', `+${src}:${trackingRef(u)}`];
  try {
    await runGit(args, { config: o.config, signal: o.signal, env: { GIT_NO_LAZY_FETCH: '1' } });
  } catch (err) {
    if (err instanceof GitError) throw new FetchError(describe(err.stderr, src));
    if ((err as Error).name === 'AbortError') throw new FetchError('fetch aborted (timed out or daemon stopping)');
    throw new FetchError(`fetch failed: ${(err as Error).message}`);
  }
}

function describe(stderr: string, src: string): string {
  if (/couldn't find remote ref/i.test(stderr)) return `fetch failed: ${src} not found on the remote`;
  return `fetch failed: ${lastLine(stderr).replace(/^(fatal|error): /, '') || 'git gave no message'}`;
}

export interface AheadBehind {
  /** Commits in HEAD not in the tracking ref. */
  ahead: number;
  /** Commits in the tracking ref not in HEAD. */
  behind: number;
}

/** Counts locally (commits only: no blob is read, nothing is fetched). */
export async function aheadBehind(gitDir: string, u: Upstream, signal?: AbortSignal): Promise<AheadBehind> {
  const count = async (ref: string) => {
    const out = await runGit(['--git-dir', gitDir, 'rev-list', '--left-right', '--count', `HEAD...${ref}`, '--'], { env: { GIT_NO_LAZY_FETCH: '1' }, signal });
    const [ahead, behind] = out.trim().split(/\s+/).map(Number);
    return { ahead: ahead ?? 0, behind: behind ?? 0 };
  };
  if ('branch' in u) return count(trackingRef(u));
  try {
    return await count(trackingRef(u));
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    return count(BEFORE_FIRST_REFRESH);
  }
}
