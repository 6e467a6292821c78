// A git dir prepared by someone else (a CI cache, an image layer) used as the source of a repo
// without ever writing to it: its objects are hard-linked into a git dir of our own (git never
// modifies an object or pack file in place, so a link is as safe as a copy and costs no data —
// the same thing `git clone --local` does), its refs, HEAD and shallow list are copied, and only
// our copy is fetched into, configured and later used by git in the mount. A cache pruned or
// repacked afterwards cannot take objects away from us: the links keep them.

import { copyFile, link, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { classifyRemoteError } from './clone.js';
import { GitError, runGit, type GitOptions } from './git-run.js';
import { SourceError } from './source-error.js';

export interface PreparedGitDirInfo {
  /** Absolute path of the git dir. */
  dir: string;
  /** `remote.origin.url` as configured there (may carry userinfo: split before use). */
  originUrl: string | undefined;
  /** `remote.origin.fetch` refspecs, copied to our git dir. */
  fetchSpecs: string[];
}

/** Runs git, resolving undefined when it exits 1 (git's "no such thing" for these queries). */
async function gitQuery(args: string[], opts: GitOptions = {}): Promise<string | undefined> {
  try {
    return (await runGit(args, opts)).trim();
  } catch (err) {
    if (err instanceof GitError && err.exitCode === 1) return undefined;
    throw err;
  }
}

/** Checks that `dir` is a usable git dir and reads what we take from it; writes nothing. */
export async function inspectPreparedGitDir(dir: string): Promise<PreparedGitDirInfo> {
  const abs = resolve(dir);
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isDirectory()) throw new SourceError('usage', `--git-dir ${abs} is not a directory`);
  if (await stat(join(abs, 'commondir')).catch(() => undefined)) {
    throw new SourceError('usage', `--git-dir ${abs} is a linked worktree's git dir: give the main git dir`);
  }
  if (!(await stat(join(abs, 'objects')).catch(() => undefined))?.isDirectory()) throw new SourceError('usage', `--git-dir ${abs} is not a git dir (no objects/)`);
  try {
    await runGit(['--git-dir', abs, 'rev-parse', '--git-dir']);
  } catch (err) {
    if (err instanceof GitError) throw new SourceError('usage', `--git-dir ${abs} is not a git dir: ${err.message}`);
    throw err;
  }
  const originUrl = await gitQuery(['--git-dir', abs, 'config', '--get', 'remote.origin.url']);
  const fetchSpecs = (await gitQuery(['--git-dir', abs, 'config', '--get-all', 'remote.origin.fetch']))?.split('\n').filter(Boolean) ?? [];
  return { dir: abs, originUrl: originUrl || undefined, fetchSpecs };
}

/** Hard-links every file under `src` into `dst` (copies across file systems), skipping git's temp files. */
async function linkTree(src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true });
  for (const e of await readdir(src, { withFileTypes: true })) {
    if (e.name.startsWith('tmp_') || e.name.endsWith('.lock')) continue;
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) await linkTree(from, to);
    else if (e.isFile()) {
      await link(from, to).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM' && err.code !== 'EMLINK') throw err;
        await copyFile(from, to);
      });
    }
  }
}

/** Copies every file under `src` into `dst` (refs: small, and ours to rewrite). */
async function copyTree(src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true });
  for (const e of await readdir(src, { withFileTypes: true })) {
    if (e.name.endsWith('.lock')) continue;
    if (e.isDirectory()) await copyTree(join(src, e.name), join(dst, e.name));
    else if (e.isFile()) await copyFile(join(src, e.name), join(dst, e.name));
  }
}

async function copyIfPresent(src: string, dst: string): Promise<void> {
  await copyFile(src, dst).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; });
}

