// Credentials in an https remote URL: stripped from everything git sees, kept in one 0600 file,
// and usable by git commands the user runs in the mount (lazy blob fetches during checkout,
// fetch, pull, push) without a prompt. A wrong password fails add-repo at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afs, startDaemon } from './support/cli.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';
import { addCommit, git, makeRepo } from './support/git-fixtures.js';
import { startGitServer, type GitServer } from './support/git-server.js';

const exec = promisify(execFile);
const PASSWORD = 'pw-4f1d8a-never-leak';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');

/** Every file under `dir`, as (path relative to dir, bytes). */
async function allFiles(dir: string): Promise<Array<[string, Buffer]>> {
  const out: Array<[string, Buffer]> = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push([relative(dir, p), await readFile(p)]);
    }
  };
  await walk(dir);
  return out;
}

function assertNoSecret(text: string | Buffer, where: string): void {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  assert.ok(!s.includes(PASSWORD), `password in ${where}`);
  assert.ok(!s.includes(BASIC), `basic-auth token in ${where}`);
}

/** `ps -eo args` while the server holds a request: the password is in no process's argv. */
async function argvWhileHeld(server: GitServer, start: () => Promise<unknown>): Promise<string> {
  server.hold();
  const running = start();
  try {
    await server.waitForHeld(1, 30_000);
    return (await exec('ps', ['-eo', 'args'], { maxBuffer: 16 << 20 })).stdout;
  } finally {
    server.release();
    await running;
  }
}

