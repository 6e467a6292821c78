// One test file's environment for git-in-the-mount scenarios: a test git server, one daemon
// (background hydration off, so every fetch the server counts was caused by a step), the scenario
// fixture, and per scenario a pair of identical bare remotes, one mounted through add-repo and one
// natively cloned (GitTwins). Started on first use, torn down after the file's last test; the
// daemon can be restarted (SIGTERM) or killed (SIGKILL) mid-scenario.

import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { afs, startDaemon, type DaemonChild } from './cli.js';
import { basicAuthEnv, gitRun } from './git-fixtures.js';
import { startGitServer, type GitServer } from './git-server.js';
import { makeScenarioRepo } from './git-scenario-repo.js';
import { GitTwins } from './git-twins.js';

const DAEMON_ARGS = ['--hydration-concurrency', '0'];

export interface TwinsOptions {
  /**
   * Serve both remotes behind basic auth: the mount's add-repo gets the credentials in its URL
   * (which artifact-fs strips), the native clone gets them as a header for the clone only. Neither
   * side's git config holds them afterwards.
   */
  auth?: { user: string; password: string };
}
const REMOUNT_TIMEOUT_MS = 30_000;

export class GitLab {
  readonly server: GitServer;
  readonly #dir: string;
  readonly #fixture: string;
  readonly #state: string;
  readonly #mnt: string;
  readonly #names: string[] = [];
  #daemon: DaemonChild;
  #authServer: Promise<GitServer> | undefined;

  private constructor(dir: string, fixture: string, server: GitServer) {
    this.#dir = dir;
    this.#fixture = fixture;
    this.server = server;
    this.#state = join(dir, 'state');
    this.#mnt = join(dir, 'mnt');
    this.#daemon = startDaemon(this.#state, DAEMON_ARGS);
  }

  static async start(): Promise<GitLab> {
    const dir = await mkdtemp(join(tmpdir(), 'afs-git-'));
    const fixture = await makeScenarioRepo(join(dir, 'fixture'));
    await mkdir(join(dir, 'remotes'));
    const server = await startGitServer({ root: join(dir, 'remotes') });
    return new GitLab(dir, fixture, server);
  }

  /** A fresh mount and native clone of two copies of the fixture, named after the scenario. */
  async twins(scenario: string, opts: TwinsOptions = {}): Promise<GitTwins> {
    const name = scenario.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 40);
    if (this.#names.includes(name)) throw new Error(`scenario name ${name} used twice`);
    const [mountRemote, nativeRemote] = [`${name}-m.git`, `${name}-n.git`].map((r) => join(this.#dir, 'remotes', r)) as [string, string];
    await cp(this.#fixture, mountRemote, { recursive: true });
    await cp(this.#fixture, nativeRemote, { recursive: true });
    const server = opts.auth ? await this.#authServerFor(opts.auth) : this.server;
    const [mountUrl, nativeUrl] = [server.url(`${name}-m`), server.url(`${name}-n`)];
    const addUrl = opts.auth ? mountUrl.replace('http://', `http://${opts.auth.user}:${opts.auth.password}@`) : mountUrl;
    const add = await afs(this.#state, ['add-repo', '--name', name, '--remote', addUrl, '--mount-root', this.#mnt]);
    if (add.code !== 0) throw new Error(`add-repo ${name} failed: ${add.stderr}`);
    this.#names.push(name);
    const native = join(this.#dir, 'native', name);
    const env = opts.auth ? basicAuthEnv(opts.auth.user, opts.auth.password) : {};
    const clone = await gitRun(['clone', '-q', '--single-branch', '--no-tags', nativeUrl, native], { env });
    if (clone.code !== 0) throw new Error(`native clone failed: ${clone.stderr}`);
    const mount = join(this.#mnt, name);
    await this.#daemon.waitMounted(mount);
    const gitDir = (await readFile(join(mount, '.git'), 'utf8')).replace(/^gitdir: /, '').trim();
    return new GitTwins(
      { name: 'mount', dir: mount, gitDir, remote: mountRemote, url: mountUrl },
      { name: 'native', dir: native, gitDir: join(native, '.git'), remote: nativeRemote, url: nativeUrl },
      server,
    );
  }

  /** A second server on the same remotes, behind basic auth (one per lab). */
  #authServerFor(auth: { user: string; password: string }): Promise<GitServer> {
    return (this.#authServer ??= startGitServer({ root: join(this.#dir, 'remotes'), basicAuth: auth }));
  }

  /** The state root (to inspect what artifact-fs stored). */
  get stateRoot(): string {
    return this.#state;
  }

  /** Stops the daemon (SIGTERM: clean unmount; SIGKILL: the mounts go stale) and starts a new one. */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const old = this.#daemon;
    if (signal === 'SIGTERM') {
      const code = await old.stop();
      if (code !== 0) throw new Error(`daemon exited ${code} on SIGTERM:\n${old.log()}`);
    } else {
      old.child.kill('SIGKILL');
      await old.exited;
    }
    const next = startDaemon(this.#state, DAEMON_ARGS);
    this.#daemon = next;
    // Mounted again = this daemon logged it (a killed daemon's stale mount is still in mountinfo).
    const deadline = Date.now() + REMOUNT_TIMEOUT_MS;
    for (const name of this.#names) {
      while (!next.log().split('\n').some((l) => l.includes('"msg":"mounted"') && l.includes(`"repo":"${name}"`))) {
        if (Date.now() > deadline || next.child.exitCode !== null) throw new Error(`${name} was not mounted again; daemon log:\n${next.log()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await stat(join(this.#mnt, name, '.git'));
    }
  }

  /** The running daemon's log (for failure messages). */
  log(): string {
    return this.#daemon.log();
  }

  async close(): Promise<void> {
    await this.#daemon.stop();
    // A daemon that died uncleanly leaves its mounts stale: never leave them behind.
    for (const name of this.#names) spawnSync('umount', ['-l', join(this.#mnt, name)], { stdio: 'ignore' });
    await this.server.close();
    await (await this.#authServer)?.close();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** The file's lab, started by the first test that asks and closed after the file's last test. */
export function useGitLab(): () => Promise<GitLab> {
  let lab: Promise<GitLab> | undefined;
  after(async () => { if (lab) await (await lab).close(); });
  return () => (lab ??= GitLab.start());
}
