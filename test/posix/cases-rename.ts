// Rows about rename(2) and renameat2(2): replacement, directory rules, inode identity, open
// handles across renames, RENAME_NOREPLACE and RENAME_EXCHANGE.

import { mkdir, open, readFile, rename, stat, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bigStat,
  listing,
  lstatOf,
  outcome,
  posixCase,
  readAt,
  tick,
  withHandle,
  type PosixCase,
} from './case-kit.js';
import { renameat2 } from './renameat2.js';

/** Inode numbers differ between filesystems; only "is it the same inode" is comparable. */
async function sameIno(a: string, b: string): Promise<boolean> {
  return (await bigStat(a)).ino === (await bigStat(b)).ino;
}

async function text(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

export const renameCases: PosixCase[] = [
  posixCase(
    'rename-file-over-file',
    async (d) => {
      const [src, dst] = [join(d, 'src'), join(d, 'dst')];
      await writeFile(src, 'source');
      await writeFile(dst, 'target');
      const srcIno = (await bigStat(src)).ino;
      // A handle on the replaced file keeps its old content and sees nlink drop to 0.
      return withHandle(open(dst, 'r'), async (old) => {
        const result = await outcome(rename(src, dst));
        return {
          result,
          content: await text(dst),
          inoIsSource: (await bigStat(dst)).ino === srcIno,
          srcAfter: await lstatOf(src),
          names: await listing(d),
          oldHandleReads: (await readAt(old, 0, 64)).toString(),
          oldHandleNlink: (await old.stat()).nlink,
        };
      });
    },
    {
      result: 'ok',
      content: 'source',
      inoIsSource: true,
      srcAfter: { err: 'ENOENT' },
      names: ['dst'],
      oldHandleReads: 'target',
      oldHandleNlink: 0,
    },
  ),

  posixCase(
    'rename-across-dirs-times',
    async (d) => {
      await mkdir(join(d, 'a'));
      await mkdir(join(d, 'b'));
      const src = join(d, 'a', 'f');
      await writeFile(src, 'x');
      const [a0, b0, f0] = [await bigStat(join(d, 'a')), await bigStat(join(d, 'b')), await bigStat(src)];
      await tick();
      const result = await outcome(rename(src, join(d, 'b', 'g')));
      const [a1, b1, f1] = [await bigStat(join(d, 'a')), await bigStat(join(d, 'b')), await bigStat(join(d, 'b', 'g'))];
      return {
        result,
        sameIno: f1.ino === f0.ino,
        oldParentMtimeAdvanced: a1.mtimeNs > a0.mtimeNs,
        newParentMtimeAdvanced: b1.mtimeNs > b0.mtimeNs,
        // Linux filesystems stamp the moved inode's ctime; POSIX only allows it.
        fileCtimeAdvanced: f1.ctimeNs > f0.ctimeNs,
        fileMtimeKept: f1.mtimeNs === f0.mtimeNs,
        namesA: await listing(join(d, 'a')),
        namesB: await listing(join(d, 'b')),
      };
    },
    {
      result: 'ok',
      sameIno: true,
      oldParentMtimeAdvanced: true,
      newParentMtimeAdvanced: true,
      fileMtimeKept: true,
      namesA: [],
      namesB: ['g'],
    },
  ),

  posixCase(
    'rename-dir-over-empty-dir',
    async (d) => {
      const [src, dst] = [join(d, 'src'), join(d, 'dst')];
      await mkdir(src);
      await writeFile(join(src, 'child'), 'kid');
      await mkdir(dst);
      const srcIno = (await bigStat(src)).ino;
      const result = await outcome(rename(src, dst));
      return {
        result,
        inoIsSource: (await bigStat(dst)).ino === srcIno,
        child: await text(join(dst, 'child')),
        names: await listing(d),
      };
    },
    { result: 'ok', inoIsSource: true, child: 'kid', names: ['dst'] },
  ),

  posixCase(
    'rename-dir-across-parents-dotdot',
    async (d) => {
      await mkdir(join(d, 'p1', 'x'), { recursive: true });
      await mkdir(join(d, 'p2'));
      const result = await outcome(rename(join(d, 'p1', 'x'), join(d, 'p2', 'x')));
      // '..' of the moved directory must now resolve to its new parent.
      return { result, dotdotIsNewParent: await sameIno(join(d, 'p2', 'x', '..'), join(d, 'p2')) };
    },
    { result: 'ok', dotdotIsNewParent: true },
  ),

  posixCase(
    'rename-dir-errors',
    async (d) => {
      const dir = join(d, 'dir');
      await mkdir(join(dir, 'sub'), { recursive: true });
      await mkdir(join(d, 'full'));
      await writeFile(join(d, 'full', 'f'), '');
      await writeFile(join(d, 'file'), 'plain');
      return {
        dirOverNonEmptyDir: await outcome(rename(dir, join(d, 'full'))),
        fileOverDir: await outcome(rename(join(d, 'file'), dir)),
        dirOverFile: await outcome(rename(dir, join(d, 'file'))),
        dirIntoOwnSubdir: await outcome(rename(dir, join(dir, 'sub', 'moved'))),
        dirIntoItself: await outcome(rename(dir, join(dir, 'moved'))),
        missingSource: await outcome(rename(join(d, 'absent'), join(d, 'other'))),
        missingTargetParent: await outcome(rename(join(d, 'file'), join(d, 'absent', 'f'))),
        // Nothing above may have changed anything.
        names: await listing(d),
        dirNames: await listing(dir),
        fullNames: await listing(join(d, 'full')),
        fileContent: await text(join(d, 'file')),
      };
    },
    {
      dirOverNonEmptyDir: 'ENOTEMPTY',
      fileOverDir: 'EISDIR',
      dirOverFile: 'ENOTDIR',
      dirIntoOwnSubdir: 'EINVAL',
      dirIntoItself: 'EINVAL',
      missingSource: 'ENOENT',
      missingTargetParent: 'ENOENT',
      names: ['dir', 'file', 'full'],
      dirNames: ['sub'],
      fullNames: ['f'],
      fileContent: 'plain',
    },
  ),

  posixCase(
    'rename-onto-itself',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'same');
      await link(p, join(d, 'hard'));
      await mkdir(join(d, 'dir'));
      return {
        file: await outcome(rename(p, p)),
        dir: await outcome(rename(join(d, 'dir'), join(d, 'dir'))),
        // Two links to one inode: rename does nothing and succeeds, both names survive.
        hardLinkPair: await outcome(rename(p, join(d, 'hard'))),
        names: await listing(d),
        content: await text(p),
        nlink: (await stat(p)).nlink,
      };
    },
    { file: 'ok', dir: 'ok', hardLinkPair: 'ok', names: ['dir', 'f', 'hard'], content: 'same', nlink: 2 },
  ),

  posixCase(
    'rename-open-file',
    async (d) => {
      const [src, dst] = [join(d, 'src'), join(d, 'dst')];
      await writeFile(src, 'before');
      return withHandle(open(src, 'r+'), async (fh) => {
        const ino = (await fh.stat({ bigint: true })).ino;
        const result = await outcome(rename(src, dst));
        await fh.write('AFTER!', 0);
        return {
          result,
          handleInoKept: (await fh.stat({ bigint: true })).ino === ino,
          newPathSeesWrite: await text(dst),
          handleReads: (await readAt(fh, 0, 64)).toString(),
        };
      });
    },
    { result: 'ok', handleInoKept: true, newPathSeesWrite: 'AFTER!', handleReads: 'AFTER!' },
  ),

  posixCase(
    'renameat2-noreplace',
    async (d) => {
      const [a, b, c] = [join(d, 'a'), join(d, 'b'), join(d, 'c')];
      await writeFile(a, 'A');
      await writeFile(b, 'B');
      const targetExists = await renameat2(a, b, 'noreplace');
      const contentsAfterRefusal = [await text(a), await text(b)];
      const targetAbsent = await renameat2(a, c, 'noreplace');
      return { targetExists, contentsAfterRefusal, targetAbsent, names: await listing(d), c: await text(c) };
    },
    { targetExists: 'EEXIST', contentsAfterRefusal: ['A', 'B'], targetAbsent: 'ok', names: ['b', 'c'], c: 'A' },
  ),

  posixCase(
    'renameat2-exchange',
    async (d) => {
      const [a, b, dir] = [join(d, 'a'), join(d, 'b'), join(d, 'dir')];
      await writeFile(a, 'A');
      await writeFile(b, 'B');
      await mkdir(dir);
      await writeFile(join(dir, 'inside'), 'I');
      const [inoA, inoB] = [(await bigStat(a)).ino, (await bigStat(b)).ino];
      const fileFile = await renameat2(a, b, 'exchange');
      const swapped = [await text(a), await text(b)];
      const inosSwapped = (await bigStat(a)).ino === inoB && (await bigStat(b)).ino === inoA;
      const fileDir = await renameat2(a, dir, 'exchange');
      return {
        fileFile,
        swapped,
        inosSwapped,
        fileDir,
        aNowDir: (await lstatOf(a))['type'] ?? null,
        aInside: await listing(a),
        dirNowFile: await text(dir),
        missingTarget: await renameat2(b, join(d, 'absent'), 'exchange'),
        names: await listing(d),
      };
    },
    {
      fileFile: 'ok',
      swapped: ['B', 'A'],
      inosSwapped: true,
      fileDir: 'ok',
      aNowDir: 'dir',
      aInside: ['inside'],
      dirNowFile: 'B',
      missingTarget: 'ENOENT',
      names: ['a', 'b', 'dir'],
    },
  ),
];
