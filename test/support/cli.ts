// Runs the real CLI (dist/src/cli/main.js) as a child process, with its own state root, and
// starts/stops the daemon for end-to-end tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function afs(stateRoot: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ARTIFACT_FS_ROOT: stateRoot, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface DaemonChild {
  readonly child: ChildProcess;
  /** Everything the daemon logged so far. */
  log(): string;
  /** Resolves when `mountpoint` is a live FUSE mount. */
  waitMounted(mountpoint: string, timeoutMs?: number): Promise<void>;
  waitUnmounted(mountpoint: string, timeoutMs?: number): Promise<void>;
  /** Resolves the exit code when the daemon exits by itself or after stop(). */
  readonly exited: Promise<number | null>;
  /** SIGTERM and wait for exit; resolves the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

async function isMounted(mountpoint: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === mountpoint && l.includes(' - fuse.artifact-fs '));
}

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; daemon log:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function startDaemon(stateRoot: string, args: string[] = [], env: Record<string, string> = {}): DaemonChild {
  const child = spawn(process.execPath, [CLI, 'daemon', ...args], { env: { ...process.env, ARTIFACT_FS_ROOT: stateRoot, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d) => { log += d; });
  child.stderr!.on('data', (d) => { log += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stopping: Promise<number | null> | undefined;
  return {
    child,
    exited,
    log: () => log,
    waitMounted: (mp, t = 30_000) => until(() => isMounted(mp), t, `mount at ${mp}`, () => log),
    waitUnmounted: (mp, t = 30_000) => until(async () => !(await isMounted(mp)), t, `unmount of ${mp}`, () => log),
    stop: () => (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    })()),
  };
}

export function mountPath(mountRoot: string, name: string): string {
  return join(mountRoot, name);
}
