// add-repo, list-repos, remove-repo, status: registry commands that work with or without a
// running daemon (the daemon follows the registry within a second).

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { addRepo } from '../daemon/add-repo.js';
import { validateName, validateSpec } from '../daemon/repo-spec.js';
import { readRuntime } from '../daemon/runtime-state.js';
import { mountpointFor } from '../daemon/repo-mount.js';
import { runGit } from '../gitstore/git-run.js';
import { openDb, type Db } from '../registry/db.js';
import { deleteRepo, getRepo, listRepos, type RepoConfig } from '../registry/repos.js';
import { loadSnapshot } from '../registry/snapshot-store.js';
import { stateRoot, type StateRoot } from '../registry/state-root.js';
import { parse } from './args.js';
import { join } from 'node:path';

const out = (s: string) => process.stdout.write(s + '\n');

/** Opens the registry for one command and closes it whatever happens. */
async function withRegistry<T>(root: StateRoot, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = openDb(root.db);
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

export async function addRepoCommand(args: string[]): Promise<number> {
  // `--remote https://user:secret@…` is in this process's argv: replacing the title overwrites
  // the argv area, so /proc/<pid>/cmdline (ps) no longer shows it for the rest of the run.
  process.title = 'artifact-fs add-repo';
  const f = parse('add-repo', args, {
    name: { type: 'string' }, remote: { type: 'string' }, branch: { type: 'string' }, ref: { type: 'string' },
    'mount-root': { type: 'string' }, refresh: { type: 'string' }, depth: { type: 'string' },
    'prepared-gitdir': { type: 'boolean' }, 'git-dir': { type: 'string' }, 'fetch-ref': { type: 'string' }, 'require-commit': { type: 'string' },
  });
  const spec = validateSpec({
    ...f, mountRoot: f['mount-root'] !== undefined ? resolve(f['mount-root']) : undefined,
    preparedGitdir: f['prepared-gitdir'], gitDir: f['git-dir'] !== undefined ? resolve(f['git-dir']) : undefined,
    fetchRef: f['fetch-ref'], requireCommit: f['require-commit'],
  });
  const root = stateRoot();
  return withRegistry(root, async (db) => {
    const r = await addRepo(root, db, spec);
    out(`added ${spec.name}`);
    if (!r.sizesKnown) process.stderr.write(`artifact-fs: note: the remote does not serve object-info; file sizes are learned on first stat\n`);
    return 0;
  });
}

export async function listReposCommand(args: string[]): Promise<number> {
  parse('list-repos', args, {});
  const root = stateRoot();
  if (!existsSync(root.db)) return 0;
  return withRegistry(root, async (db) => {
    for (const c of listRepos(db)) out([c.name, c.branch ?? c.ref ?? '', mountpointFor(c, undefined, root), c.remote].join('\t'));
    return 0;
  });
}

export async function removeRepoCommand(args: string[]): Promise<number> {
  const f = parse('remove-repo', args, { name: { type: 'string' }, purge: { type: 'boolean' } });
  const name = validateName(f.name);
  const root = stateRoot();
  return withRegistry(root, async (db) => {
    if (!getRepo(db, name)) throw new Error(`no repo named '${name}'`);
    deleteRepo(db, name);
    if (f.purge) await rm(root.repoDir(name), { recursive: true, force: true });
    out(`removed ${name}${f.purge ? ' (purged)' : ''}`);
    return 0;
  });
}

async function aheadBehind(c: RepoConfig): Promise<{ ahead: number; behind: number }> {
  if (!c.branch) return { ahead: 0, behind: 0 };
  try {
    const o = await runGit(['--git-dir', c.gitDir, 'rev-list', '--left-right', '--count', `HEAD...refs/remotes/origin/${c.branch}`], { env: { GIT_NO_LAZY_FETCH: '1' } });
    const [ahead, behind] = o.trim().split(/\s+/).map(Number);
    return { ahead: ahead ?? 0, behind: behind ?? 0 };
  } catch {
    return { ahead: 0, behind: 0 };
  }
}

export async function statusCommand(args: string[]): Promise<number> {
  const f = parse('status', args, { name: { type: 'string' }, json: { type: 'boolean' } });
  const name = validateName(f.name);
  const root = stateRoot();
  return withRegistry(root, async (db) => {
    const c = getRepo(db, name);
    if (!c) throw new Error(`no repo named '${name}'`);
    const snap = loadSnapshot(db, name, c.generation);
    const live = readRuntime(db, name);
    const { ahead, behind } = await aheadBehind(c);
    const overlayDirty = db.prepare('SELECT 1 FROM overlay_nodes WHERE repo = ? LIMIT 1').get(name) !== undefined;
    // Without a live daemon, hydration is what the shared cache holds.
    const t = snap?.blobTotals((oid) => !live && existsSync(join(root.cacheDir, 'blobs', oid.slice(0, 2), oid)))
      ?? { totalBlobs: 0, totalBytes: 0, hydratedBlobs: 0, hydratedBytes: 0 };
    const fields: Array<[string, string | number | boolean]> = [
      ['repo', name], ['state', live ? 'mounted' : 'unmounted'], ['head', snap?.commit ?? ''], ['ref', c.branch ?? c.ref ?? ''],
      ['ahead', ahead], ['behind', behind], ['diverged', ahead > 0 && behind > 0], ['last_fetch', c.createdAt], ['result', 'ok'],
      ['prepare_error', ''], ['hydrated_blobs', live?.hydratedBlobs ?? t.hydratedBlobs], ['hydrated_bytes', live?.hydratedBytes ?? t.hydratedBytes],
      ['overlay_dirty', overlayDirty], ['total_blobs', t.totalBlobs], ['total_bytes', t.totalBytes], ['queued', live?.queued ?? 0],
      ['mountpoint', live?.mountpoint ?? mountpointFor(c, undefined, root)],
    ];
    out(f.json ? JSON.stringify(Object.fromEntries(fields)) : fields.map(([k, v]) => `${k}=${v}`).join(' '));
    return 0;
  });
}
