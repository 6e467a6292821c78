// The differential harness for git in the mount: every git command and file edit runs in the
// artifact-fs mount and in a native `git clone` of an identical remote, and after each step the
// two must be indistinguishable: exit codes, output (stdout always, stderr unless the step says
// its progress text may differ), and the whole observable state (`check`). The native checkout is
// the oracle; no expected output is written by hand.
//
// Identities and dates are pinned, so commit ids (and stash ids) are equal on both sides, not only
// tree ids. Each side has its own bare remote (copies of one fixture) so pushes are symmetric too;
// outputs are compared after replacing each side's paths and URL with placeholders.
//
// One difference is by design and removed before comparing: the mount's git dir is a blobless
// partial clone, which `git remote -v` shows as a ` [blob:none]` suffix on the fetch URL.
//
// AFS_TWINS_TRACE=1 prints every step with its exit code and the mount's fetch count.

import assert from 'node:assert/strict';
import { gitRun, type GitResult } from './git-fixtures.js';
import type { GitServer } from './git-server.js';
import { listWorkTree } from './work-tree-listing.js';

export type SideName = 'mount' | 'native';

export interface Side {
  readonly name: SideName;
  /** The work tree (for the mount: the mount path). */
  readonly dir: string;
  /** Its git dir (for the mount: where the synthesized `.git` file points). */
  readonly gitDir: string;
  /** The bare repository its `origin` is, and origin's URL. */
  readonly remote: string;
  readonly url: string;
}

export interface StepOptions {
  /** Compare stderr too (default true). False for commands whose progress text may differ. */
  stderr?: boolean;
  /** Compare stdout (default true). */
  stdout?: boolean;
  /** Exit code both sides must have (default 0: a step that fails by surprise fails the test). */
  code?: number | 'nonzero';
}

export interface StepResult {
  mount: GitResult;
  native: GitResult;
  /** Fetch requests the server saw while the mount side ran (git's lazy fetches + hydration). */
  mountFetches: number;
}

/** Fixed identity and time: the same commands give the same commit ids on both sides. */
export const PINNED_ENV: Readonly<Record<string, string>> = {
  GIT_AUTHOR_NAME: 'Twin Author', GIT_AUTHOR_EMAIL: 'twin@example.com', GIT_AUTHOR_DATE: '1700009000 +0000',
  GIT_COMMITTER_NAME: 'Twin Author', GIT_COMMITTER_EMAIL: 'twin@example.com', GIT_COMMITTER_DATE: '1700009000 +0000',
  GIT_EDITOR: 'true', GIT_MERGE_AUTOEDIT: 'no', LC_ALL: 'C', TZ: 'UTC',
};

export class GitTwins {
  readonly mount: Side;
  readonly native: Side;
  /** The server both remotes are served by (its counters). */
  readonly server: GitServer;
  readonly #log: string[] = [];

  constructor(mount: Side, native: Side, server: GitServer) {
    this.mount = mount;
    this.native = native;
    this.server = server;
  }

  get sides(): readonly Side[] {
    return [this.mount, this.native];
  }

  /** Runs `git <args>` in the mount, then natively; asserts both ended alike. */
  async git(args: readonly string[], opts: StepOptions = {}): Promise<StepResult> {
    const label = `git ${args.join(' ')}`;
    const before = this.server.stats.fetchRequests;
    const t0 = performance.now();
    const mount = await this.run(this.mount, args);
    const mountMs = performance.now() - t0;
    const mountFetches = this.server.stats.fetchRequests - before;
    const t1 = performance.now();
    const native = await this.run(this.native, args);
    const nativeMs = performance.now() - t1;
    this.#log.push(`${label} → ${native.code}`);
    if (process.env.AFS_TWINS_TRACE) process.stderr.write(`[twins] ${label} → ${native.code}, mount fetches ${mountFetches}, ${mountMs.toFixed(0)} ms (native ${nativeMs.toFixed(0)} ms)\n`);
    const where = `${label} (steps so far: ${this.#log.join('; ')})`;
    if (opts.code === 'nonzero') assert.notEqual(native.code, 0, `${where}: native git succeeded, the step expects a failure\n${native.stderr}`);
    else assert.equal(native.code, opts.code ?? 0, `${where}: native exit code\n${native.stderr}`);
    assert.equal(mount.code, native.code, `${where}: exit code in the mount ${mount.code}, native ${native.code}\nmount stderr: ${mount.stderr}\nnative stderr: ${native.stderr}`);
    if (opts.stdout !== false) assert.equal(this.#norm(this.mount, mount.stdout), this.#norm(this.native, native.stdout), `${where}: stdout differs`);
    if (opts.stderr !== false) assert.equal(this.#norm(this.mount, mount.stderr), this.#norm(this.native, native.stderr), `${where}: stderr differs`);
    return { mount, native, mountFetches };
  }

  /** Applies the same file edits to both work trees (mount first). */
  async both(fn: (dir: string, side: SideName) => Promise<unknown>): Promise<void> {
    this.#log.push('(edit)');
    await fn(this.mount.dir, 'mount');
    await fn(this.native.dir, 'native');
  }

  /** Runs git in one side's work tree with the pinned environment. */
  run(side: Side, args: readonly string[]): Promise<GitResult> {
    return gitRun(args, { cwd: side.dir, env: PINNED_ENV });
  }

  /** Asserts the two sides are indistinguishable (see observe()). */
  async check(step: string): Promise<void> {
    const [m, n] = await Promise.all([this.observe(this.mount), this.observe(this.native)]);
    assert.deepEqual(m, n, `after "${step}" the mount differs from the native checkout (steps: ${this.#log.join('; ')})`);
  }

  /**
   * Everything a user can see: status in both porcelain formats (v2 adds modes, object ids, the
   * branch header, ignored files), the index, both diffs, HEAD, refs, history with tree ids,
   * stashes, the remote's refs and the work tree itself.
   */
  async observe(side: Side): Promise<Record<string, string | string[]>> {
    const q = async (...args: string[]): Promise<string> => {
      const r = await this.run(side, args);
      return `${r.code} ${this.#norm(side, r.stdout).replace(/\0/g, '\\0\n')}${r.code === 0 ? '' : this.#norm(side, r.stderr)}`;
    };
    const [status, statusV2, index, diff, cached, head, refs, log, stashes, remote, tree] = await Promise.all([
      q('status', '--porcelain=v1', '-z'),
      q('status', '--porcelain=v2', '--branch', '-z', '-uall', '--ignored'),
      q('ls-files', '-s', '-z'),
      q('diff', '--no-color'),
      q('diff', '--cached', '--no-color'),
      q('rev-parse', '--symbolic-full-name', 'HEAD', 'HEAD'),
      q('for-each-ref', '--format=%(refname) %(objectname) %(upstream)'),
      q('log', '--all', '--format=%H %T %P %s'),
      q('stash', 'list'),
      gitRun(['--git-dir', side.remote, 'for-each-ref', '--format=%(refname) %(objectname)']).then((r) => r.stdout.toString()),
      listWorkTree(side.dir),
    ]);
    return { status, statusV2, index, diff, cached, head, refs, log, stashes, remote, tree };
  }

  /** One side's output with its own paths and URL replaced by placeholders. */
  #norm(side: Side, out: Buffer | string): string {
    return out.toString()
      .split(side.gitDir).join('<gitdir>')
      .split(side.dir).join('<worktree>')
      .split(side.url).join('<remote>')
      .split(side.remote).join('<remote>')
      .replace(/^(\S+\t<remote> \(fetch\)) \[blob:none\]$/gm, '$1');
  }
}
