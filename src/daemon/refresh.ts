// Remote refresh: a periodic `git fetch` per mounted repo (its `refresh` interval from the
// registry), and the same fetch on demand (`fetch`). A fetch only moves the remote-tracking ref
// (see gitstore/fetch.ts): HEAD, the index, the work tree and the mount never change. Failures
// mark the repo degraded and back off (refresh-schedule.ts); a success clears both. Outcomes are
// persisted (registry fetch_state), so `status` shows them without a daemon and the backoff
// survives a restart.

import { fetchUpstream, FetchError, type Upstream } from '../gitstore/fetch.js';
import type { Db } from '../registry/db.js';
import { readFetch, recordFetch, type FetchRecord } from '../registry/fetch-state.js';
import type { RepoConfig } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Log } from '../util/log.js';
import { redactUrl } from '../util/redact.js';
import { loadRemoteAccess } from './remote-access.js';
import { dueIn, MAX_TIMER_MS } from './refresh-schedule.js';
import { parseRefresh } from './repo-spec.js';

/** A fetch that takes longer than this is aborted and counts as a failure. */
export const FETCH_TIMEOUT_MS = 5 * 60_000;

/** The branch a repo follows, or for `add-repo --ref` its ref (HEAD stays detached). */
export function upstreamOf(c: RepoConfig): Upstream | undefined {
  if (c.branch) return { branch: c.branch };
  if (c.ref) return { ref: c.ref };
  return undefined;
}

