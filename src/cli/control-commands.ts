// unmount, remount, fetch, set-refresh, prepare: act on the running daemon through the control socket;
// without one they act on the registry (which a daemon reads when it starts, and follows while
// it runs) and say so on stderr.

import { aheadBehind } from '../gitstore/fetch.js';
import { getRepo, setPrepareState, setRefresh, setUnmounted } from '../registry/repos.js';
import { requireReady } from '../daemon/control-ops.js';
import { stateRoot } from '../registry/state-root.js';
import { fetchOnce, upstreamOf } from '../daemon/refresh.js';
import { parseRefresh, UsageError, validateName } from '../daemon/repo-spec.js';
import { formatStatus } from '../daemon/status.js';
import { parse } from './args.js';
import { askDaemon, noDaemonNote } from './control-client.js';
import { withRegistry } from './registry-access.js';

const out = (s: string) => process.stdout.write(s + '\n');

function notFound(name: string): Error {
  return new Error(`no repo named '${name}'`);
}

export async function unmountCommand(args: string[]): Promise<number> {
  const name = validateName(parse('unmount', args, { name: { type: 'string' } }).name);
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'unmount', { name });
  if (!a.reached) {
    await withRegistry(root, async (db) => { if (!setUnmounted(db, name, true)) throw notFound(name); });
    noDaemonNote(a.reason, `recorded in the registry: ${name} stays unmounted until remount`);
  }
  out(`unmounted ${name}`);
  return 0;
}

export async function remountCommand(args: string[]): Promise<number> {
  const name = validateName(parse('remount', args, { name: { type: 'string' } }).name);
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'remount', { name });
  if (a.reached) {
    out(`mounted ${name} ${(a.result as { mountpoint: string }).mountpoint}`);
    return 0;
  }
  await withRegistry(root, async (db) => { if (!setUnmounted(db, name, false)) throw notFound(name); });
  noDaemonNote(a.reason, `recorded in the registry: ${name} is mounted when a daemon starts`);
  return 0;
}

export async function setRefreshCommand(args: string[]): Promise<number> {
  const f = parse('set-refresh', args, { name: { type: 'string' }, interval: { type: 'string' } });
  const name = validateName(f.name);
  if (f.interval === undefined) throw new UsageError('set-refresh: --interval is required (e.g. 30s, 5m, 1h or never)');
  try {
    parseRefresh(f.interval);
  } catch {
    throw new UsageError(`set-refresh: invalid --interval '${f.interval}': use e.g. 30s, 5m, 1h or never`);
  }
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'set-refresh', { name, interval: f.interval });
  if (!a.reached) {
    await withRegistry(root, async (db) => { if (!setRefresh(db, name, f.interval!)) throw notFound(name); });
    noDaemonNote(a.reason, `recorded in the registry; a daemon uses it when it starts`);
  }
  out(`refresh ${name} ${f.interval}`);
  return 0;
}

/** Fetches the tracked branch now; prints the outcome; exits 1 when the fetch failed. */
export async function fetchCommand(args: string[]): Promise<number> {
  const name = validateName(parse('fetch', args, { name: { type: 'string' } }).name);
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'fetch', { name });
  let r: Record<string, unknown>;
  if (a.reached) r = a.result as Record<string, unknown>;
  else {
    r = await withRegistry(root, async (db) => {
      const c = getRepo(db, name);
      if (!c) throw notFound(name);
      requireReady(c, 'fetch');
      const rec = await fetchOnce(root, db, c);
      const u = upstreamOf(c);
      const ab = u ? await aheadBehind(c.gitDir, u).catch(() => undefined) : undefined;
      return { repo: name, ahead: ab?.ahead ?? '', behind: ab?.behind ?? '', diverged: ab ? ab.ahead > 0 && ab.behind > 0 : '', last_fetch: rec.lastFetch, result: rec.result };
    });
    noDaemonNote(a.reason, 'fetched without it');
  }
  const { repo, ahead, behind, diverged, last_fetch, result } = r;
  out(formatStatus({ repo, ahead, behind, diverged, last_fetch, result }));
  if (result === 'ok') return 0;
  process.stderr.write(`artifact-fs: fetch of ${name} failed: ${String(result).replace(/^fetch failed: /, '')}\n`);
  return 1;
}

/**
 * Async add-repo: retries a failed preparation (queued again). Prints the repo's prepare state
 * after the call: `preparing N` (a daemon took it at once), `queued N` (no daemon, or the daemon
 * is busy preparing others), `ready N` (nothing to do: prepare is idempotent).
 */
export async function prepareCommand(args: string[]): Promise<number> {
  const name = validateName(parse('prepare', args, { name: { type: 'string' } }).name);
  const root = stateRoot();
  const a = await askDaemon(root.socket, 'prepare', { name });
  let state: string;
  if (a.reached) state = (a.result as { prepare_state: string }).prepare_state;
  else {
    state = await withRegistry(root, async (db) => {
      const c = getRepo(db, name);
      if (!c) throw notFound(name);
      if (c.prepareState === 'failed') setPrepareState(db, name, ['failed'], 'queued');
      return getRepo(db, name)?.prepareState ?? c.prepareState;
    });
    noDaemonNote(a.reason, state === 'ready' ? 'nothing to prepare' : `recorded in the registry: ${name} is prepared when a daemon starts`);
  }
  out(`${state} ${name}`);
  return 0;
}
