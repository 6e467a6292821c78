// add-repo, synchronous mode: blobless clone, tree index, blob sizes from the server, snapshot
// persisted, then registered. Nothing is half-registered: the clone is built in a temp dir and
// moved into place only when everything succeeded, and the registry row and snapshot are
// written in one transaction after that move.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobLessClone, headCommit } from '../gitstore/clone.js';
import { setUpFsmonitor } from '../gitstore/fsmonitor-setup.js';
import { runGit } from '../gitstore/git-run.js';
import { createGitBlobFetcher } from '../gitstore/git-blob-fetcher.js';
import { writeIndex } from '../gitstore/index-writer.js';
import { listTree } from '../gitstore/tree-index.js';
import { BlobCache } from '../hydrator/blob-cache.js';
import { GIT_MODE_SYMLINK, type TreeEntry } from '../model/tree.js';
import type { Oid } from '../model/ids.js';
import type { Db } from '../registry/db.js';
import { getRepo, insertRepo } from '../registry/repos.js';
import { assignInodes, saveSnapshot } from '../registry/snapshot-store.js';
import type { StateRoot } from '../registry/state-root.js';
import { acquirePidLock } from '../util/pid-lock.js';
import { splitCredentials } from '../util/redact.js';
import { remoteAccess, type RemoteAccess } from './remote-access.js';
import { UsageError, type AddRepoSpec } from './repo-spec.js';
import { learnSizes, probeSizes } from './sizes.js';

export interface AddRepoResult {
  entries: number;
  blobs: number;
  sizesKnown: boolean;
}

/**
 * Blobs that are part of the tree's shape rather than its content: symlink targets (`ls -l`,
 * `find -ls` and path resolution read them) and the `.gitignore`/`.gitattributes` files that
 * `git status` reads. They are few and tiny: fetched with the tree, in one request.
 */
function shapeBlobs(entries: readonly TreeEntry[]): Oid[] {
  return entries.filter((e) => e.mode === GIT_MODE_SYMLINK || (e.type === 'blob' && SHAPE_FILES.has(e.path.slice(e.path.lastIndexOf('/') + 1)))).map((e) => e.oid);
}
const SHAPE_FILES = new Set(['.gitignore', '.gitattributes']);
/** The fsmonitor token of the index add-repo writes (any token works: see fsmonitor-journal.ts). */
const ADD_REPO_FSMONITOR_TOKEN = 'afs-add-repo';

async function prefetchShapeBlobs(root: StateRoot, gitDir: string, access: RemoteAccess, oids: Oid[]): Promise<void> {
  const unique = [...new Set(oids)];
  if (!unique.length) return;
  const cache = await BlobCache.open({ root: root.dir });
  await mkdir(root.scratchDir, { recursive: true, mode: 0o700 });
  const fetcher = createGitBlobFetcher(gitDir, { url: access.url, authorization: access.authorization, gitConfig: access.gitConfig, scratchDir: root.scratchDir, log: () => {} });
  try {
    await fetcher.fetch(unique, async (oid, size, content) => { await cache.write(oid, size, content); }, new AbortController().signal, { urgent: true });
  } finally {
    await fetcher.close();
  }
}

interface Prepared {
  gitDir: string;
  branch: string | null;
  head: { oid: string; time: number; tree: string };
  entries: TreeEntry[];
  sizes: Map<Oid, number> | undefined;
  inodes: Map<string, number>;
}

