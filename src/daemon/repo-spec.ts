// Validation of what add-repo is given: one table of rules, one clear line per failure.

export class UsageError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface AddRepoSpec {
  name: string;
  /**
   * Remote URL as given (may carry https userinfo; split off before git sees it). Undefined only
   * with a prepared git dir, whose `remote.origin.url` is used then.
   */
  remote?: string;
  branch?: string;
  /** A full ref name checked out as a detached HEAD (refs/tags/v1, refs/pull/1/head). */
  ref?: string;
  mountRoot?: string;
  /** '30s', '5m', 'never'. Always 'never' with requireCommit. */
  refresh: string;
  depth?: number;
  /**
   * An existing git dir prepared by someone else (a CI cache): copied (objects hard-linked), never
   * written. See docs/sources-and-credentials.md.
   */
  preparedGitDir?: string;
  /** With preparedGitDir: the ref fetched and fast-forwarded to (rewinds are refused). */
  fetchRef?: string;
  /** The exact commit (lower-case hex) the checked-out ref must resolve to; the base never moves. */
  requireCommit?: string;
}

export interface RawAddRepoArgs {
  name?: string;
  remote?: string;
  branch?: string;
  ref?: string;
  mountRoot?: string;
  refresh?: string;
  depth?: string;
  preparedGitdir?: boolean;
  gitDir?: string;
  fetchRef?: string;
  requireCommit?: string;
}

/** Names become path components under the state root and the mount root. */
export function validateName(name: string | undefined): string {
  if (name === undefined || name === '') throw new UsageError('--name is required');
  if (/[/\\\0\n]/.test(name) || name.includes('..') || name === '.' || name.startsWith('-') || name.startsWith('.')) {
    throw new UsageError(`invalid repo name '${name}': use letters, digits, '-', '_' and '.', not '/', '\\' or '..'`);
  }
  if (Buffer.byteLength(name) > 200) throw new UsageError('repo name is too long (200 bytes at most)');
  return name;
}

const INTERVAL = /^(\d+)(ms|s|m|h)$/;

/** '30s', '5m', '1h', '500ms' or 'never'. Returns milliseconds, or null for never. */
export function parseRefresh(v: string): number | null {
  if (v === 'never') return null;
  const m = INTERVAL.exec(v);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (!m || Number(m[1]) <= 0) throw new UsageError(`invalid --refresh interval '${v}': use e.g. 30s, 5m, 1h or never`);
  return Number(m[1]) * unit[m[2] as keyof typeof unit];
}

export function parseDepth(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid --depth '${v}': must be a positive integer`);
  return Number(v);
}

/** A full ref name git accepts as a refspec source: refs/…, no spaces, globs or revision syntax. */
const FULL_REF = /^refs\/[^\s~^:?*[\\]+$/;
/** A branch name (short form) as --branch / --fetch-ref take it. */
const BRANCH = /^(?!-)(?!.*\.\.)[^\s~^:?*[\\]+$/;

export function parseRequireCommit(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const oid = v.toLowerCase();
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(oid)) throw new UsageError(`invalid --require-commit '${v}': give a full 40- or 64-character commit id`);
  return oid;
}

/** `main` and `refs/heads/main` name the same branch; anything under refs/ is taken as is. */
export function fullRefName(ref: string): string {
  return ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
}

function validatePrepared(raw: RawAddRepoArgs): void {
  if (!raw.preparedGitdir) {
    if (raw.gitDir !== undefined) throw new UsageError('--git-dir needs --prepared-gitdir');
    if (raw.fetchRef !== undefined) throw new UsageError('--fetch-ref needs --prepared-gitdir');
    return;
  }
  if (!raw.gitDir) throw new UsageError('--git-dir is required with --prepared-gitdir');
  if (raw.depth !== undefined) throw new UsageError('--depth cannot be used with --prepared-gitdir: the prepared git dir brings its own history');
  if (raw.fetchRef !== undefined && !(FULL_REF.test(raw.fetchRef) || BRANCH.test(raw.fetchRef))) {
    throw new UsageError(`invalid --fetch-ref '${raw.fetchRef}': give a branch name or a full ref such as refs/pull/1/head`);
  }
  const checkedOut = raw.branch ?? raw.ref;
  if (raw.fetchRef !== undefined && checkedOut !== undefined && fullRefName(raw.fetchRef) !== fullRefName(checkedOut)) {
    throw new UsageError(`--fetch-ref '${raw.fetchRef}' and --${raw.branch !== undefined ? 'branch' : 'ref'} '${checkedOut}' name different refs`);
  }
}

export function validateSpec(raw: RawAddRepoArgs): AddRepoSpec {
  const name = validateName(raw.name);
  if (!raw.remote && !raw.preparedGitdir) throw new UsageError('--remote is required');
  if (raw.branch !== undefined && raw.ref !== undefined) throw new UsageError('--branch and --ref cannot be used together');
  if (raw.branch === '') throw new UsageError('--branch is empty');
  if (raw.branch !== undefined && !BRANCH.test(raw.branch)) throw new UsageError(`invalid --branch '${raw.branch}'`);
  if (raw.ref !== undefined && !FULL_REF.test(raw.ref)) {
    throw new UsageError(`invalid --ref '${raw.ref}': give a full ref name such as refs/tags/v1.0 or refs/pull/1/head`);
  }
  validatePrepared(raw);
  const requireCommit = parseRequireCommit(raw.requireCommit);
  // A verified source is pinned: a refresh that moved the base would mount a commit nobody
  // verified. An explicit interval contradicts the pin and is refused rather than ignored.
  if (requireCommit && raw.refresh !== undefined && raw.refresh !== 'never') {
    throw new UsageError(`--require-commit pins the base commit: use --refresh never (or leave --refresh out), not '${raw.refresh}'`);
  }
  const refresh = raw.refresh ?? (requireCommit ? 'never' : '30s');
  parseRefresh(refresh);
  const fetchRef = raw.preparedGitdir ? (raw.fetchRef ?? raw.branch ?? raw.ref) : undefined;
  return {
    name, remote: raw.remote || undefined, branch: raw.branch, ref: raw.ref, mountRoot: raw.mountRoot, refresh, depth: parseDepth(raw.depth),
    preparedGitDir: raw.preparedGitdir ? raw.gitDir : undefined, fetchRef, requireCommit,
  };
}
