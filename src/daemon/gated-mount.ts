// The mount of an async repo that is not prepared yet: a FUSE mount whose handler is a
// GatedHandler (fs/gated-handler.ts). Mounted as soon as the daemon sees the repo; the gate
// follows the registry (failed: EIO; queued again by `prepare`: wait again); activate() builds
// the repo's RepoMount on this same mount and opens the gate, so the path never unmounts.

import { ROOT_INO } from '../snapshot/snapshot.js';
import type { MountedFilesystem } from '../fuse/index.js';
import { GatedHandler } from '../fs/gated-handler.js';
import type { RepoConfig } from '../registry/repos.js';
import { mountRepo, RepoMount, type RepoMountDeps, type RepoStats } from './repo-mount.js';

export class GatedMount {
  readonly #handler: GatedHandler;
  #mounted: MountedFilesystem | undefined;
  #activated = false;

  constructor(
    readonly config: RepoConfig,
    readonly mountpoint: string,
    private readonly deps: RepoMountDeps,
  ) {
    this.#handler = new GatedHandler({ statfsPath: deps.root.dir });
  }

  /** No snapshot yet: generation 0 (a ready registry row is activated, never compared). */
  get generation(): number { return 0; }
  get snapshot(): undefined { return undefined; }
  get closed(): Promise<void> | undefined { return this.#mounted?.closed; }
  /** What `status` says while this placeholder serves the path. */
  get state(): 'preparing' | 'failed' { return this.#handler.gate.state === 'failed' ? 'failed' : 'preparing'; }

  async start(): Promise<void> {
    const c = this.config;
    this.follow(c);
    this.#mounted = await mountRepo(this.#handler, c.name, this.mountpoint, this.deps.log);
    this.deps.log('info', 'mounted (gated until prepared)', { repo: c.name, mountpoint: this.mountpoint, prepare: c.prepareState });
  }

  /** The registry's prepare state of a repo that is not ready: failed shuts the gate with EIO; queued/preparing waits. */
  follow(c: RepoConfig): void {
    if (c.prepareState === 'failed') this.#handler.gate.fail(c.prepareError ?? 'preparation failed');
    else this.#handler.gate.reset();
  }

  /**
   * The repo is prepared (`c` is its ready registry row): builds its RepoMount behind this mount
   * and opens the gate; from then on the RepoMount owns the mount. Throws (gate still shut) when
   * the RepoMount cannot start; the caller closes this mount then.
   */
  async activate(c: RepoConfig): Promise<RepoMount> {
    const mounted = this.#mounted;
    if (!mounted || this.#activated) throw new Error(`the gated mount of ${c.name} is not active`);
    this.#activated = true;
    let released = -1;
    const m = new RepoMount(c, this.mountpoint, {
      ...this.deps,
      attach: async (fs) => {
        released = this.#handler.gate.waiting;
        this.#handler.openWith(fs);
        // The placeholder's root attributes were given with no cache lifetime; dropping the
        // root inode's cached attributes anyway costs one notification and rules out staleness.
        await mounted.session.notifyInvalInode(ROOT_INO, 0, 0).catch(() => 0);
        return mounted;
      },
    });
    try {
      await m.start();
    } catch (err) {
      await m.close().catch(() => {});
      if (released < 0) this.#activated = false; // the mount is still ours to close
      throw err;
    }
    this.deps.log('info', 'gate opened', { repo: c.name, mountpoint: this.mountpoint, released });
    return m;
  }

  stats(): RepoStats {
    return { totalBlobs: 0, totalBytes: 0, hydratedBlobs: 0, hydratedBytes: 0 };
  }

  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.#mounted?.session.counts ?? []);
  }

  /**
   * Unmounts. Waiting requests fail first (EIO): a process blocked in the mount holds it busy,
   * and the unmount would otherwise wait for the lazy detach's grace period. Idempotent; a no-op
   * once activated (the RepoMount owns the mount).
   */
  async close(): Promise<void> {
    if (this.#activated) return;
    this.#handler.gate.fail(`${this.config.name} is being unmounted`);
    await this.#mounted?.close();
  }
}
