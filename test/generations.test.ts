// HEAD-driven generations (docs/overlay-design.md, "Generations"): after git moves HEAD in the
// mount (commit, checkout, reset), the daemon re-bases the overlay onto the new commit. Nothing
// visible changes (inode, mode, size, times, content of every path), the overlay shrinks to what
// differs from the new HEAD, git status stays clean without reading a file, and all of it
// survives a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afs } from './support/cli.js';
import { defer, fuseTest } from './support/fuse-env.js';
import { addCommit, gitRun, listBlobs, type FixtureFile } from './support/git-fixtures.js';
import { mountedRepo } from './support/mounted-repo.js';

const FILES: Record<string, FixtureFile> = {
  'README.md': '# generations\n',
  'package.json': '{"name":"g"}\n',
  'bin/run': { exec: '#!/bin/sh\necho run\n' },
  'link': { symlink: 'README.md' },
};
for (let i = 0; i < 20; i++) FILES[`src/m${i}/f${i}.ts`] = `export const v${i} = ${i};\n`;

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com',
};

interface Seen { ino: bigint; mode: bigint; size: bigint; mtime: bigint; ctime: bigint; nlink: bigint; content: string }

/** Everything stat and read show for every path under `root` (the .git file aside), atime aside. */
async function view(root: string, prefix = ''): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  for (const name of (await readdir(join(root, prefix))).sort()) {
    if (!prefix && name === '.git') continue;
    const rel = prefix ? `${prefix}/${name}` : name;
    const p = join(root, rel);
    const st = await lstat(p, { bigint: true });
    let content = '';
    if (st.isFile()) content = createHash('sha1').update(await readFile(p)).digest('hex');
    else if (st.isSymbolicLink()) content = await readlink(p);
    out.set(rel, { ino: st.ino, mode: st.mode, size: st.size, mtime: st.mtimeNs, ctime: st.ctimeNs, nlink: st.nlink, content });
    if (st.isDirectory()) for (const [k, v] of await view(root, rel)) out.set(k, v);
  }
  return out;
}

function assertSameView(after: Map<string, Seen>, before: Map<string, Seen>, what: string): void {
  const diffs: string[] = [];
  for (const [p, b] of before) {
    const a = after.get(p);
    if (!a) diffs.push(`${p}: gone`);
    else for (const k of Object.keys(b) as Array<keyof Seen>) if (a[k] !== b[k]) diffs.push(`${p}: ${k} ${b[k]} -> ${a[k]}`);
  }
  for (const p of after.keys()) if (!before.has(p)) diffs.push(`${p}: appeared`);
  assert.deepEqual(diffs, [], `${what}: the view changed`);
}

/** The overlay rows of the registry, for failure messages. */
async function overlayRows(state: string): Promise<string> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(state, 'registry.db'), { readonly: true });
  try {
    return JSON.stringify(db.prepare('SELECT ino, parent, name, kind, mode, content_kind, state, created FROM overlay_nodes').all());
  } finally {
    db.close();
  }
}

