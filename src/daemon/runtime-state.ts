// Live daemon state published in the registry, a fallback for `status` when the CLI cannot reach
// the daemon's control socket (which is the normal way: daemon/control-ops.ts). A row is trusted
// only while its heartbeat is fresh and its pid alive.

import type { Db } from '../registry/db.js';
import { processAlive } from '../util/process.js';

export interface RuntimeRow {
  repo: string;
  pid: number;
  state: string;
  mountpoint: string;
  heartbeat: number;
  hydratedBlobs: number;
  hydratedBytes: number;
  queued: number;
  failed: number;
}

/** A heartbeat older than this means the daemon is gone (or hung). */
export const STALE_AFTER_MS = 5000;

export function writeRuntime(db: Db, r: RuntimeRow): void {
  db.prepare(`INSERT INTO runtime (repo, pid, state, mountpoint, heartbeat, hydrated_blobs, hydrated_bytes, queued, failed)
              VALUES (@repo, @pid, @state, @mountpoint, @heartbeat, @hydratedBlobs, @hydratedBytes, @queued, @failed)
              ON CONFLICT(repo) DO UPDATE SET pid = excluded.pid, state = excluded.state, mountpoint = excluded.mountpoint,
                heartbeat = excluded.heartbeat, hydrated_blobs = excluded.hydrated_blobs, hydrated_bytes = excluded.hydrated_bytes,
                queued = excluded.queued, failed = excluded.failed`).run(r);
}

export function clearRuntime(db: Db, repo: string): void {
  db.prepare('DELETE FROM runtime WHERE repo = ?').run(repo);
}

/** The live row for `repo`, or undefined when no running daemon serves it. */
export function readRuntime(db: Db, repo: string): RuntimeRow | undefined {
  const r = db.prepare(`SELECT repo, pid, state, mountpoint, heartbeat, hydrated_blobs AS hydratedBlobs, hydrated_bytes AS hydratedBytes,
                          queued, failed FROM runtime WHERE repo = ?`).get(repo) as RuntimeRow | undefined;
  if (!r || Date.now() - r.heartbeat > STALE_AFTER_MS || !processAlive(r.pid)) return undefined;
  return r;
}