/** Relative alternates are relative to the source's objects dir: made absolute in our copy. */
async function rewriteAlternates(srcObjects: string, dstObjects: string): Promise<void> {
  const text = await readFile(join(srcObjects, 'info', 'alternates'), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const lines = text.split('\n').map((l) => (l && !l.startsWith('#') && !isAbsolute(l) ? resolve(srcObjects, l) : l));
  await writeFile(join(dstObjects, 'info', 'alternates'), lines.join('\n'));
}

/**
 * Builds `<work>/.git` from the prepared git dir: objects linked, refs/HEAD/shallow copied,
 * origin set to `url` (no userinfo) as a blob:none promisor remote. `work` must not exist.
 */
export async function copyPreparedGitDir(info: PreparedGitDirInfo, work: string, url: string): Promise<string> {
  await mkdir(work, { recursive: true });
  await runGit(['init', '-q', work]);
  const gitDir = join(work, '.git');
  await linkTree(join(info.dir, 'objects'), join(gitDir, 'objects'));
  await rewriteAlternates(join(info.dir, 'objects'), join(gitDir, 'objects'));
  await copyTree(join(info.dir, 'refs'), join(gitDir, 'refs'));
  for (const f of ['HEAD', 'packed-refs', 'shallow']) await copyIfPresent(join(info.dir, f), join(gitDir, f));
  const g = (args: string[]) => runGit(['--git-dir', gitDir, 'config', ...args]);
  await g(['remote.origin.url', url]);
  const specs = info.fetchSpecs.length ? info.fetchSpecs : ['+refs/heads/*:refs/remotes/origin/*'];
  for (const [i, spec] of specs.entries()) await g([i === 0 ? '--replace-all' : '--add', 'remote.origin.fetch', spec]);
  await g(['remote.origin.promisor', 'true']);
  await g(['remote.origin.partialclonefilter', 'blob:none']);
  return gitDir;
}

export interface FetchRefOptions {
  /** URL without credentials, for messages. */
  url: string;
  /** Credentials etc. for the fetch, via GIT_CONFIG_* env. */
  config: Record<string, string>;
  signal?: AbortSignal;
}

async function commitOf(gitDir: string, rev: string): Promise<string | undefined> {
  return gitQuery(['--git-dir', gitDir, 'rev-parse', '-q', '--verify', `${rev}^{commit}`]);
}

/**
 * Fetches `ref` (a full ref name) from origin into our copy and moves HEAD to it, only forward:
 * HEAD's commit (and the local branch of that name, when it exists) must be ancestors of the
 * fetched commit, else SourceError 'rewind-refused' and HEAD stays. A branch is checked out as
 * that branch (remote-tracking ref updated too); any other ref as a detached HEAD.
 */
export async function fetchAndFastForward(gitDir: string, ref: string, o: FetchRefOptions): Promise<void> {
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  const dst = branch ? `refs/remotes/origin/${branch}` : 'refs/artifact-fs/fetched';
  try {
    await runGit(['--git-dir', gitDir, 'fetch', '-q', '--filter=blob:none', '--no-tags', 'origin', `+${ref}:${dst}`], { config: o.config, signal: o.signal });
  } catch (err) {
    if (err instanceof GitError) throw classifyRemoteError(err, o.url, `ref '${ref}'`);
    throw err;
  }
  const fetched = await commitOf(gitDir, dst);
  if (!fetched) throw new SourceError('ref-not-found', `ref '${ref}' does not point at a commit`);
  const bases = [await commitOf(gitDir, 'HEAD'), branch ? await commitOf(gitDir, `refs/heads/${branch}`) : undefined];
  for (const base of new Set(bases)) {
    if (!base || base === fetched) continue;
    if ((await gitQuery(['--git-dir', gitDir, 'merge-base', '--is-ancestor', base, fetched])) === undefined) {
      throw new SourceError('rewind-refused', `refusing to rewind: '${ref}' on the remote does not contain the prepared git dir's ${base === bases[0] ? 'HEAD' : `branch '${branch}'`} (a fast-forward is required)`);
    }
  }
  if (branch) {
    await runGit(['--git-dir', gitDir, 'update-ref', `refs/heads/${branch}`, fetched]);
    await runGit(['--git-dir', gitDir, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  } else {
    await runGit(['--git-dir', gitDir, 'update-ref', '--no-deref', 'HEAD', fetched]);
  }
}
