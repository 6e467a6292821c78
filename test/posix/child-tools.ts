// Async child processes for the syscalls Node does not expose (renameat2, xattrs, an
// interruptible read). Always async: the filesystem under test may be served by this process's
// event loop, so spawnSync/execFileSync could deadlock against our own mount.

import { execFile, spawn, type ChildProcess } from 'node:child_process';

/** Every child gets this long before it is killed; a hung FUSE call must not hang the table. */
export const CHILD_TIMEOUT_MS = 10_000;

export interface ChildResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion. Never rejects for a non-zero exit: that is a result too. */
export function runCommand(file: string, args: readonly string[], cwd?: string): Promise<ChildResult> {
  const options = { timeout: CHILD_TIMEOUT_MS, encoding: 'utf8' as const, maxBuffer: 16 * 1024 * 1024, cwd };
  return new Promise((resolve, reject) => {
    execFile(file, [...args], options, (err, stdout, stderr) => {
      if (err !== null && typeof err.code === 'string') {
        reject(err); // spawn itself failed (ENOENT: program missing)
        return;
      }
      resolve({
        code: err === null ? 0 : typeof err.code === 'number' ? err.code : null,
        signal: err?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

let interpreter: Promise<string> | undefined;

/**
 * The python3 executable. `POSIX_TEST_PYTHON` wins; otherwise `python3` from PATH is asked for
 * its real path once. That skips a pyenv shim (a bash script costing ~100 ms per start) on every
 * later call and keeps child pids equal to the interpreter's, which signal delivery relies on.
 */
export function python(): Promise<string> {
  const fromEnv = process.env['POSIX_TEST_PYTHON'];
  if (fromEnv !== undefined && fromEnv !== '') return Promise.resolve(fromEnv);
  interpreter ??= runCommand('python3', ['-c', 'import sys; print(sys.executable)']).then((r) => {
    const path = r.stdout.trim();
    if (r.code !== 0 || path === '') throw new Error(`python3 unusable: ${r.stderr.trim()}`);
    return path;
  });
  return interpreter;
}

/** Runs a python snippet with `args` as sys.argv[1:]; returns stdout, throws on failure. */
export async function runPython(script: string, args: readonly string[]): Promise<string> {
  const r = await runCommand(await python(), ['-c', script, ...args]);
  if (r.code !== 0) throw new Error(`python exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Starts a python snippet with piped stdio, for cases that must talk to or signal the child. */
export async function spawnPython(script: string, args: readonly string[]): Promise<ChildProcess> {
  return spawn(await python(), ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
