// The daemon's side of async add-repo: prepares queued repos in the background, at most
// PREPARE_CONCURRENCY at a time, with the same prepareRepo() → installPrepared() as sync
// add-repo, then registers the snapshot (registerPrepared). Every transition is written to the
// registry first, so `status` shows it with or without this daemon and a restart resumes:
//
//   queued ──claim──▶ preparing ──▶ ready (registerPrepared)
//                         │ └────▶ failed (prepare_error: one redacted line) ──`prepare`──▶ queued
//                         └─ daemon stops (or dies: Daemon.start requeues) ──▶ queued
//
// Work happens in `<state>/repos/.prepare-<name>-<random>` (removed when the attempt ends; all
// of them are removed when a daemon starts). The daemon reacts to a settled job through onSettled (it
// reconciles: opens or fails the gated mount, starts the next queued repo).

import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readCredentialsFile } from '../gitstore/credential-helper.js';
import type { BlobCache } from '../hydrator/blob-cache.js';
import type { Db } from '../registry/db.js';
import { markPrepared, setPrepareState, type RepoConfig } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Log } from '../util/log.js';
import { redactUrl } from '../util/redact.js';
import { installPrepared, prepareRepo, saveFirstSnapshot, type PreparedRepo } from './add-repo.js';
import type { AddRepoSpec } from './repo-spec.js';

/** Preparations running at once (each is mostly one clone: network-bound). */
export const PREPARE_CONCURRENCY = 2;
/** A preparation taking longer than this fails (a stalled server must not hold a repo forever). */
export const PREPARE_TIMEOUT_MS = 30 * 60_000;
/** prepare_error is one line of at most this many characters. */
export const PREPARE_ERROR_MAX = 300;

export interface PreparerOptions {
  root: StateRoot;
  db: Db;
  cache: BlobCache;
  log: Log;
  /** A job ended (ready, failed or interrupted): the registry says which. */
  onSettled(name: string): void;
}

interface Job {
  /** Identity of the registration being prepared (a removed and re-added repo is another one). */
  createdAt: string;
  abort: AbortController;
  done: Promise<void>;
}

/** Where one attempt at repo `name` is prepared: a fresh name each time, so a git process left by a killed daemon never writes into a newer attempt. */
export function prepareDir(root: StateRoot, name: string): string {
  return join(root.dir, 'repos', `.prepare-${name}-${randomBytes(4).toString('hex')}`);
}

/** One line, credentials redacted, bounded: what `status` shows as prepare_error. */
export function prepareErrorLine(err: unknown): string {
  const line = redactUrl(err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim() || 'preparation failed';
  return line.length > PREPARE_ERROR_MAX ? `${line.slice(0, PREPARE_ERROR_MAX - 1)}…` : line;
}

/** The spec a queued repo was registered with (remote without credentials). */
export function preparedSpecOf(c: RepoConfig): AddRepoSpec & { remote: string } {
  if (!c.prepareSpec) throw new Error(`repo ${c.name} has no add-repo spec to prepare from`);
  const spec = JSON.parse(c.prepareSpec) as AddRepoSpec;
  if (spec.name !== c.name || typeof spec.remote !== 'string') throw new Error(`repo ${c.name}: its stored add-repo spec is not valid`);
  return spec as AddRepoSpec & { remote: string };
}

/**
 * Registers a finished preparation: the resolved columns, state 'ready' and generation 1's
 * snapshot in one transaction. False (nothing written) when the repo is no longer the one that
 * was being prepared (removed, or removed and added again).
 */
export function registerPrepared(db: Db, c: RepoConfig, p: PreparedRepo): boolean {
  return db.transaction(() => {
    const ok = markPrepared(db, c.name, c.createdAt, {
      remote: p.remote, branch: p.source.branch, ref: p.source.ref, objectInfo: p.sizes !== undefined,
      sourceGitDir: p.source.preparedFrom, fetchRef: p.source.fetchRef,
    });
    if (ok) saveFirstSnapshot(db, c.name, p);
    return ok;
  })();
}

export class Preparer {
  readonly #o: PreparerOptions;
  // INVARIANT: at most PREPARE_CONCURRENCY jobs; a job's repo is 'preparing' in the registry
  // from its claim until it settles (unless removed meanwhile).
  readonly #jobs = new Map<string, Job>();
  #closing = false;

  constructor(o: PreparerOptions) {
    this.#o = o;
  }

  /** Names being prepared now. */
  get running(): string[] { return [...this.#jobs.keys()]; }

  /**
   * Follows the registry (every registered repo, mounted or not): aborts jobs whose repo is gone
   * or was registered again, then starts queued repos while there is room.
   */
  sync(repos: readonly RepoConfig[]): void {
    if (this.#closing) return;
    const byName = new Map(repos.map((c) => [c.name, c]));
    for (const [name, job] of this.#jobs) {
      if (byName.get(name)?.createdAt !== job.createdAt) job.abort.abort(new Error(`repo ${name} was removed`));
    }
    for (const c of repos) {
      if (this.#jobs.size >= PREPARE_CONCURRENCY) break;
      if (c.prepareState === 'queued' && !this.#jobs.has(c.name)) this.#start(c);
    }
  }

  #start(c: RepoConfig): void {
    // Claimed in the registry before any work: status says 'preparing' from here on.
    if (!setPrepareState(this.#o.db, c.name, ['queued'], 'preparing')) return;
    const abort = new AbortController();
    const job: Job = { createdAt: c.createdAt, abort, done: Promise.resolve() };
    this.#jobs.set(c.name, job);
    job.done = this.#run(c, abort.signal).finally(() => {
      this.#jobs.delete(c.name);
      this.#o.onSettled(c.name);
    });
  }

  async #run(c: RepoConfig, stop: AbortSignal): Promise<void> {
    const { root, db, log, cache } = this.#o;
    const tmp = prepareDir(root, c.name);
    const signal = AbortSignal.any([stop, AbortSignal.timeout(PREPARE_TIMEOUT_MS)]);
    const t0 = Date.now();
    log('info', 'preparing', { repo: c.name });
    try {
      const spec = preparedSpecOf(c);
      const credentials = c.hasCredentials ? await readCredentialsFile(root.credentialsFile(c.name)) : undefined;
      const p = await prepareRepo(root, tmp, spec, credentials, { signal, cache });
      signal.throwIfAborted();
      await installPrepared(root, c.name, tmp);
      if (!registerPrepared(db, c, p)) {
        log('warn', 'prepared repo was removed meanwhile; not registered', { repo: c.name });
        return;
      }
      log('info', 'prepared', { repo: c.name, entries: p.entries.length, sizesKnown: p.sizes !== undefined, ms: Date.now() - t0 });
    } catch (err) {
      if (stop.aborted) {
        // Stopping daemon or removed repo: back to the queue (a removed repo has no row to update).
        setPrepareState(db, c.name, ['preparing'], 'queued');
        log('info', 'preparation interrupted', { repo: c.name, reason: prepareErrorLine(stop.reason) });
        return;
      }
      const line = signal.aborted ? `preparation timed out after ${PREPARE_TIMEOUT_MS / 60_000} min` : prepareErrorLine(err);
      setPrepareState(db, c.name, ['preparing'], 'failed', line);
      log('warn', 'preparation failed', { repo: c.name, error: line, ms: Date.now() - t0 });
    } finally {
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Aborts every preparation (their repos go back to 'queued') and waits for them. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    const jobs = [...this.#jobs.values()];
    for (const j of jobs) j.abort.abort(new Error('the daemon is stopping'));
    await Promise.all(jobs.map((j) => j.done.catch(() => {})));
  }
}
