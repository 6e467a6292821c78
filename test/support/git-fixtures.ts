// Deterministic bare repositories for tests and benchmarks. Commits are written with
// `git fast-import` straight into the bare repository: one process per commit, no work tree,
// fixed identities and dates, so the same files always give the same object ids. (A work repo +
// commit + push would give the same objects, three times slower at 10k files.)

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { asOid, type Oid } from '../../src/model/ids.js';

/** Content of a regular file, a symlink (its target), or an executable file. */
export type FixtureFile = string | Buffer | { symlink: string } | { exec: string | Buffer };

export interface MakeRepoOptions {
  /** Repository name: the bare repository is `<dir>/<name>.git`. Default 'repo'. */
  name?: string;
  /** Branch HEAD points at. Default 'main'. */
  branch?: string;
  message?: string;
  /** Author and committer time, seconds since the epoch (UTC). Default 1 700 000 000. */
  time?: number;
}

export interface FixtureRepo {
  /** Absolute path of the bare repository. */
  bare: string;
  /** The commit the branch points at. */
  head: Oid;
}

export interface CommitOptions {
  /** Branch to commit to; created when it does not exist. Default 'main'. */
  branch?: string;
  /** Parent commit (oid or ref). Default: the branch's tip; required for a new branch. */
  from?: string;
  message?: string;
  /** Default 1 700 000 100. */
  time?: number;
  /** Paths removed in this commit. */
  delete?: readonly string[];
}

const DEFAULT_TIME = 1_700_000_000;
const IDENTITY = 'A U Thor <author@example.com>';

/** Creates `<dir>/<name>.git` with one commit holding exactly `files`. */
export async function makeRepo(dir: string, files: Record<string, FixtureFile>, opts: MakeRepoOptions = {}): Promise<FixtureRepo> {
  const bare = join(dir, `${opts.name ?? 'repo'}.git`);
  const branch = opts.branch ?? 'main';
  await mkdir(dir, { recursive: true });
  await git(['init', '-q', '--bare', '-b', branch, bare]);
  const head = await commit(bare, files, {
    branch,
    message: opts.message ?? 'initial commit',
    time: opts.time ?? DEFAULT_TIME,
  }, undefined);
  return { bare, head };
}

/** Adds a commit on top of `opts.from` (or the branch tip) changing `files`; returns its oid. */
export async function addCommit(bare: string, files: Record<string, FixtureFile>, opts: CommitOptions = {}): Promise<Oid> {
  const branch = opts.branch ?? 'main';
  const parent = asOid((await git(['--git-dir', bare, 'rev-parse', '--verify', `${opts.from ?? `refs/heads/${branch}`}^{commit}`])).trim());
  return commit(bare, files, { ...opts, branch }, parent);
}

/** The id git gives a blob with this content (SHA-1 repositories). */
export function blobOid(content: string | Buffer): Oid {
  const body = typeof content === 'string' ? Buffer.from(content) : content;
  return asOid(createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex'));
}

/** Every blob reachable from `rev`'s tree: path, oid, mode (from ls-tree, which needs no blob). */
export async function listBlobs(bare: string, rev = 'HEAD'): Promise<Array<{ path: string; oid: Oid; mode: number }>> {
  const out = await git(['--git-dir', bare, 'ls-tree', '-r', '-z', rev]);
  return out.split('\0').filter(Boolean).map((rec) => {
    const tab = rec.indexOf('\t');
    const [mode, , oid] = rec.slice(0, tab).split(' ');
    return { path: rec.slice(tab + 1), oid: asOid(oid!), mode: parseInt(mode!, 8) };
  });
}

async function commit(bare: string, files: Record<string, FixtureFile>, opts: CommitOptions & { branch: string }, parent: Oid | undefined): Promise<Oid> {
  const parts: Buffer[] = [];
  const text = (s: string): void => { parts.push(Buffer.from(s)); };
  const data = (b: Buffer): void => { text(`data ${b.length}\n`); parts.push(b); text('\n'); };
  const when = `${opts.time ?? DEFAULT_TIME + 100} +0000`;
  text(`commit refs/heads/${opts.branch}\n`);
  text(`author ${IDENTITY} ${when}\ncommitter ${IDENTITY} ${when}\n`);
  data(Buffer.from(`${opts.message ?? 'commit'}\n`));
  if (parent) text(`from ${parent}\n`);
  for (const path of opts.delete ?? []) text(`D ${quotePath(path)}\n`);
  for (const [path, file] of Object.entries(files)) {
    const { mode, content } = fileEntry(file);
    text(`M ${mode} inline ${quotePath(path)}\n`);
    data(content);
  }
  text('done\n');
  await git(['--git-dir', bare, 'fast-import', '--quiet', '--done'], Buffer.concat(parts));
  return asOid((await git(['--git-dir', bare, 'rev-parse', '--verify', `refs/heads/${opts.branch}`])).trim());
}

function fileEntry(file: FixtureFile): { mode: string; content: Buffer } {
  if (typeof file === 'string') return { mode: '100644', content: Buffer.from(file) };
  if (Buffer.isBuffer(file)) return { mode: '100644', content: file };
  if ('symlink' in file) return { mode: '120000', content: Buffer.from(file.symlink) };
  return { mode: '100755', content: typeof file.exec === 'string' ? Buffer.from(file.exec) : file.exec };
}

/** fast-import reads a path to the end of the line; quote (C style) when that is ambiguous. */
function quotePath(path: string): string {
  if (!/["\\\n]/.test(path)) return path;
  return `"${path.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Bound for one fixture git command: fixtures are small, a hang is a bug. */
const GIT_TIMEOUT_MS = 60_000;

export interface GitRunOptions {
  input?: Buffer | string;
  cwd?: string;
  /** Merged over the config-free environment. */
  env?: Record<string, string>;
}

export interface GitResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs git without user or system config and never prompting; resolves whatever the outcome. */
export function gitRun(args: readonly string[], opts: GitRunOptions = {}): Promise<GitResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      timeout: GIT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-8192); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr, ms: performance.now() - started }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs git (see gitRun); resolves stdout as bytes, rejects on a non-zero exit. */
export async function gitBytes(args: readonly string[], input?: Buffer | string, cwd?: string): Promise<Buffer> {
  const r = await gitRun(args, { input, cwd });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs git (see gitRun); resolves stdout as text, rejects on a non-zero exit. */
export async function git(args: readonly string[], input?: Buffer | string, cwd?: string): Promise<string> {
  return (await gitBytes(args, input, cwd)).toString('utf8');
}

/** Env that makes git send basic-auth credentials without argv, prompts or helpers. */
export function basicAuthEnv(user: string, password: string): Record<string, string> {
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${token}` };
}
