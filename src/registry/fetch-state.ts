// The outcome of each repo's last remote fetch (refresh loop or `fetch`), persisted so `status`
// shows it with or without a daemon and the backoff survives a restart.

import type { Db } from './db.js';

export interface FetchRecord {
  /** ISO time the last attempt ended. */
  lastFetch: string;
  /** 'ok', or one redacted line saying why the fetch failed. */
  result: string;
  /** Consecutive failures; 0 after a success. */
  failures: number;
}

export function readFetch(db: Db, repo: string): FetchRecord | undefined {
  return db.prepare('SELECT last_fetch AS lastFetch, result, failures FROM fetch_state WHERE repo = ?').get(repo) as FetchRecord | undefined;
}

/**
 * Records one attempt: `result` 'ok' resets the failure count, anything else increments it (in
 * the statement, so two concurrent recorders never lose a count). Returns the new record, or
 * undefined when the repo is no longer registered.
 */
export function recordFetch(db: Db, repo: string, lastFetch: string, result: string): FetchRecord | undefined {
  const ok = result === 'ok';
  return db.transaction(() => {
    if (!db.prepare('SELECT 1 FROM repos WHERE name = ?').get(repo)) return undefined;
    db.prepare(`INSERT INTO fetch_state (repo, last_fetch, result, failures) VALUES (?, ?, ?, ?)
                ON CONFLICT(repo) DO UPDATE SET last_fetch = excluded.last_fetch, result = excluded.result,
                  failures = CASE WHEN excluded.failures = 0 THEN 0 ELSE fetch_state.failures + 1 END`)
      .run(repo, lastFetch, result, ok ? 0 : 1);
    return readFetch(db, repo);
  }).immediate();
}
