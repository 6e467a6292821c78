// Running the git CLI: the one place that builds git's environment. Never interactive
// (GIT_TERMINAL_PROMPT=0, ssh BatchMode), never reading the user's global config unless asked,
// credentials only through the environment (never argv), bounded by an AbortSignal.

import { spawn, type ChildProcess } from 'node:child_process';
import { redactUrl } from '../util/redact.js';

export interface GitOptions {
  /** Working directory (`git -C` equivalent). */
  cwd?: string;
  /** Extra environment (merged over the safe defaults). */
  env?: Record<string, string>;
  /** Config as `key=value` pairs, passed through GIT_CONFIG_* env vars (never argv). */
  config?: Record<string, string>;
  signal?: AbortSignal;
  /** Data for stdin; the stream is closed after it. */
  input?: string | Buffer;
}

export class GitError extends Error {
  readonly code = 'git-failed';
  constructor(readonly args: readonly string[], readonly exitCode: number | null, readonly stderr: string) {
    super(`git ${args[0] ?? ''} failed (${exitCode ?? 'killed'}): ${lastLine(stderr) || 'no message'}`);
    this.name = 'GitError';
  }
}

/** The last meaningful line of git's stderr, credentials redacted. */
export function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('hint:'));
  return redactUrl(lines.pop() ?? '');
}

export function gitEnv(opts: GitOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND || 'ssh -o BatchMode=yes',
    LC_ALL: 'C',
    ...opts.env,
  };
  const cfg = Object.entries(opts.config ?? {});
  if (cfg.length) {
    const base = Number(env.GIT_CONFIG_COUNT ?? 0);
    cfg.forEach(([k, v], i) => {
      env[`GIT_CONFIG_KEY_${base + i}`] = k;
      env[`GIT_CONFIG_VALUE_${base + i}`] = v;
    });
    env.GIT_CONFIG_COUNT = String(base + cfg.length);
  }
  return env;
}

export function spawnGit(args: readonly string[], opts: GitOptions = {}): ChildProcess {
  return spawn('git', args as string[], { cwd: opts.cwd, env: gitEnv(opts), stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal });
}

/** Runs git to completion; resolves stdout, rejects GitError with the last stderr line. */
export async function runGit(args: readonly string[], opts: GitOptions = {}): Promise<string> {
  return (await runGitBytes(args, opts)).toString('utf8');
}

/** runGit, stdout as bytes (NUL-separated output, paths that are not UTF-8). */
export function runGitBytes(args: readonly string[], opts: GitOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(args, opts);
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; if (err.length > 65536) err = err.slice(-32768); });
    child.on('error', (e) => reject(e.name === 'AbortError' ? e : new GitError(args, null, e.message)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new GitError(args, code, err));
    });
    child.stdin!.on('error', () => {}); // git may exit before reading all input
    child.stdin!.end(opts.input ?? '');
  });
}
