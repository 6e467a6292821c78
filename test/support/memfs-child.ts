// Runs the memfs example in a child process and waits for its `ready` line, so that tests and
// benchmarks can use synchronous filesystem calls against the mount without deadlocking.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/fuse/samples/memfs-main.js', import.meta.url));

export interface MemfsChild {
  readonly mountpoint: string;
  readonly child: ChildProcess;
  /** SIGTERM (clean unmount) and wait for exit. Idempotent. */
  stop(): Promise<void>;
}

export async function startMemfs(mountpoint: string, opts: { entryTimeout?: number; attrTimeout?: number } = {}): Promise<MemfsChild> {
  const args = [MAIN, mountpoint];
  if (opts.entryTimeout !== undefined) args.push('--entry-timeout', String(opts.entryTimeout));
  if (opts.attrTimeout !== undefined) args.push('--attr-timeout', String(opts.attrTimeout));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`memfs exited (${code}) before mounting: ${stderr.trim()}`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    mountpoint,
    child,
    stop: () => (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    })()),
  };
}
