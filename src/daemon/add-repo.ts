// add-repo, synchronous mode: acquire the source (blobless clone, or a copy of a prepared git
// dir fast-forwarded to a ref), verify a required commit, index the tree, learn blob sizes from
// the server, write the git index, then register. Nothing is half-registered: everything is built
// in a temp dir by prepareRepo() (a function of the spec and the credentials alone: the daemon
// runs it too, for async add-repo: add-repo-async.ts, preparer.ts), moved into place only when
// it all succeeded, and the registry row and snapshot are written in one transaction after that.
//
// Credentials are split off the remote URL first (repo-staging.ts: separateCredentials) and
// written, 0600, to `<repo dir>/credentials` (stageRepoDir) before anything else runs: git, our protocol client
// and the helper git uses in the mount all read them from there, in both modes.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsmonitorWanted, setUpFsmonitor } from '../gitstore/fsmonitor-setup.js';
import { configureCredentialHelper, type Credentials } from '../gitstore/credential-helper.js';
import { createGitBlobFetcher } from '../gitstore/git-blob-fetcher.js';
import { writeIndex } from '../gitstore/index-writer.js';
import { listTree } from '../gitstore/tree-index.js';
import { BlobCache } from '../hydrator/blob-cache.js';
import type { TreeEntry } from '../model/tree.js';
import type { Oid } from '../model/ids.js';
import type { Db } from '../registry/db.js';
import { insertRepo } from '../registry/repos.js';
import { assignInodes, saveSnapshot } from '../registry/snapshot-store.js';
import type { StateRoot } from '../registry/state-root.js';
import { remoteAccess, type RemoteAccess } from './remote-access.js';
import { acquireSource, resolveRemote, type AcquiredSource } from './repo-source.js';
import type { AddRepoSpec } from './repo-spec.js';
import { separateCredentials, stageRepoDir, withAddLock } from './repo-staging.js';
import { isShapeBlob } from './shape-blobs.js';
import { splitCredentials } from '../util/redact.js';
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

async function prefetchShapeBlobs(root: StateRoot, gitDir: string, access: RemoteAccess, oids: Oid[], o: PrepareOptions): Promise<void> {
  const unique = [...new Set(oids)];
  if (!unique.length) return;
  const cache = o.cache ?? await BlobCache.open({ root: root.dir });
  await mkdir(root.scratchDir, { recursive: true, mode: 0o700 });
  const fetcher = createGitBlobFetcher(gitDir, { url: access.url, authorization: access.authorization, gitConfig: access.gitConfig, scratchDir: root.scratchDir, log: () => {} });
  try {
    await fetcher.fetch(unique, async (oid, size, content) => { await cache.write(oid, size, content); }, o.signal ?? new AbortController().signal, { urgent: true });
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

export interface PrepareOptions {
  /** Aborts the network work (clone, fetch, sizes, shape blobs). */
  signal?: AbortSignal;
  /** The blob cache to write shape blobs through (the daemon's own); opened when absent. */
  cache?: BlobCache;
}

/**
 * Builds the repo in `tmp` (must not exist): `<tmp>/work/.git`, with, when there are
 * credentials, the git dir's credential helper pointing at the repo's credentials file (written
 * by stageRepoDir). `spec.remote` has no credentials (separateCredentials). Registers nothing and
 * touches nothing outside `tmp` but the shared blob cache.
 */
export async function prepareRepo(root: StateRoot, tmp: string, spec: AddRepoSpec & { remote: string }, credentials: Credentials | undefined, o: PrepareOptions = {}): Promise<PreparedRepo> {
  const src = await resolveRemote(spec);
  if (splitCredentials(spec.remote).url !== spec.remote) throw new Error('prepareRepo: the remote URL still carries credentials');
  const url = src.remote.url;
  const access = remoteAccess(url, credentials?.username, credentials?.password);
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  const probe = probeSizes(access, o.signal); // one round trip, overlapping the clone
  probe.catch(() => {});
  const source = await acquireSource(join(tmp, 'work'), spec, src, access, o.signal);
  const entries = await listTree(source.gitDir, 'HEAD');
  const blobOids = [...new Set(entries.filter((e) => e.type === 'blob').map((e) => e.oid))];
  const sizes = await learnSizes(await probe, blobOids, o.signal);
  await prefetchShapeBlobs(root, source.gitDir, access, shapeBlobs(entries), o);
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
    ...(await fsmonitorWanted() ? { fsmonitorToken: ADD_REPO_FSMONITOR_TOKEN } : {}),
  });
  if (credentials) {
    // Git in the mount (lazy fetches, fetch, pull, push) authenticates through this, without
    // the credentials ever entering the git config. Configured before the mount can exist.
    await configureCredentialHelper(source.gitDir, url, root.credentialsFile(spec.name));
  }
  return { source, remote: url, hasCredentials: credentials !== undefined, entries, sizes, inodes };
}

/**
 * Moves the prepared `<tmp>/work` into the repo's directory (replacing one left by an attempt
 * that died before registering) and sets up the fsmonitor hook, whose paths are absolute.
 */
export async function installPrepared(root: StateRoot, name: string, tmp: string): Promise<void> {
  const work = join(root.repoDir(name), 'work');
  await mkdir(root.repoDir(name), { recursive: true, mode: 0o700 });
  await rm(work, { recursive: true, force: true });
  await rename(join(tmp, 'work'), work);
  await setUpFsmonitor(root.gitDir(name), { hook: root.fsmonitorHook(name), journal: root.fsmonitorJournal(name) }, await fsmonitorWanted());
}

/** The snapshot rows of generation 1 (the caller's transaction). */
export function saveFirstSnapshot(db: Db, name: string, p: PreparedRepo): void {
  saveSnapshot(db, name, 1, {
    commit: p.source.head.oid as Oid, commitTime: p.source.head.time,
    entries: p.entries.map((e) => ({ ...e, size: e.type === 'blob' ? (p.sizes?.get(e.oid) ?? -1) : 0, ino: p.inodes.get(e.path)! })),
  });
}

function register(db: Db, root: StateRoot, spec: AddRepoSpec, p: PreparedRepo): void {
  db.transaction(() => {
    insertRepo(db, {
      name: spec.name, remote: p.remote, branch: p.source.branch, ref: p.source.ref, mountRoot: spec.mountRoot ?? null,
      refresh: spec.refresh, depth: spec.depth ?? null, gitDir: root.gitDir(spec.name),
      hasCredentials: p.hasCredentials, objectInfo: p.sizes !== undefined, generation: 1, createdAt: new Date().toISOString(),
      requireCommit: spec.requireCommit ?? null, sourceGitDir: p.source.preparedFrom, fetchRef: p.source.fetchRef,
    });
    saveFirstSnapshot(db, spec.name, p);
  })();
}

export async function addRepo(root: StateRoot, db: Db, spec: AddRepoSpec): Promise<AddRepoResult> {
  return withAddLock(root, db, spec.name, async () => {
    const { spec: clean, credentials } = await separateCredentials(spec);
    const tmp = join(root.dir, 'repos', `.tmp-${spec.name}-${randomBytes(4).toString('hex')}`);
    try {
      await stageRepoDir(root, spec.name, credentials);
      const p = await prepareRepo(root, tmp, clean, credentials);
      await installPrepared(root, spec.name, tmp);
      register(db, root, spec, p);
      return { entries: p.entries.length, blobs: p.entries.filter((e) => e.type === 'blob').length, sizesKnown: p.sizes !== undefined };
    } catch (err) {
      await rm(root.repoDir(spec.name), { recursive: true, force: true });
      throw err;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}
