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
  remote: string;
  branch?: string;
  ref?: string;
  mountRoot?: string;
  refresh: string;
  depth?: number;
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

export function validateSpec(raw: { name?: string; remote?: string; branch?: string; ref?: string; mountRoot?: string; refresh?: string; depth?: string }): AddRepoSpec {
  const name = validateName(raw.name);
  if (!raw.remote) throw new UsageError('--remote is required');
  if (raw.branch !== undefined && raw.ref !== undefined) throw new UsageError('--branch and --ref cannot be used together');
  if (raw.branch === '') throw new UsageError('--branch is empty');
  if (raw.ref !== undefined && !/^refs\/[^\s~^:?*[\\]+$/.test(raw.ref)) {
    throw new UsageError(`invalid --ref '${raw.ref}': give a full ref name such as refs/tags/v1.0 or refs/pull/1/head`);
  }
  const refresh = raw.refresh ?? '30s';
  parseRefresh(refresh);
  return { name, remote: raw.remote, branch: raw.branch, ref: raw.ref, mountRoot: raw.mountRoot, refresh, depth: parseDepth(raw.depth) };
}
