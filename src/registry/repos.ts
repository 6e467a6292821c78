// Repo configurations in the registry.

import type { Db } from './db.js';

export interface RepoConfig {
  name: string;
  /** Remote URL without credentials. */
  remote: string;
  branch: string | null;
  ref: string | null;
  mountRoot: string | null;
  refresh: string;
  depth: number | null;
  gitDir: string;
  hasCredentials: boolean;
  objectInfo: boolean;
  generation: number;
  createdAt: string;
  /** `unmount` was asked: the daemon leaves it unmounted (across restarts) until `remount`. */
  unmounted: boolean;
  /** The verified commit the base is pinned to (refresh is always 'never' then). */
  requireCommit: string | null;
  /** The prepared git dir this repo's git dir was copied from. */
  sourceGitDir: string | null;
  /** With sourceGitDir: the full ref fetched and fast-forwarded to. */
  fetchRef: string | null;
  /**
   * Async add-repo's progress (PREPARE_STATES). Anything but 'ready': no snapshot (generation 0),
   * no git dir yet, and the daemon mounts a gated placeholder.
   */
  prepareState: PrepareState;
  /** With 'failed': one redacted line saying why. */
  prepareError: string | null;
  /** Until 'ready': the add-repo spec (JSON, remote without credentials) the daemon prepares from. */
  prepareSpec: string | null;
}

/**
 * queued → preparing (the daemon took it) → ready (snapshot registered) or failed (prepare_error);
 * failed → queued (`prepare`); preparing → queued (the daemon stopped or died mid-way).
 */
export const PREPARE_STATES = ['ready', 'queued', 'preparing', 'failed'] as const;
export type PrepareState = (typeof PREPARE_STATES)[number];

interface Row {
  name: string; remote: string; branch: string | null; ref: string | null; mount_root: string | null;
  refresh: string; depth: number | null; git_dir: string; has_credentials: number; object_info: number;
  generation: number; created_at: string; unmounted: number;
  require_commit: string | null; source_git_dir: string | null; fetch_ref: string | null;
  prepare_state: string; prepare_error: string | null; prepare_spec: string | null;
}

function fromRow(r: Row): RepoConfig {
  return {
    name: r.name, remote: r.remote, branch: r.branch, ref: r.ref, mountRoot: r.mount_root, refresh: r.refresh,
    depth: r.depth, gitDir: r.git_dir, hasCredentials: !!r.has_credentials, objectInfo: !!r.object_info,
    generation: r.generation, createdAt: r.created_at, unmounted: !!r.unmounted,
    requireCommit: r.require_commit, sourceGitDir: r.source_git_dir, fetchRef: r.fetch_ref,
    prepareState: (PREPARE_STATES as readonly string[]).includes(r.prepare_state) ? r.prepare_state as PrepareState : 'failed',
    prepareError: r.prepare_error, prepareSpec: r.prepare_spec,
  };
}

export function listRepos(db: Db): RepoConfig[] {
  return (db.prepare('SELECT * FROM repos ORDER BY name').all() as Row[]).map(fromRow);
}

export function getRepo(db: Db, name: string): RepoConfig | undefined {
  const r = db.prepare('SELECT * FROM repos WHERE name = ?').get(name) as Row | undefined;
  return r && fromRow(r);
}

/** What add-repo registers: always wanted mounted; the source columns optional (null: a plain clone). */
type Optional = 'requireCommit' | 'sourceGitDir' | 'fetchRef' | 'prepareState' | 'prepareSpec';
export type NewRepo = Omit<RepoConfig, 'unmounted' | 'prepareError' | Optional> & Partial<Pick<RepoConfig, Optional>>;

export function insertRepo(db: Db, c: NewRepo): void {
  db.prepare(`INSERT INTO repos (name, remote, branch, ref, mount_root, refresh, depth, git_dir, has_credentials, object_info, generation, created_at, require_commit, source_git_dir, fetch_ref, prepare_state, prepare_spec)
              VALUES (@name, @remote, @branch, @ref, @mountRoot, @refresh, @depth, @gitDir, @hasCredentials, @objectInfo, @generation, @createdAt, @requireCommit, @sourceGitDir, @fetchRef, @prepareState, @prepareSpec)`)
    .run({ requireCommit: null, sourceGitDir: null, fetchRef: null, prepareState: 'ready', prepareSpec: null, ...c, hasCredentials: c.hasCredentials ? 1 : 0, objectInfo: c.objectInfo ? 1 : 0 });
}

export function deleteRepo(db: Db, name: string): boolean {
  return db.transaction(() => {
    db.prepare('DELETE FROM entries WHERE repo = ?').run(name);
    return db.prepare('DELETE FROM repos WHERE name = ?').run(name).changes > 0;
  })();
}

/**
 * Single-column updates: two commands changing different settings of one repo at the same
 * moment both land (no read-modify-write of the row). Return false when the repo does not exist.
 */
export function setRefresh(db: Db, name: string, refresh: string): boolean {
  return db.prepare('UPDATE repos SET refresh = ? WHERE name = ?').run(refresh, name).changes > 0;
}

export function setUnmounted(db: Db, name: string, unmounted: boolean): boolean {
  return db.prepare('UPDATE repos SET unmounted = ? WHERE name = ?').run(unmounted ? 1 : 0, name).changes > 0;
}

/**
 * Moves `name` from one of `from` to `to` (compare-and-set: a preparation never overwrites a
 * state someone else changed meanwhile, e.g. a remove-repo). 'failed' takes `error`; every other
 * state clears it. Returns false when the repo does not exist or was not in `from`.
 */
export function setPrepareState(db: Db, name: string, from: readonly PrepareState[], to: PrepareState, error: string | null = null): boolean {
  const marks = from.map(() => '?').join(', ');
  return db.prepare(`UPDATE repos SET prepare_state = ?, prepare_error = ? WHERE name = ? AND prepare_state IN (${marks})`)
    .run(to, to === 'failed' ? error : null, name, ...from).changes > 0;
}

/** Every repo some daemon was preparing when it stopped goes back to the queue. Returns how many. */
export function requeueInterrupted(db: Db): number {
  return db.prepare(`UPDATE repos SET prepare_state = 'queued' WHERE prepare_state = 'preparing'`).run().changes;
}

/** What a finished preparation learned about an async repo (the columns sync add-repo fills at insert). */
export interface PreparedColumns {
  remote: string;
  branch: string | null;
  ref: string | null;
  objectInfo: boolean;
  sourceGitDir: string | null;
  fetchRef: string | null;
}

/**
 * Marks the async repo `name` registered `createdAt` ready at generation 1 (the caller writes
 * that snapshot in the same transaction). False when it is no longer that repo preparing (it
 * was removed, or removed and added again, meanwhile): nothing is changed then.
 */
export function markPrepared(db: Db, name: string, createdAt: string, p: PreparedColumns): boolean {
  return db.prepare(`UPDATE repos SET prepare_state = 'ready', prepare_error = NULL, prepare_spec = NULL, generation = 1,
                       remote = @remote, branch = @branch, ref = @ref, object_info = @objectInfo, source_git_dir = @sourceGitDir, fetch_ref = @fetchRef
                     WHERE name = @name AND created_at = @createdAt AND prepare_state = 'preparing'`)
    .run({ ...p, objectInfo: p.objectInfo ? 1 : 0, name, createdAt }).changes > 0;
}
