// Follows HEAD of one repo's git dir (DESIGN decision 11): HEAD itself, the loose ref it names
// and packed-refs. Change events (fs.watch on the git dir and on refs/, recursively) are
// debounced; a slow poll covers events a watcher can miss. When HEAD's commit differs from the
// mounted generation, `apply` runs; a failure is retried with backoff until it succeeds or HEAD
// moves on, and is never dropped (the reference can stay on a stale tree after one failure).
// While git holds index.lock the switch waits (up to LOCK_WAIT_MS): a checkout or rebase in
// progress moves HEAD several times, and its end state is the one worth switching to.

import { watch, type FSWatcher } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readHead } from '../gitstore/head.js';
import type { Oid } from '../model/ids.js';

export const DEBOUNCE_MS = 50;
export const POLL_MS = 2000;
export const LOCK_WAIT_MS = 5000;
export const RETRY_MIN_MS = 500;
export const RETRY_MAX_MS = 30_000;

export interface HeadWatcherOptions {
  gitDir: string;
  /** The commit the mount's base currently is. */
  current(): Oid;
  /** Switches the base to `commit`; rejects to be retried. */
  apply(commit: Oid): Promise<void>;
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

export class HeadWatcher {
  readonly #o: HeadWatcherOptions;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #failures = 0;
  #closed = false;
  /** When index.lock was first seen in the current busy stretch. */
  #busySince: number | undefined;

  constructor(o: HeadWatcherOptions) {
    this.#o = o;
  }

  start(): void {
    const kick = (): void => this.#schedule(DEBOUNCE_MS);
    for (const [dir, recursive] of [[this.#o.gitDir, false], [join(this.#o.gitDir, 'refs'), true]] as const) {
      try {
        const w = watch(dir, { recursive }, kick);
        w.on('error', () => {});
        this.#watchers.push(w);
      } catch (err) {
        this.#o.log('warn', `cannot watch ${dir}; polling only: ${(err as Error).message}`);
      }
    }
    this.#poll = setInterval(kick, POLL_MS);
    this.#poll.unref();
    kick();
  }

  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#poll);
    for (const w of this.#watchers) w.close();
    return this.#running ?? Promise.resolve();
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#check().finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule(DEBOUNCE_MS);
        }
      });
    }, ms);
  }

  async #check(): Promise<void> {
    let head;
    try {
      head = await readHead(this.#o.gitDir);
    } catch (err) {
      return this.#failed(err as Error);
    }
    if (!head.commit || head.commit === this.#o.current()) {
      this.#failures = 0;
      return;
    }
    if (await this.#gitBusy()) {
      this.#again = true; // index.lock is released with an event; the poll covers a missed one
      return;
    }
    try {
      await this.#o.apply(head.commit);
      this.#failures = 0;
      this.#again = true; // HEAD may have moved again meanwhile
    } catch (err) {
      this.#failed(err as Error);
    }
  }

  async #gitBusy(): Promise<boolean> {
    const locked = await access(join(this.#o.gitDir, 'index.lock')).then(() => true, () => false);
    if (!locked) {
      this.#busySince = undefined;
      return false;
    }
    this.#busySince ??= Date.now();
    return Date.now() - this.#busySince < LOCK_WAIT_MS;
  }

  #failed(err: Error): void {
    this.#failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.#failures - 1));
    this.#o.log('warn', `HEAD switch failed (attempt ${this.#failures}, retry in ${delay} ms): ${err.message}`);
    setTimeout(() => this.#schedule(0), delay).unref();
  }
}
