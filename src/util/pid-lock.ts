// Exclusive pid-file locks: one daemon per state root, one add-repo per repo name. The file is
// created exclusively; a stale one (its process is gone, e.g. after kill -9) is replaced; a live
// one refuses the second holder with a clear message.

import { mkdirSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { processAlive } from './process.js';

export class LockHeldError extends Error {
  readonly code = 'lock-held';
  constructor(readonly pid: number, message: string) {
    super(message);
    this.name = 'LockHeldError';
  }
}

export interface PidLock {
  release(): Promise<void>;
}

/** `describe(pid)` words the refusal, e.g. "another daemon (pid 12) is already running…". */
export async function acquirePidLock(path: string, describe: (pid: number) => string): Promise<PidLock> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { release: async () => { if (await readPid(path) === process.pid) await rm(path, { force: true }); } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = await readPid(path);
      if (pid !== undefined && pid !== process.pid && processAlive(pid)) throw new LockHeldError(pid, describe(pid));
      await rm(path, { force: true }); // left by a killed process
    }
  }
  throw new Error(`cannot take the lock ${path}`);
}

export async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
