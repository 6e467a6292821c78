// What the control socket can ask of a running daemon: one row per operation. Each row
// validates its arguments, changes the registry first (the source of truth: a daemon restart
// finds the same state), then makes the running daemon act on it before answering. Adding an
// operation (e.g. `prepare` for async add-repo) is adding a row here and, when it needs a new
// capability, a method on ControlTarget.

import type { Db } from '../registry/db.js';
import { deleteRepo, getRepo, setPrepareState, setRefresh, setUnmounted, type RepoConfig } from '../registry/repos.js';
import type { StateRoot } from '../registry/state-root.js';
import { ControlError } from './control-protocol.js';
import type { ControlOp } from './control-server.js';
import type { RefreshLoop } from './refresh.js';
import { parseRefresh, UsageError, validateName } from './repo-spec.js';
import { repoStatus, type LiveState, type StatusRecord } from './status.js';

/** The daemon as the control operations see it. */
export interface ControlTarget {
  readonly db: Db;
  readonly root: StateRoot;
  readonly refresh: RefreshLoop;
  /** Resolves after a whole reconcile pass that started after this call. */
  reconcileNow(): Promise<void>;
  /** Unmounts `name` now if it is mounted (the registry decides whether it comes back). */
  unmount(name: string): Promise<void>;
  /** Drops the pause after a failed mount, so the next pass tries at once. */
  forgetMountFailure(name: string): void;
  /** Why the last mount of `name` failed, if it did. */
  mountError(name: string): string | undefined;
  /** Live state of a mounted repo; undefined when it is not mounted. */
  live(name: string): LiveState | undefined;
  mountpoint(c: RepoConfig): string;
}

export function controlOps(t: ControlTarget): Record<string, ControlOp> {
  const repo = (args: Record<string, unknown>): RepoConfig => {
    const name = validateName(stringArg(args, 'name'));
    const c = getRepo(t.db, name);
    if (!c) throw new ControlError('not-found', `no repo named '${name}'`);
    return c;
  };
  const status = async (c: RepoConfig): Promise<StatusRecord> => {
    const live = t.live(c.name);
    if (live) return repoStatus(t.db, t.root, c, live.mountpoint, live);
    return { ...(await repoStatus(t.db, t.root, c, t.mountpoint(c))), source: 'daemon' };
  };
  return {
    status: async (args) => status(repo(args)),

    unmount: async (args) => {
      const c = repo(args);
      setUnmounted(t.db, c.name, true);
      await t.reconcileNow();
      return { name: c.name, mountpoint: t.mountpoint(c) };
    },

    remount: async (args) => {
      const c = repo(args);
      setUnmounted(t.db, c.name, false);
      await t.unmount(c.name);
      t.forgetMountFailure(c.name);
      await t.reconcileNow();
      const live = t.live(c.name);
      if (!live) throw new ControlError('failed', `mount of ${c.name} failed: ${t.mountError(c.name) ?? 'see the daemon log'}`);
      return { name: c.name, mountpoint: live.mountpoint };
    },

    fetch: async (args) => {
      const c = repo(args);
      requireReady(c, 'fetch');
      await t.refresh.fetchNow(c);
      return status(getRepo(t.db, c.name) ?? c);
    },

    'set-refresh': async (args) => {
      const c = repo(args);
      const interval = stringArg(args, 'interval');
      try {
        parseRefresh(interval);
      } catch {
        throw new UsageError(`invalid --interval '${interval}': use e.g. 30s, 5m, 1h or never`);
      }
      if (!setRefresh(t.db, c.name, interval)) throw new ControlError('not-found', `no repo named '${c.name}'`);
      await t.reconcileNow();
      const next = t.refresh.nextFetch(c.name);
      return { name: c.name, refresh: interval, next_fetch: next !== undefined ? new Date(next).toISOString() : '' };
    },

    // Async add-repo: a failed preparation is queued again (the daemon starts it in this pass and
    // the gated mount waits again instead of failing). Queued or preparing: already under way.
    // Ready: nothing to do (idempotent, so scripts may call it to "make sure").
    prepare: async (args) => {
      const c = repo(args);
      if (c.prepareState === 'failed') setPrepareState(t.db, c.name, ['failed'], 'queued');
      await t.reconcileNow();
      return { name: c.name, prepare_state: getRepo(t.db, c.name)?.prepareState ?? c.prepareState };
    },

    // Unmount first, then unregister: if unregistering fails the repo is left unmounted, not
    // registered-but-half-gone. --purge (deleting the data) is done by the CLI after the answer.
    'remove-repo': async (args) => {
      const c = repo(args);
      setUnmounted(t.db, c.name, true);
      await t.reconcileNow();
      deleteRepo(t.db, c.name);
      await t.reconcileNow();
      return { name: c.name };
    },
  };
}

function stringArg(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (v === undefined) throw new UsageError(`--${key} is required`);
  if (typeof v !== 'string') throw new UsageError(`--${key} must be a string`);
  return v;
}

/** Operations that need the repo's git dir refuse an async repo that is not prepared yet. */
export function requireReady(c: RepoConfig, op: string): void {
  if (c.prepareState === 'ready') return;
  const why = c.prepareState === 'failed' ? `its preparation failed (${c.prepareError ?? 'see status'}); retry with prepare --name ${c.name}` : `it is being prepared (prepare_state=${c.prepareState})`;
  throw new ControlError('failed', `cannot ${op} ${c.name}: ${why}`);
}
