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
}

interface Row {
  name: string; remote: string; branch: string | null; ref: string | null; mount_root: string | null;
  refresh: string; depth: number | null; git_dir: string; has_credentials: number; object_info: number;
  generation: number; created_at: string; unmounted: number;
  require_commit: string | null; source_git_dir: string | null; fetch_ref: string | null;
}

function fromRow(r: Row): RepoConfig {
  return {
    name: r.name, remote: r.remote, branch: r.branch, ref: r.ref, mountRoot: r.mount_root, refresh: r.refresh,
    depth: r.depth, gitDir: r.git_dir, hasCredentials: !!r.has_credentials, objectInfo: !!r.object_info,
    generation: r.generation, createdAt: r.created_at, unmounted: !!r.unmounted,
    requireCommit: r.require_commit, sourceGitDir: r.source_git_dir, fetchRef: r.fetch_ref,
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
export type NewRepo = Omit<RepoConfig, 'unmounted' | 'requireCommit' | 'sourceGitDir' | 'fetchRef'> & Partial<Pick<RepoConfig, 'requireCommit' | 'sourceGitDir' | 'fetchRef'>>;

export function insertRepo(db: Db, c: NewRepo): void {
  db.prepare(`INSERT INTO repos (name, remote, branch, ref, mount_root, refresh, depth, git_dir, has_credentials, object_info, generation, created_at, require_commit, source_git_dir, fetch_ref)
              VALUES (@name, @remote, @branch, @ref, @mountRoot, @refresh, @depth, @gitDir, @hasCredentials, @objectInfo, @generation, @createdAt, @requireCommit, @sourceGitDir, @fetchRef)`)
    .run({ requireCommit: null, sourceGitDir: null, fetchRef: null, ...c, hasCredentials: c.hasCredentials ? 1 : 0, objectInfo: c.objectInfo ? 1 : 0 });
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