/** One fetch of `c`'s upstream, its outcome recorded. Never throws: failure is the result. */
export async function fetchOnce(root: StateRoot, db: Db, c: RepoConfig, signal?: AbortSignal): Promise<FetchRecord> {
  const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  let result = 'ok';
  try {
    const upstream = upstreamOf(c);
    if (!upstream) throw new FetchError('fetch failed: the repo follows no branch or ref');
    const access = await loadRemoteAccess(c.remote, c.hasCredentials ? root.credentialsFile(c.name) : undefined);
    await fetchUpstream(c.gitDir, upstream, { config: access.gitConfig, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    result = err instanceof FetchError ? err.message : new FetchError(`fetch failed: ${redactUrl((err as Error).message)}`).message;
  }
  const lastFetch = new Date().toISOString();
  // Cut short by a daemon shutdown: not the remote's fault, so not recorded as a failure.
  if (signal?.aborted) return { ...(readFetch(db, c.name) ?? { failures: 0 }), lastFetch, result: 'fetch interrupted: the daemon is stopping' };
  return recordFetch(db, c.name, lastFetch, result) ?? { lastFetch, result, failures: result === 'ok' ? 0 : 1 };
}

interface Entry {
  config: RepoConfig;
  /** null: never refreshed periodically. */
  intervalMs: number | null;
  failures: number;
  /** End of the last attempt (or the clone), ms since the epoch. */
  lastAttempt: number;
  /** When the next periodic fetch is due (undefined: none scheduled). */
  dueAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** A fetch of this repo is running or waiting for one that is (it schedules the next when it ends). */
  busy: number;
  /** Fetches of one repo run one after another (two would race for the ref lock). */
  chain: Promise<unknown>;
}

export interface RefreshLoopOptions {
  root: StateRoot;
  db: Db;
  log: Log;
  /** Jitter source for the backoff (tests pass a fixed one). */
  random?: () => number;
}

/**
 * The periodic fetches of the repos the daemon has mounted. The daemon calls sync() with the
 * current registry rows of its mounted repos after every reconcile pass; that is how repos start
 * and stop being refreshed and how `set-refresh` takes effect.
 */
export class RefreshLoop {
  readonly #o: RefreshLoopOptions;
  // INVARIANT: an entry has a timer iff its intervalMs is not null, the loop is open, and no
  // fetch of it is running or queued (busy === 0; the last one schedules the next when it ends).
  readonly #entries = new Map<string, Entry>();
  readonly #closing = new AbortController();
  /** Every fetch in progress, including those of repos removed meanwhile (close() waits for them). */
  readonly #running = new Set<Promise<unknown>>();

  constructor(o: RefreshLoopOptions) {
    this.#o = o;
  }

  sync(configs: Iterable<RepoConfig>): void {
    if (this.#closing.signal.aborted) return;
    const seen = new Set<string>();
    for (const c of configs) {
      seen.add(c.name);
      const e = this.#entries.get(c.name);
      if (!e) this.#add(c);
      else {
        const changed = e.config.refresh !== c.refresh;
        e.config = c;
        if (changed) {
          e.intervalMs = interval(c.refresh);
          if (e.busy === 0) this.#schedule(e); // a running fetch reschedules itself with the new interval
        }
      }
    }
    for (const [name, e] of this.#entries) {
      if (seen.has(name)) continue;
      clearTimeout(e.timer);
      this.#entries.delete(name);
    }
  }

  /** Fetches now (after any fetch of the same repo already running); the schedule restarts from it. */
  fetchNow(c: RepoConfig): Promise<FetchRecord> {
    const e = this.#entries.get(c.name);
    if (!e) return fetchOnce(this.#o.root, this.#o.db, c, this.#closing.signal);
    return this.#run(e);
  }

  /** Consecutive failed fetches of a refreshed repo (0 when it is fine or not refreshed here). */
  failures(name: string): number {
    return this.#entries.get(name)?.failures ?? 0;
  }

  /** When the next periodic fetch of `name` is due, or undefined when none is scheduled. */
  nextFetch(name: string): number | undefined {
    return this.#entries.get(name)?.dueAt;
  }

  /** Stops the timers and aborts running fetches (not recorded as failures). Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort();
    for (const e of this.#entries.values()) clearTimeout(e.timer);
    await Promise.all(this.#running);
    this.#entries.clear();
  }

  #add(c: RepoConfig): void {
    const rec = readFetch(this.#o.db, c.name);
    const e: Entry = {
      config: c, intervalMs: interval(c.refresh), failures: rec?.failures ?? 0,
      lastAttempt: Date.parse(rec?.lastFetch ?? c.createdAt), dueAt: undefined, timer: undefined, busy: 0, chain: Promise.resolve(),
    };
    this.#entries.set(c.name, e);
    this.#schedule(e);
  }

  #schedule(e: Entry): void {
    clearTimeout(e.timer);
    e.timer = undefined;
    e.dueAt = undefined;
    if (e.intervalMs === null || this.#closing.signal.aborted || this.#entries.get(e.config.name) !== e) return;
    const now = Date.now();
    e.dueAt = now + dueIn(e.lastAttempt, e.intervalMs, e.failures, now, this.#o.random);
    const tick = (): void => {
      if (Date.now() < e.dueAt! - 5) e.timer = setTimeout(tick, Math.min(e.dueAt! - Date.now(), MAX_TIMER_MS));
      else this.#run(e).catch(() => {}); // logged and recorded by #run
    };
    e.timer = setTimeout(tick, Math.min(e.dueAt - now, MAX_TIMER_MS));
  }

  #run(e: Entry): Promise<FetchRecord> {
    clearTimeout(e.timer);
    e.timer = undefined;
    e.dueAt = undefined;
    e.busy++;
    const run = e.chain.then(async () => {
      const before = e.failures;
      let rec: FetchRecord;
      try {
        rec = await fetchOnce(this.#o.root, this.#o.db, e.config, this.#closing.signal);
      } finally {
        e.busy--;
      }
      e.failures = rec.failures;
      e.lastAttempt = Date.parse(rec.lastFetch);
      if (e.busy === 0) this.#schedule(e);
      const fields = { repo: e.config.name, failures: rec.failures, next_ms: e.dueAt !== undefined ? e.dueAt - Date.now() : null };
      if (this.#closing.signal.aborted) return rec;
      if (rec.result !== 'ok') this.#o.log('warn', `refresh of ${e.config.name} failed: ${rec.result}`, fields);
      else if (before > 0) this.#o.log('info', `refresh of ${e.config.name} recovered`, fields);
      else this.#o.log('debug', `refreshed ${e.config.name}`, fields);
      return rec;
    });
    const settled = run.catch(() => {});
    e.chain = settled;
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return run;
  }
}

function interval(refresh: string): number | null {
  try {
    return parseRefresh(refresh);
  } catch {
    return null; // validated when stored; a row edited by hand does not stop the daemon
  }
}
