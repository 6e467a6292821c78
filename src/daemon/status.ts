// `status`: one table of keys (the reference's order first, ours after), filled by the daemon
// from its live state or by the CLI from the registry when no daemon runs.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { aheadBehind } from '../gitstore/fetch.js';
import type { Db } from '../registry/db.js';
import { readFetch } from '../registry/fetch-state.js';
import type { RepoConfig } from '../registry/repos.js';
import { loadSnapshot } from '../registry/snapshot-store.js';
import type { StateRoot } from '../registry/state-root.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { upstreamOf } from './refresh.js';

/**
 * `degraded`: mounted, but the last refresh failed (backing off). `preparing`: async add-repo, a
 * daemon serves the gated mount and prepares (or is about to); `failed`: its preparation failed
 * (whether or not a daemon runs: the registry records it). See docs/async-add-repo.md.
 */
export type RepoState = 'mounted' | 'unmounted' | 'preparing' | 'failed' | 'degraded';

/** Printed in this order; `repo` … `overlay_dirty` is the reference's line. */
export const STATUS_KEYS = [
  'repo', 'state', 'head', 'ref', 'ahead', 'behind', 'diverged', 'last_fetch', 'result', 'prepare_error',
  'hydrated_blobs', 'hydrated_bytes', 'overlay_dirty',
  'total_blobs', 'total_bytes', 'queued', 'mountpoint', 'refresh', 'next_fetch', 'source', 'prepare_state',
] as const;

export type StatusKey = (typeof STATUS_KEYS)[number];
export type StatusRecord = Record<StatusKey, string | number | boolean>;

/** What only a running daemon knows. */
export interface LiveState {
  state: RepoState;
  snapshot: Snapshot | undefined;
  isCached: (oid: string) => boolean;
  queued: number;
  mountpoint: string;
  /** ms since the epoch, or undefined when no periodic fetch is scheduled. */
  nextFetch: number | undefined;
}

/**
 * The status of `c`. Without `live` (no daemon): unmounted, hydration is what the shared cache
 * holds on disk. ahead/behind are counted locally each time (a local commit counts at once);
 * empty when git cannot count them.
 */
export async function repoStatus(db: Db, root: StateRoot, c: RepoConfig, mountpoint: string, live?: LiveState): Promise<StatusRecord> {
  const snap = live ? live.snapshot : loadSnapshot(db, c.name, c.generation);
  const isCached = live?.isCached ?? ((oid: string) => existsSync(join(root.cacheDir, 'blobs', oid.slice(0, 2), oid)));
  const t = snap?.blobTotals(isCached) ?? { totalBlobs: 0, totalBytes: 0, hydratedBlobs: 0, hydratedBytes: 0 };
  const upstream = upstreamOf(c);
  const ready = c.prepareState === 'ready';
  const ab = upstream && ready ? await aheadBehind(c.gitDir, upstream).catch(() => undefined) : undefined;
  const f = readFetch(db, c.name);
  const overlayDirty = db.prepare('SELECT 1 FROM overlay_nodes WHERE repo = ? LIMIT 1').get(c.name) !== undefined;
  // A failed preparation is a fact of the registry; queued/preparing without a daemon is not
  // being worked on (unmounted), with one it is (the live state: preparing).
  const state: RepoState = c.prepareState === 'failed' ? 'failed' : live?.state ?? 'unmounted';
  return {
    repo: c.name, state, head: snap?.commit ?? '', ref: c.branch ?? c.ref ?? '',
    ahead: ab?.ahead ?? '', behind: ab?.behind ?? '', diverged: ab ? ab.ahead > 0 && ab.behind > 0 : '',
    // Before any refresh, the clone is the last fetch (none yet while an async repo is prepared).
    last_fetch: f?.lastFetch ?? (ready ? c.createdAt : ''), result: f?.result ?? 'ok', prepare_error: c.prepareError ?? '',
    hydrated_blobs: t.hydratedBlobs, hydrated_bytes: t.hydratedBytes, overlay_dirty: overlayDirty,
    total_blobs: t.totalBlobs, total_bytes: t.totalBytes, queued: live?.queued ?? 0, mountpoint: live?.mountpoint ?? mountpoint,
    refresh: c.refresh, next_fetch: live?.nextFetch !== undefined ? new Date(live.nextFetch).toISOString() : '',
    source: live ? 'daemon' : 'registry', prepare_state: c.prepareState,
  };
}

/**
 * `key=value …` in STATUS_KEYS order, then any other keys. A value with a space or a quote (a
 * failed fetch's `result`) is printed as a JSON string, so the line still splits on spaces
 * outside quotes; `--json` gives the same record as an object.
 */
export function formatStatus(r: Partial<Record<string, unknown>>): string {
  const keys = [...STATUS_KEYS, ...Object.keys(r).filter((k) => !(STATUS_KEYS as readonly string[]).includes(k))];
  return keys.filter((k) => k in r).map((k) => `${k}=${quote(String(r[k]))}`).join(' ');
}

function quote(v: string): string {
  return /[\s"\\]/.test(v) ? JSON.stringify(v) : v;
}
