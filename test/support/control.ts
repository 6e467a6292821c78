// Helpers for tests of the control socket and remote refresh: status straight through the
// socket (as the CLI asks it, without a node start-up per call), polling, mount checks.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { askDaemon } from '../../src/cli/control-client.js';
import { afs } from './cli.js';

export type Status = Record<string, string | number | boolean>;

/** Status from the running daemon through `<state>/daemon.sock`; throws when no daemon answers. */
export async function liveStatus(state: string, name: string): Promise<Status> {
  const a = await askDaemon(join(state, 'daemon.sock'), 'status', { name });
  if (!a.reached) throw new Error(`no daemon answered: ${a.reason}`);
  return a.result as Status;
}

/** `artifact-fs status --json` (daemon or registry, whichever the CLI reaches). */
export async function cliStatus(state: string, name: string): Promise<Status & { stderr: string }> {
  const r = await afs(state, ['status', '--name', name, '--json']);
  if (r.code !== 0) throw new Error(`status failed (${r.code}): ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Status), stderr: r.stderr };
}

/** Polls `get` until `ok` holds; returns the value that satisfied it. */
export async function waitFor<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await get();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function isMounted(mountpoint: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((l) => l.split(' ')[4] === mountpoint && l.includes(' - fuse.artifact-fs '));
}

export interface StatusSample { ms: number; hydrated: number; total: number; state: string; source: string }

/** Status latency measured from a separate process until the repo is hydrated (status-sampler.ts). */
export function sampleStatus(socket: string, name: string): Promise<StatusSample[]> {
  const script = new URL('./status-sampler.js', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, socket, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`status sampler failed (${code}): ${err}`));
      else resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as StatusSample));
    });
  });
}
