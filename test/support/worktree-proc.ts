// Starts test/support/worktree-child.ts in a child process and reads its ensure counter.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./worktree-child.js', import.meta.url));

export interface WorktreeChild {
  readonly child: ChildProcess;
  /** Number of BlobProvider.ensure() calls so far (hydrations). */
  ensureCount(): Promise<number>;
  /** Everything the child printed on stdout so far. */
  output(): string;
  /** SIGKILL (no unmount: the mount goes stale) and wait for exit. */
  kill(): Promise<void>;
  /** SIGTERM (clean unmount) and wait for exit. Idempotent. */
  stop(): Promise<void>;
}

export async function startWorktree(mountpoint: string, stateDir: string): Promise<WorktreeChild> {
  const child = spawn(process.execPath, [MAIN, mountpoint, stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let out = '';
  child.stderr!.on('data', (d) => { stderr += d; process.stderr.write(d); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const waiters: Array<() => void> = [];
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready ')) resolve();
      for (const w of waiters.splice(0)) w();
    });
    child.once('exit', (code) => reject(new Error(`worktree exited (${code}) before mounting: ${stderr.trim()}`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    child,
    ensureCount: async () => {
      const before = (out.match(/stats /g) ?? []).length;
      child.kill('SIGUSR2');
      while ((out.match(/stats /g) ?? []).length === before) await new Promise<void>((r) => waiters.push(r));
      return Number(await readFile(join(stateDir, 'ensure-count'), 'utf8'));
    },
    output: () => out,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: () => (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    })()),
  };
}
