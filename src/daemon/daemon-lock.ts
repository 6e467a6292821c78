// One daemon per state root: a pid file created exclusively; a stale one (its process is gone)
// is replaced, a live one refuses the second daemon with a clear message.

import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { processAlive } from '../util/process.js';

export class DaemonRunningError extends Error {
  readonly code = 'daemon-running';
  constructor(readonly pid: number, root: string) {
    super(`another daemon (pid ${pid}) is already running on state root ${root}`);
    this.name = 'DaemonRunningError';
  }
}

export interface DaemonLock {
  release(): Promise<void>;
}

export async function acquireDaemonLock(root: string): Promise<DaemonLock> {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const path = join(root, 'daemon.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { release: async () => { if (await readPid(path) === process.pid) await rm(path, { force: true }); } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = await readPid(path);
      if (pid !== undefined && pid !== process.pid && processAlive(pid)) throw new DaemonRunningError(pid, root);
      await rm(path, { force: true }); // left by a killed daemon
    }
  }
  throw new Error(`cannot take the daemon lock ${path}`);
}

export async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