test('credentials from the URL work for git in the mount without prompts and are stored nowhere but one 0600 file', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-cred-');
  const remote = join(dir, 'remote');
  const { bare } = await makeRepo(remote, { 'README.md': 'private\n', 'src/a.txt': 'main a\n' }, { name: 'private' });
  await addCommit(bare, { 'feature.txt': 'feature only\n', 'src/a.txt': 'feature a\n' }, { branch: 'feature', from: 'refs/heads/main' });
  const server = await startGitServer({ root: remote, basicAuth: { user: 'alice', password: PASSWORD } });
  defer(t, () => server.close());
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const authed = server.url('private').replace('http://', `http://alice:${PASSWORD}@`);
  const outputs: Array<[string, string]> = [];

  const t0 = Date.now();
  const wrong = await afs(state, ['add-repo', '--name', 'bad', '--remote', authed.replace(PASSWORD, 'wrong-password')]);
  assert.ok(Date.now() - t0 < 15_000, `a wrong password took ${Date.now() - t0} ms`);
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr, `artifact-fs: authentication failed for ${server.url('private')}\n`);
  outputs.push(['wrong add-repo', wrong.stdout + wrong.stderr]);

  let add = { code: null as number | null, stdout: '', stderr: '' };
  const addArgv = await argvWhileHeld(server, async () => { add = await afs(state, ['add-repo', '--name', 'p', '--remote', authed, '--mount-root', mnt]); });
  assert.equal(add.code, 0, add.stderr);
  outputs.push(['ps during add-repo', addArgv], ['add-repo', add.stdout + add.stderr]);

  const daemon = startDaemon(state);
  defer(t, () => daemon.stop());
  const root = join(mnt, 'p');
  await daemon.waitMounted(root);
  assert.equal(await readFile(join(root, 'src/a.txt'), 'utf8'), 'main a\n');

  // Git as a user runs it in the mount: no credentials in its environment, prompts possible
  // (GIT_TERMINAL_PROMPT unset) but routed to an askpass that records being asked and fails.
  const home = join(dir, 'home');
  const asked = join(dir, 'asked');
  const askpass = join(dir, 'askpass.sh');
  await writeFile(askpass, `#!/bin/sh\necho "$1" >> '${asked}'\nexit 1\n`, { mode: 0o755 });
  const env = {
    PATH: process.env.PATH!, HOME: home, LANG: 'C', GIT_CONFIG_NOSYSTEM: '1', GIT_ASKPASS: askpass, SSH_ASKPASS: askpass,
    GIT_AUTHOR_NAME: 'U', GIT_AUTHOR_EMAIL: 'u@example.com', GIT_COMMITTER_NAME: 'U', GIT_COMMITTER_EMAIL: 'u@example.com',
  };
  const userGit = async (...args: string[]): Promise<string> => {
    try {
      const r = await exec('git', args, { cwd: root, env, timeout: 60_000 });
      return r.stdout + r.stderr;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      assert.fail(`git ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
    }
  };

  assert.equal((await userGit('remote', 'get-url', 'origin')).trim(), server.url('private'), 'origin has no userinfo');
  outputs.push(['git config -l', await userGit('config', '-l')]);

  await addCommit(bare, { 'later.txt': 'pushed to main later\n' });
  outputs.push(['git pull', await userGit('pull', '--ff-only')]);
  assert.equal(await readFile(join(root, 'later.txt'), 'utf8'), 'pushed to main later\n');

  let fetchOut = '';
  const fetchArgv = await argvWhileHeld(server, async () => { fetchOut = await userGit('fetch', 'origin', 'feature:refs/remotes/origin/feature'); });
  outputs.push(['ps during git fetch in the mount', fetchArgv], ['git fetch', fetchOut]);

  // feature's blobs are not local (blobless fetch): checkout fetches them lazily, with credentials.
  const missing = (await git(['-C', root, 'rev-list', '--objects', '--missing=print', 'origin/feature'])).split('\n').filter((l) => l.startsWith('?'));
  assert.ok(missing.length >= 2, `feature's blobs should be missing before checkout: ${missing.join(' ')}`);
  outputs.push(['git checkout', await userGit('checkout', '-b', 'feature', 'origin/feature')]);
  assert.equal(await readFile(join(root, 'feature.txt'), 'utf8'), 'feature only\n');
  assert.equal(await readFile(join(root, 'src/a.txt'), 'utf8'), 'feature a\n');

  await writeFile(join(root, 'pushed.txt'), 'from the mount\n');
  await userGit('add', 'pushed.txt');
  await userGit('commit', '-q', '-m', 'from the mount');
  outputs.push(['git push', await userGit('push', 'origin', 'HEAD:refs/heads/pushed')]);
  assert.equal((await git(['--git-dir', bare, 'show', 'pushed:pushed.txt'])), 'from the mount\n');
  await assert.rejects(access(asked), 'git asked for credentials');

  // The password is in exactly one file under the state root, readable by its owner only.
  const credFile = join(state, 'repos', 'p', 'credentials');
  assert.equal((await stat(credFile)).mode & 0o777, 0o600);
  const holders = (await allFiles(state)).filter(([, bytes]) => bytes.includes(PASSWORD) || bytes.includes(BASIC)).map(([p]) => p);
  assert.deepEqual(holders, ['repos/p/credentials']);
  outputs.push(['list-repos', (await afs(state, ['list-repos'])).stdout], ['status', (await afs(state, ['status', '--name', 'p'])).stdout], ['daemon log', daemon.log()]);
  for (const [where, text] of outputs) assertNoSecret(text, where);
  assert.match(fetchArgv + addArgv, /git/, 'ps saw the git processes');
});

test('ambient credentials (a helper in the user\'s git config) work for add-repo and reads, without prompts', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-ambient-');
  const remote = join(dir, 'remote');
  await makeRepo(remote, { 'README.md': 'ambient\n', 'src/a.txt': 'a\n', '.gitignore': 'x\n' }, { name: 'private' });
  const server = await startGitServer({ root: remote, basicAuth: { user: 'alice', password: PASSWORD } });
  defer(t, () => server.close());
  const store = join(dir, 'git-credentials');
  await writeFile(store, `${server.url('private').replace('http://', `http://alice:${PASSWORD}@`).replace(/\/private\.git$/, '')}\n`, { mode: 0o600 });
  const globalConfig = join(dir, 'gitconfig');
  await writeFile(globalConfig, `[credential]\n\thelper = store --file=${store}\n`);
  const env = { GIT_CONFIG_GLOBAL: globalConfig };
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const add = await afs(state, ['add-repo', '--name', 'amb', '--remote', server.url('private'), '--mount-root', mnt], env);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stderr, '', 'sizes were learned with the ambient credentials too');
  const daemon = startDaemon(state, [], env);
  defer(t, () => daemon.stop());
  await daemon.waitMounted(join(mnt, 'amb'));
  assert.equal(await readFile(join(mnt, 'amb', 'src/a.txt'), 'utf8'), 'a\n');
  assert.equal(await readFile(join(mnt, 'amb', 'README.md'), 'utf8'), 'ambient\n');
  const files = await allFiles(state);
  assert.deepEqual(files.filter(([, b]) => b.includes(PASSWORD) || b.includes(BASIC)).map(([p]) => p), [], 'ambient credentials copied into the state root');
  assertNoSecret(daemon.log() + add.stdout, 'outputs');
});

test('ssh remotes never prompt: git runs ssh in batch mode', fuseTest, async (t) => {
  const dir = await tempDir(t, 'afs-ssh-');
  const bin = join(dir, 'bin');
  await exec('mkdir', ['-p', bin]);
  // A stand-in for ssh: refuses like a server without our key in batch mode; otherwise it
  // "prompts" (hangs), which the time bound below would catch.
  await writeFile(join(bin, 'ssh'), '#!/bin/sh\ncase "$*" in *BatchMode=yes*) echo "git@127.0.0.1: Permission denied (publickey)." >&2; exit 255;; esac\nsleep 60\n', { mode: 0o755 });
  const t0 = Date.now();
  const r = await afs(join(dir, 'state'), ['add-repo', '--name', 's', '--remote', 'ssh://git@127.0.0.1/repo.git'], { PATH: `${bin}:${process.env.PATH}`, GIT_SSH_COMMAND: '' });
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'artifact-fs: authentication failed for ssh://***@127.0.0.1/repo.git\n');
});