async function setup(t: import('node:test').TestContext) {
  // A branch that changes, adds and deletes files and adds a directory.
  const changes: Record<string, FixtureFile> = { 'README.md': '# other\n', 'bin/run': { exec: '#!/bin/sh\necho other\n' }, 'docs/new.md': 'new\n' };
  for (let i = 0; i < 8; i++) changes[`src/m${i}/f${i}.ts`] = `export const v${i} = ${i * 100};\n`;
  const m = await mountedRepo(t, 'g', FILES, (bare) => addCommit(bare, changes, { branch: 'other', from: 'main', message: 'other', delete: ['src/m19/f19.ts', 'package.json'] }));
  const { bare, server, state, root, restart } = m;
  const git = async (...args: string[]) => {
    const r = await gitRun(['-C', root, ...args], { env: GIT_ENV });
    assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString('utf8');
  };
  const status = async () => {
    const r = await afs(state, ['status', '--name', 'g', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  /** Waits until the daemon's base is HEAD (status head = rev-parse HEAD). */
  const switched = async () => {
    const head = (await git('rev-parse', 'HEAD')).trim();
    const deadline = Date.now() + 15_000;
    for (;;) {
      const s = await status();
      if (s.head === head) return s;
      if (Date.now() > deadline) throw new Error(`base never reached ${head}: ${JSON.stringify(s)}\n${m.daemon().log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { bare, server, state, root, git, status, switched, restart, log: () => m.daemon().log() };
}

test('a commit in the mount becomes the base: nothing visible changes, the overlay empties, status reads nothing', fuseTest, async (t) => {
  const { server, state, root, git, switched, restart, log } = await setup(t);
  await writeFile(join(root, 'src/m1/f1.ts'), 'export const v1 = "edited";\n');
  await writeFile(join(root, 'README.md'), '# edited\n');
  await mkdir(join(root, 'src/new'));
  await writeFile(join(root, 'src/new/file.ts'), 'new\n');
  await chmod(join(root, 'package.json'), 0o755);
  await rm(join(root, 'src/m2'), { recursive: true });
  await rename(join(root, 'src/m3'), join(root, 'src/moved'));
  await git('add', '-A');
  const before = await view(root);
  await git('commit', '-q', '-m', 'local');
  const s = await switched();
  assert.equal(s.overlay_dirty, false, `rows left after the switch: ${await overlayRows(state)}; log:\n${log()}`);
  assertSameView(await view(root), before, 'after the switch');
  server.resetStats();
  assert.equal(await git('status', '--porcelain'), '');
  assert.equal(server.stats.fetchRequests, 0, 'git status fetched a blob');
  // Writing to a file that became base copies it up from the adopted blob, without a fetch.
  await writeFile(join(root, 'src/m1/f1.ts'), 'again\n', { flag: 'a' });
  assert.equal(await readFile(join(root, 'src/m1/f1.ts'), 'utf8'), 'export const v1 = "edited";\nagain\n');
  assert.equal(server.stats.fetchRequests, 0, 'editing an adopted file fetched a blob');
  assert.equal(await git('status', '--porcelain'), ' M src/m1/f1.ts\n');
  const edited = await view(root);
  await restart();
  assertSameView(await view(root), edited, 'after a restart');
  assert.equal(await git('status', '--porcelain'), ' M src/m1/f1.ts\n');
});

test('checkout of a branch and back: the base follows, the tree equals the branch, status stays clean', fuseTest, async (t) => {
  const { bare, root, git, switched, restart, status } = await setup(t);
  await git('fetch', '-q', 'origin', 'other');
  await git('checkout', '-q', '-b', 'other', 'FETCH_HEAD');
  const checkedOut = await view(root);
  const s = await switched();
  assert.equal(s.overlay_dirty, false);
  assertSameView(await view(root), checkedOut, 'after the switch to other');
  const want = await listBlobs(bare, 'refs/heads/other');
  const got = [...checkedOut].filter(([, v]) => v.content && (v.mode & 0o170000n) !== 0o040000n).map(([p]) => p).sort();
  assert.deepEqual(got, want.map((b) => b.path).sort());
  assert.equal(await git('status', '--porcelain'), '');
  await git('checkout', '-q', 'main');
  const back = await view(root);
  assert.equal((await switched()).overlay_dirty, false);
  assertSameView(await view(root), back, 'after the switch back to main');
  assert.equal(await git('status', '--porcelain'), '');
  await restart();
  assertSameView(await view(root), back, 'after a restart');
  assert.equal(await git('status', '--porcelain'), '');
  assert.equal((await status()).overlay_dirty, false);
});

test('reset --soft moves HEAD only: the view stays, the overlay holds the difference, status matches git', fuseTest, async (t) => {
  const { root, git, switched, restart } = await setup(t);
  await writeFile(join(root, 'src/m4/f4.ts'), 'committed\n');
  await rm(join(root, 'src/m5/f5.ts'));
  await git('add', '-A');
  await git('commit', '-q', '-m', 'c1');
  await switched();
  const committed = await view(root);
  await git('reset', '-q', '--soft', 'HEAD~1');
  const s = await switched();
  assert.equal(s.overlay_dirty, true, 'the work tree differs from the new HEAD: rows must hold it');
  assertSameView(await view(root), committed, 'after reset --soft');
  assert.equal(await git('status', '--porcelain'), 'M  src/m4/f4.ts\nD  src/m5/f5.ts\n');
  await restart();
  assertSameView(await view(root), committed, 'after a restart');
  assert.equal(await git('status', '--porcelain'), 'M  src/m4/f4.ts\nD  src/m5/f5.ts\n');
});

test('uncommitted changes of every kind survive a commit of something else, byte for byte', fuseTest, async (t) => {
  const { root, git, switched, restart, status } = await setup(t);
  // Uncommitted: a deleted file, a moved directory, a file replaced by a directory, a directory
  // replaced by a file, a chmod, a new symlink, an untracked file, an edit kept open for writing,
  // and a file unlinked while open.
  await rm(join(root, 'src/m6/f6.ts'));
  await rename(join(root, 'src/m7'), join(root, 'src/m7-moved'));
  await rm(join(root, 'src/m8/f8.ts'));
  await mkdir(join(root, 'src/m8/f8.ts'));
  await writeFile(join(root, 'src/m8/f8.ts/inner'), 'inner\n');
  await rm(join(root, 'src/m9'), { recursive: true });
  await writeFile(join(root, 'src/m9'), 'now a file\n');
  await chmod(join(root, 'README.md'), 0o600);
  await symlink('src', join(root, 'src-link'));
  await writeFile(join(root, 'untracked.txt'), 'u\n');
  const open = await (await import('node:fs/promises')).open(join(root, 'src/m10/f10.ts'), 'r+');
  defer(t, () => open.close().catch(() => {}));
  await open.write(Buffer.from('OPEN'), 0, 4, 0);
  const doomed = await (await import('node:fs/promises')).open(join(root, 'src/m11/f11.ts'), 'r');
  defer(t, () => doomed.close().catch(() => {}));
  await rm(join(root, 'src/m11/f11.ts'));
  // Committed: one unrelated edit.
  await writeFile(join(root, 'src/m12/f12.ts'), 'committed\n');
  await git('add', 'src/m12/f12.ts');
  const porcelainBefore = await git('status', '--porcelain', '--untracked-files=all');
  await git('commit', '-q', '-m', 'one file');
  const before = await view(root);
  await switched();
  assertSameView(await view(root), before, 'after the switch');
  const expected = porcelainBefore.split('\n').filter((l) => l && !l.endsWith('src/m12/f12.ts')).join('\n') + '\n';
  assert.equal(await git('status', '--porcelain', '--untracked-files=all'), expected);
  // The handles still work after the switch.
  await open.write(Buffer.from('!'), 0, 1, 4);
  assert.equal((await readFile(join(root, 'src/m10/f10.ts'), 'utf8')).slice(0, 5), 'OPEN!');
  assert.equal((await doomed.read(Buffer.alloc(6), 0, 6, 0)).bytesRead, 6);
  await open.close();
  await doomed.close();
  const settled = await view(root);
  await restart();
  assertSameView(await view(root), settled, 'after a restart');
  assert.equal(await git('status', '--porcelain', '--untracked-files=all'), expected);
  assert.equal((await status()).overlay_dirty, true);
});
