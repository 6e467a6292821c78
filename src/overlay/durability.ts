// Durability points without blocking the event loop.
//
// Rows commit with the registry's synchronous=NORMAL: a commit is in the WAL file (the OS page
// cache) when it returns, so it survives a killed process, but not necessarily a power loss.
// Making commits durable means fsyncing the WAL file. The design doc proposed committing the
// fsync'ed row with synchronous=FULL; that is an fsync inside a better-sqlite3 call, on the main
// thread (measured 0.15 ms here, but several ms on network disks, during which no FUSE request is
// served). Instead we fdatasync `<db>-wal` through our own fd on the libuv threadpool, which is
// exactly what SQLite's FULL mode does after a commit, and covers every commit made before it:
// - frames are appended by write() at commit time, so they are in the file when we flush;
// - a frame can only be overwritten after a checkpoint copied it to the database file, and with
//   synchronous=NORMAL SQLite syncs the WAL before and the database after every checkpoint;
// - a missing WAL file means everything was checkpointed (and so synced) already.
// SerialFlush coalesces concurrent callers (group commit): one fsync serves everyone waiting.

import { constants, close as closeCb, fdatasync as fdatasyncCb, open as openCb } from 'node:fs';
import { promisify } from 'node:util';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const fdatasyncFd = promisify(fdatasyncCb);

/** fdatasync of a file by path; a file that does not exist has nothing to flush. */
export async function flushFileIfPresent(path: string): Promise<void> {
  let fd: number;
  try {
    fd = await openFd(path, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await fdatasyncFd(fd);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Runs an async flush so that each run() resolves after a flush that *started* after the call:
 * callers arriving while one runs share the next one (at most one running, one queued).
 */
export class SerialFlush {
  readonly #flush: () => Promise<void>;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }

  run(): Promise<void> {
    if (!this.#running) return this.#start();
    if (!this.#queued) {
      const after = (): Promise<void> => {
        this.#queued = undefined;
        return this.#start();
      };
      this.#queued = this.#running.then(after, after);
    }
    return this.#queued;
  }

  #start(): Promise<void> {
    const p = this.#flush().finally(() => {
      if (this.#running === p) this.#running = undefined;
    });
    this.#running = p;
    return p;
  }
}
