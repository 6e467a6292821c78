// Git in the mount on unusual work trees: handles held open across git mv, reset --hard and
// checkout; file names git has to quote; hundreds of files in one directory (listings that take
// many readdir batches while git deletes). Compared with a native clone (test/support/git-twins.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dir } from 'node:fs';
import { open, opendir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fuseTest } from './support/fuse-env.js';
import { useGitLab } from './support/git-lab.js';
import { put } from './support/work-tree-edits.js';

const lab = useGitLab();

test('git mv of files and directories while handles are open in them', fuseTest, async () => {
  const tw = await (await lab()).twins('mv-open-handles');
  const handles = new Map<string, { file: FileHandle; dir: Dir }>();
  for (const side of tw.sides) handles.set(side.name, { file: await open(join(side.dir, 'src/lib/deep/d.ts'), 'r+'), dir: await opendir(join(side.dir, 'src/lib')) });
  const other = new Map<string, FileHandle>();
  for (const side of tw.sides) other.set(side.name, await open(join(side.dir, 'src/a.ts'), 'a'));
  await tw.git(['mv', 'src/lib', 'src/library']);
  await tw.git(['mv', 'src/a.ts', 'src/alpha.ts']);
  await tw.git(['mv', 'src/library/deep', 'deep']);
  await tw.check('git mv with open handles');
  for (const side of tw.sides) {
    const { file, dir } = handles.get(side.name)!;
    await file.write('// written through a handle opened before the moves\n', 0);
    const names: string[] = [];
    for await (const e of dir) names.push(e.name);
    assert.deepEqual(names.sort(), ['c.ts'], `${side.name}: the moved directory's handle lists what is left in it`);
    await file.close();
    await other.get(side.name)!.appendFile('// appended through the handle\n');
    await other.get(side.name)!.close();
  }
  await tw.check('writes through the old handles');
  await tw.git(['add', '-A']);
  await tw.git(['commit', '-q', '-m', 'moves']);
  await tw.git(['show', '--stat', '-M', '--format=%T']);
  await tw.check('commit of the moves');
});

test('names with spaces, unicode, quotes, tabs and newlines', fuseTest, async () => {
  const tw = await (await lab()).twins('odd-names');
  const names = ['dir with space/file name.txt', 'ünïcödé/ñame.md', 'quote"and\\backslash.txt', 'tab\there.txt', 'new\nline.txt', '-dash.txt', ' leading-space.txt'];
  await tw.both(async (d) => { for (const n of names) await put(d, n, `${n}\n`); });
  await tw.git(['status', '--porcelain=v1']);
  await tw.git(['status', '--porcelain=v1', '-z', '-uall']);
  await tw.git(['add', '-A']);
  await tw.git(['-c', 'core.quotePath=false', 'status', '--short']);
  await tw.git(['commit', '-q', '-m', 'odd names']);
  await tw.git(['mv', 'dir with space', 'dir with more space']);
  await tw.git(['mv', 'new\nline.txt', 'ünïcödé/new\nline.txt']);
  await tw.check('odd names committed and moved');
});

test('hundreds of files in one directory (many readdir batches): status, add, commit, rm -r, stash -u, clean -fd', fuseTest, async () => {
  const tw = await (await lab()).twins('many-files');
  const many = (d: string, dir: string) => Promise.all(Array.from({ length: 500 }, (_, i) => put(d, `${dir}/f${String(i).padStart(4, '0')}.txt`, `${dir} ${i}\n`)));
  await tw.both((d) => many(d, 'gen'));
  await tw.git(['status', '--porcelain=v1', '-z', '-uall']);
  await tw.git(['add', 'gen']);
  await tw.git(['commit', '-q', '-m', '500 files']);
  await tw.git(['rm', '-r', '-q', 'gen']);
  await tw.check('git rm -r of 500 files');
  await tw.git(['reset', '-q', '--hard']);
  await tw.both((d) => many(d, 'untracked'));
  await tw.git(['stash', 'push', '-q', '--include-untracked']);
  await tw.check('stash -u of 500 untracked files');
  await tw.git(['stash', 'pop', '-q']);
  await tw.git(['status', '--porcelain=v1', '-z']);
  await tw.git(['clean', '-q', '-fd']);
  await tw.check('clean -fd of 500 untracked files');
  await tw.git(['checkout', '-q', 'HEAD~1']);
  await tw.check('checkout removing 500 tracked files');
});

test('reset --hard and checkout replace files that have open handles', fuseTest, async () => {
  const tw = await (await lab()).twins('replace-open');
  await tw.git(['fetch', '-q', 'origin', 'feature/many:refs/remotes/origin/feature/many']);
  const handles = new Map<string, FileHandle[]>();
  for (const side of tw.sides) {
    await put(side.dir, 'src/a.ts', 'local change, open\n');
    handles.set(side.name, [await open(join(side.dir, 'src/a.ts'), 'r+'), await open(join(side.dir, 'src/b.ts'), 'r'), await open(join(side.dir, 'docs/api/types.md'), 'r')]);
  }
  await tw.git(['reset', '-q', '--hard']);
  await tw.git(['checkout', '-q', 'origin/feature/many']);
  await tw.check('files replaced under open handles');
  for (const side of tw.sides) {
    const [a, b, gone] = handles.get(side.name)!;
    assert.equal((await a!.readFile('utf8')), 'local change, open\n', `${side.name}: the old handle keeps the old content`);
    await a!.write('through the stale handle\n', 0);
    assert.equal((await b!.readFile('utf8')), 'export const b = 2;\n', `${side.name}: b.ts's old handle`);
    assert.equal((await gone!.readFile('utf8')), '# Types\n', `${side.name}: a deleted file's handle`);
    for (const h of [a, b, gone]) await h!.close();
  }
  await tw.check('after writing through a stale handle');
});
