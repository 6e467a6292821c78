// add-repo, synchronous mode: acquire the source (blobless clone, or a copy of a prepared git
// dir fast-forwarded to a ref), verify a required commit, index the tree, learn blob sizes from
// the server, write the git index, then register. Nothing is half-registered: everything is built
// in a temp dir by prepareRepo() (a function of the spec alone: it can run in the daemon too),
// moved into place only when it all succeeded, and the registry row and snapshot are written in
// one transaction after that move.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setUpFsmonitor } from '../gitstore/fsmonitor-setup.js';
import { configureCredentialHelper, writeCredentialsFile } from '../gitstore/credential-helper.js';
import { createGitBlobFetcher } from '../gitstore/git-blob-fetcher.js';
import { writeIndex } from '../gitstore/index-writer.js';
import { listTree } from '../gitstore/tree-index.js';
import { BlobCache } from '../hydrator/blob-cache.js';
import type { TreeEntry } from '../model/tree.js';
import type { Oid } from '../model/ids.js';
import type { Db } from '../registry/db.js';
import { getRepo, insertRepo } from '../registry/repos.js';
import { assignInodes, saveSnapshot } from '../registry/snapshot-store.js';
import type { StateRoot } from '../registry/state-root.js';
import { acquirePidLock } from '../util/pid-lock.js';
import { remoteAccess, type RemoteAccess } from './remote-access.js';
import { acquireSource, resolveRemote, type AcquiredSource } from './repo-source.js';
import { isShapeBlob } from './shape-blobs.js';
import { UsageError, type AddRepoSpec } from './repo-spec.js';
import { learnSizes, probeSizes } from './sizes.js';

export interface AddRepoResult {
  entries: number;
  blobs: number;
  sizesKnown: boolean;
}

/** The shape blobs of a tree (shape-blobs.ts): fetched with the tree, in one request. */
function shapeBlobs(entries: readonly TreeEntry[]): Oid[] {
  return entries.filter((e) => e.type === 'blob' && isShapeBlob(e.path, e.mode)).map((e) => e.oid);
}
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

/** Everything add-repo built in its temp dir, ready to install and register. */
export interface PreparedRepo {
  source: AcquiredSource;
  /** Remote URL without credentials. */
  remote: string;
  hasCredentials: boolean;
  entries: TreeEntry[];
  sizes: Map<Oid, number> | undefined;
  inodes: Map<string, number>;
}

/**
 * Builds the repo in `tmp` (must not exist): `<tmp>/work/.git` and, when the URL carried
 * credentials, `<tmp>/credentials` (0600) with the git dir's credential helper pointing at its
 * installed path. Registers nothing and touches nothing outside `tmp` but the shared blob cache.
 */
export async function prepareRepo(root: StateRoot, tmp: string, spec: AddRepoSpec): Promise<PreparedRepo> {
  const src = await resolveRemote(spec);
  const { url, username, password } = src.remote;
  const access = remoteAccess(url, username, password);
  const hasCredentials = username !== undefined || password !== undefined;
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  const probe = probeSizes(access); // one round trip, overlapping the clone
  probe.catch(() => {});
  const source = await acquireSource(join(tmp, 'work'), spec, src, access);
  const entries = await listTree(source.gitDir, 'HEAD');
  const blobOids = [...new Set(entries.filter((e) => e.type === 'blob').map((e) => e.oid))];
  const sizes = await learnSizes(await probe, blobOids);
  await prefetchShapeBlobs(root, source.gitDir, access, shapeBlobs(entries));
  const inodes = assignInodes(new Map(), entries.map((e) => e.path));
  // The index git will use in the mount: stat data equal to what the mount reports, so
  // `git status` reads no file and fetches no blob. Written before the mount exists.
  await writeIndex(source.gitDir, entries.filter((e) => e.type !== 'tree').map((e) => ({
    path: e.path, mode: e.mode, oid: e.oid, size: sizes?.get(e.oid) ?? (e.type === 'commit' ? 0 : -1), ino: inodes.get(e.path)!,
  })), {
    time: source.head.time, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    // The cache tree: git status compares the index with HEAD by tree id, not tree by tree.
    trees: [{ path: '', oid: source.head.tree as Oid }, ...entries.filter((e) => e.type === 'tree').map((e) => ({ path: e.path, oid: e.oid }))],
    // Every entry fsmonitor-valid as of add-repo: the first status asks the hook, which answers
    // "nothing changed" while the mount is pristine (repo-mount.ts), instead of an lstat each.
    fsmonitorToken: ADD_REPO_FSMONITOR_TOKEN,
  });
  if (hasCredentials) {
    // Git in the mount (lazy fetches, fetch, pull, push) authenticates through this, without
    // the credentials ever entering the git config. Configured before the mount can exist.
    await writeCredentialsFile(join(tmp, 'credentials'), { username: username ?? '', password: password ?? '' });
    await configureCredentialHelper(source.gitDir, url, root.credentialsFile(spec.name));
  }
  return { source, remote: url, hasCredentials, entries, sizes, inodes };
}

function register(db: Db, root: StateRoot, spec: AddRepoSpec, p: PreparedRepo): void {
  db.transaction(() => {
    insertRepo(db, {
      name: spec.name, remote: p.remote, branch: p.source.branch, ref: p.source.ref, mountRoot: spec.mountRoot ?? null,
      refresh: spec.refresh, depth: spec.depth ?? null, gitDir: root.gitDir(spec.name),
      hasCredentials: p.hasCredentials, objectInfo: p.sizes !== undefined, generation: 1, createdAt: new Date().toISOString(),
      requireCommit: spec.requireCommit ?? null, sourceGitDir: p.source.preparedFrom, fetchRef: p.source.fetchRef,
    });
    saveSnapshot(db, spec.name, 1, {
      commit: p.source.head.oid as Oid, commitTime: p.source.head.time,
      entries: p.entries.map((e) => ({ ...e, size: e.type === 'blob' ? (p.sizes?.get(e.oid) ?? -1) : 0, ino: p.inodes.get(e.path)! })),
    });
  })();
}

export async function addRepo(root: StateRoot, db: Db, spec: AddRepoSpec): Promise<AddRepoResult> {
  // One add-repo per name at a time: a concurrent one would replace this one's directory.
  const lock = await acquirePidLock(join(root.dir, 'repos', `.add-${spec.name}.lock`), (pid) => `another add-repo for '${spec.name}' is running (pid ${pid})`);
  try {
    if (getRepo(db, spec.name)) throw new UsageError(`repo '${spec.name}' already exists (remove-repo first)`);
    const tmp = join(root.dir, 'repos', `.tmp-${spec.name}-${randomBytes(4).toString('hex')}`);
    try {
      const p = await prepareRepo(root, tmp, spec);
      const dest = root.repoDir(spec.name);
      await rm(dest, { recursive: true, force: true }); // an orphan left by a crash before registration
      await rename(tmp, dest);
      try {
        // The fsmonitor hook names absolute paths, so it is set up where the repo now lives.
        await setUpFsmonitor(root.gitDir(spec.name), { hook: root.fsmonitorHook(spec.name), journal: root.fsmonitorJournal(spec.name) });
        register(db, root, spec, p);
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
