// Remote refresh for a mounted repo: fetch the tracked branch (or ref) into its remote-tracking
// ref and count commits ahead/behind. Never touches HEAD, the index or the work tree, and never
// downloads a blob: the git dir is a blobless partial clone, the fetch keeps the blob:none filter,
// and GIT_NO_LAZY_FETCH=1 makes git fail rather than fetch a missing object on the side.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  for (let attempt = 1; ; attempt++) {
    try {
      await runGit(args, { config: o.config, signal: o.signal, env: { GIT_NO_LAZY_FETCH: '1' } });
      return;
    } catch (err) {
      // Two fetches of one repo at once (two CLI commands without a daemon): the loser finds
      // the ref locked; the winner's result is as good, but fetch again to be sure of it.
      if (err instanceof GitError && LOCKED.test(err.stderr) && attempt < LOCK_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 100 * attempt));
        continue;
      }
      if (err instanceof GitError) throw new FetchError(describe(err.stderr, src));
      if ((err as Error).name === 'AbortError') throw new FetchError('fetch aborted (timed out or daemon stopping)');
      throw new FetchError(`fetch failed: ${(err as Error).message}`);
    }
  }
}

const LOCKED = /cannot lock ref|Unable to create '.*\.lock'/;
const LOCK_ATTEMPTS = 4;

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

/**
 * Counts locally (commits only: no blob is read, nothing is fetched). The count is remembered
 * per git dir with the two commits it was made for, which are read from the ref files: `status`
 * asks for it every time, and a git process per status costs 10–150 ms on a busy machine.
 */
export async function aheadBehind(gitDir: string, u: Upstream, signal?: AbortSignal): Promise<AheadBehind> {
  const head = resolveRef(gitDir, 'HEAD');
  let ref = trackingRef(u);
  let upstream = resolveRef(gitDir, ref);
  if (upstream === undefined && !('branch' in u)) upstream = resolveRef(gitDir, (ref = BEFORE_FIRST_REFRESH));
  const key = head !== undefined && upstream !== undefined ? `${head} ${upstream}` : undefined;
  const hit = counted.get(gitDir);
  if (key !== undefined && hit?.key === key) return hit.value;
  const args = ['--git-dir', gitDir, 'rev-list', '--left-right', '--count', key !== undefined ? `${head}...${upstream}` : `HEAD...${ref}`, '--'];
  const [ahead, behind] = (await runGit(args, { env: { GIT_NO_LAZY_FETCH: '1' }, signal })).trim().split(/\s+/).map(Number);
  const value = { ahead: ahead ?? 0, behind: behind ?? 0 };
  if (key !== undefined) counted.set(gitDir, { key, value });
  return value;
}

/** The last count per git dir (one entry per repo: bounded by the number of repos). */
const counted = new Map<string, { key: string; value: AheadBehind }>();

const OID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * The object id `name` (HEAD or a full ref name) points at, read from the git dir's files (loose
 * ref, else packed-refs; symbolic refs followed): undefined when it does not exist or is stored
 * some other way (the caller then asks git). Synchronous on purpose: the files are tiny and
 * cached, and in the daemon the libuv threadpool is often queued with hydration I/O, which would
 * add its queueing delay to every `status`.
 */
export function resolveRef(gitDir: string, name: string): string | undefined {
  const read = (p: string): string | undefined => {
    try {
      return readFileSync(join(gitDir, p), 'utf8');
    } catch {
      return undefined;
    }
  };
  for (let depth = 0; depth < 5; depth++) {
    const text = read(name)?.trim();
    if (text?.startsWith('ref: ')) { name = text.slice(5); continue; }
    if (text !== undefined) return OID.test(text) ? text : undefined;
    for (const line of (read('packed-refs') ?? '').split('\n')) {
      if (line.endsWith(` ${name}`) && !line.startsWith('#') && !line.startsWith('^')) {
        const oid = line.slice(0, line.indexOf(' '));
        return OID.test(oid) ? oid : undefined;
      }
    }
    return undefined;
  }
  return undefined;
}
