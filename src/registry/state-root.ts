// Where artifact-fs keeps its state (ARTIFACT_FS_ROOT, default /var/lib/artifact-fs). The mount
// root (where repos appear) is a different thing, chosen per repo or by the daemon.

import { join, resolve } from 'node:path';

export const DEFAULT_STATE_ROOT = '/var/lib/artifact-fs';

export interface StateRoot {
  readonly dir: string;
  readonly db: string;
  /** Per-repo data: git dir, overlay, credentials. remove-repo --purge deletes it. */
  repoDir(name: string): string;
  gitDir(name: string): string;
  /** Remote credentials (0600, git credential format); only when the remote URL carried them. */
  credentialsFile(name: string): string;
  /** The fsmonitor hook git runs and the change journal it reads (gitstore/fsmonitor-journal.ts). */
  fsmonitorHook(name: string): string;
  fsmonitorJournal(name: string): string;
  /** Shared content-addressed blob cache. */
  readonly cacheDir: string;
  /** Scratch space (git object views); emptied when the daemon starts. */
  readonly scratchDir: string;
  /** Default mount root when neither the repo nor the daemon names one. */
  readonly defaultMountRoot: string;
  /** The running daemon's control socket (daemon/control-protocol.ts). */
  readonly socket: string;
}

export function stateRoot(dir = process.env.ARTIFACT_FS_ROOT || DEFAULT_STATE_ROOT): StateRoot {
  const d = resolve(dir);
  return {
    dir: d,
    db: join(d, 'registry.db'),
    repoDir: (name) => join(d, 'repos', name),
    gitDir: (name) => join(d, 'repos', name, 'work', '.git'),
    credentialsFile: (name) => join(d, 'repos', name, 'credentials'),
    fsmonitorHook: (name) => join(d, 'repos', name, 'fsmonitor', 'hook'),
    fsmonitorJournal: (name) => join(d, 'repos', name, 'fsmonitor', 'journal'),
    cacheDir: join(d, 'cache'),
    scratchDir: join(d, 'tmp'),
    defaultMountRoot: join(d, 'mnt'),
    socket: join(d, 'daemon.sock'),
  };
}
