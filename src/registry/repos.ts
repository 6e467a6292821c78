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
}

interface Row {
  name: string; remote: string; branch: string | null; ref: string | null; mount_root: string | null;
  refresh: string; depth: number | null; git_dir: string; has_credentials: number; object_info: number;
  generation: number; created_at: string;
}

function fromRow(r: Row): RepoConfig {
  return {
    name: r.name, remote: r.remote, branch: r.branch, ref: r.ref, mountRoot: r.mount_root, refresh: r.refresh,
    depth: r.depth, gitDir: r.git_dir, hasCredentials: !!r.has_credentials, objectInfo: !!r.object_info,
    generation: r.generation, createdAt: r.created_at,
  };
}

export function listRepos(db: Db): RepoConfig[] {
  return (db.prepare('SELECT * FROM repos ORDER BY name').all() as Row[]).map(fromRow);
}

export function getRepo(db: Db, name: string): RepoConfig | undefined {
  const r = db.prepare('SELECT * FROM repos WHERE name = ?').get(name) as Row | undefined;
  return r && fromRow(r);
}

export function insertRepo(db: Db, c: RepoConfig): void {
  db.prepare(`INSERT INTO repos (name, remote, branch, ref, mount_root, refresh, depth, git_dir, has_credentials, object_info, generation, created_at)
              VALUES (@name, @remote, @branch, @ref, @mountRoot, @refresh, @depth, @gitDir, @hasCredentials, @objectInfo, @generation, @createdAt)`)
    .run({ ...c, hasCredentials: c.hasCredentials ? 1 : 0, objectInfo: c.objectInfo ? 1 : 0 });
}

export function deleteRepo(db: Db, name: string): boolean {
  return db.transaction(() => {
    db.prepare('DELETE FROM entries WHERE repo = ?').run(name);
    return db.prepare('DELETE FROM repos WHERE name = ?').run(name).changes > 0;
  })();
}