/** Clone, index, sizes, shape blobs and the git index, all inside `tmp` (nothing registered yet). */
async function prepare(root: StateRoot, tmp: string, spec: AddRepoSpec, access: RemoteAccess): Promise<Prepared> {
  const work = join(tmp, 'work');
  const probe = probeSizes(access); // one round trip, overlapping the clone
  probe.catch(() => {});
  await blobLessClone(work, { url: access.url, branch: spec.branch, ref: spec.ref, depth: spec.depth, config: access.gitConfig });
  const gitDir = join(work, '.git');
  const [branch, head, entries] = await Promise.all([
    spec.ref ? null : (spec.branch ?? runGit(['--git-dir', gitDir, 'symbolic-ref', '--short', 'HEAD']).then((s) => s.trim())),
    headCommit(gitDir),
    listTree(gitDir, 'HEAD'),
  ]);
  const blobOids = [...new Set(entries.filter((e) => e.type === 'blob').map((e) => e.oid))];
  const sizes = await learnSizes(await probe, blobOids);
  await prefetchShapeBlobs(root, gitDir, access, shapeBlobs(entries));
  const inodes = assignInodes(new Map(), entries.map((e) => e.path));
  // The index git will use in the mount: stat data equal to what the mount reports, so
  // `git status` reads no file and fetches no blob. Written before the mount exists.
  await writeIndex(gitDir, entries.filter((e) => e.type !== 'tree').map((e) => ({
    path: e.path, mode: e.mode, oid: e.oid, size: sizes?.get(e.oid) ?? (e.type === 'commit' ? 0 : -1), ino: inodes.get(e.path)!,
  })), {
    time: head.time, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    // The cache tree: git status compares the index with HEAD by tree id, not tree by tree.
    trees: [{ path: '', oid: head.tree as Oid }, ...entries.filter((e) => e.type === 'tree').map((e) => ({ path: e.path, oid: e.oid }))],
    // Every entry fsmonitor-valid as of add-repo: the first status asks the hook, which answers
    // "nothing changed" while the mount is pristine (repo-mount.ts), instead of an lstat each.
    fsmonitorToken: ADD_REPO_FSMONITOR_TOKEN,
  });
  return { gitDir, branch, head, entries, sizes, inodes };
}

function register(db: Db, root: StateRoot, spec: AddRepoSpec, access: RemoteAccess, hasCredentials: boolean, p: Prepared): void {
  db.transaction(() => {
    insertRepo(db, {
      name: spec.name, remote: access.url, branch: p.branch, ref: spec.ref ?? null, mountRoot: spec.mountRoot ?? null,
      refresh: spec.refresh, depth: spec.depth ?? null, gitDir: root.gitDir(spec.name),
      hasCredentials, objectInfo: p.sizes !== undefined, generation: 1, createdAt: new Date().toISOString(),
    });
    saveSnapshot(db, spec.name, 1, {
      commit: p.head.oid as Oid, commitTime: p.head.time,
      entries: p.entries.map((e) => ({ ...e, size: e.type === 'blob' ? (p.sizes?.get(e.oid) ?? -1) : 0, ino: p.inodes.get(e.path)! })),
    });
  })();
}

export async function addRepo(root: StateRoot, db: Db, spec: AddRepoSpec): Promise<AddRepoResult> {
  // One add-repo per name at a time: a concurrent one would replace this one's directory.
  const lock = await acquirePidLock(join(root.dir, 'repos', `.add-${spec.name}.lock`), (pid) => `another add-repo for '${spec.name}' is running (pid ${pid})`);
  try {
    if (getRepo(db, spec.name)) throw new UsageError(`repo '${spec.name}' already exists (remove-repo first)`);
    const split = splitCredentials(spec.remote);
    const access = remoteAccess(split.url, split.username, split.password);
    const hasCredentials = split.username !== undefined || split.password !== undefined;
    const tmp = join(root.dir, 'repos', `.tmp-${spec.name}-${randomBytes(4).toString('hex')}`);
    try {
      const p = await prepare(root, tmp, spec, access);
      if (hasCredentials) await writeFile(join(tmp, 'credentials.json'), JSON.stringify({ username: split.username, password: split.password }), { mode: 0o600 });
      const dest = root.repoDir(spec.name);
      await rm(dest, { recursive: true, force: true }); // an orphan left by a crash before registration
      await rename(tmp, dest);
      try {
        // The fsmonitor hook names absolute paths, so it is set up where the repo now lives.
        await setUpFsmonitor(root.gitDir(spec.name), { hook: root.fsmonitorHook(spec.name), journal: root.fsmonitorJournal(spec.name) });
        register(db, root, spec, access, hasCredentials, p);
      } catch (err) {
        await rm(dest, { recursive: true, force: true });
        throw err;
      }
      return { entries: p.entries.length, blobs: p.entries.filter((e) => e.type === 'blob').length, sizesKnown: p.sizes !== undefined };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } finally {
    await lock.release();
  }
}
