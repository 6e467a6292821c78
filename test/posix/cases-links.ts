// Rows about names: unlink (also of open files), rmdir, mkdir, symlinks, hard links and the
// errno answers for malformed or impossible paths.

import { link, lstat, mkdir, open, readFile, readlink, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bigStat,
  listing,
  lstatOf,
  outcome,
  posixCase,
  readAt,
  statOf,
  tick,
  withHandle,
  type PosixCase,
} from './case-kit.js';

export const linkCases: PosixCase[] = [
  posixCase(
    'unlink-while-open',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'hello');
      return withHandle(open(p, 'r+'), async (fh) => {
        const result = await outcome(unlink(p));
        const readBefore = (await readAt(fh, 0, 64)).toString();
        // The inode lives on until the last handle closes: writes and reads keep working.
        await fh.write(' world', 5);
        const readAfterWrite = (await readAt(fh, 0, 64)).toString();
        const st = await fh.stat();
        return {
          result,
          readBefore,
          readAfterWrite,
          fstatNlink: st.nlink,
          fstatSize: st.size,
          nameAfter: await lstatOf(p),
          names: await listing(d),
        };
      });
    },
    {
      result: 'ok',
      readBefore: 'hello',
      readAfterWrite: 'hello world',
      fstatNlink: 0,
      fstatSize: 11,
      nameAfter: { err: 'ENOENT' },
      names: [],
    },
  ),

  posixCase(
    'remove-errors',
    async (d) => {
      await mkdir(join(d, 'full'));
      await writeFile(join(d, 'full', 'f'), '');
      await mkdir(join(d, 'empty'));
      await writeFile(join(d, 'file'), '');
      return {
        rmdirNonEmpty: await outcome(rmdir(join(d, 'full'))),
        rmdirFile: await outcome(rmdir(join(d, 'file'))),
        rmdirMissing: await outcome(rmdir(join(d, 'absent'))),
        unlinkDir: await outcome(unlink(join(d, 'empty'))),
        unlinkMissing: await outcome(unlink(join(d, 'absent'))),
        rmdirEmpty: await outcome(rmdir(join(d, 'empty'))),
        names: await listing(d),
      };
    },
    {
      rmdirNonEmpty: 'ENOTEMPTY',
      rmdirFile: 'ENOTDIR',
      rmdirMissing: 'ENOENT',
      unlinkDir: 'EISDIR',
      unlinkMissing: 'ENOENT',
      rmdirEmpty: 'ok',
      names: ['file', 'full'],
    },
  ),

  posixCase(
    'mkdir-errors',
    async (d) => {
      await mkdir(join(d, 'dir'));
      await writeFile(join(d, 'file'), '');
      return {
        existingDir: await outcome(mkdir(join(d, 'dir'))),
        existingFile: await outcome(mkdir(join(d, 'file'))),
        missingParent: await outcome(mkdir(join(d, 'absent', 'x'))),
        parentIsFile: await outcome(mkdir(join(d, 'file', 'x'))),
        newDir: await statOf(join(d, 'dir')),
      };
    },
    { existingDir: 'EEXIST', existingFile: 'EEXIST', missingParent: 'ENOENT', parentIsFile: 'ENOTDIR' },
  ),

  posixCase(
    'path-errors',
    async (d) => {
      const file = join(d, 'file');
      await writeFile(file, 'x');
      return {
        fileAsDirComponent: await outcome(stat(join(file, 'x'))),
        trailingSlashOnFile: await outcome(stat(file + '/')),
        // NAME_MAX is 255 bytes; the kernel lets FUSE names up to 1024 through to the server.
        name255: await outcome(writeFile(join(d, 'n'.repeat(255)), '')),
        name256: await outcome(writeFile(join(d, 'm'.repeat(256)), '')),
        stat256: await outcome(stat(join(d, 'm'.repeat(256)))),
      };
    },
    {
      fileAsDirComponent: 'ENOTDIR',
      trailingSlashOnFile: 'ENOTDIR',
      name255: 'ok',
      name256: 'ENAMETOOLONG',
      stat256: 'ENAMETOOLONG',
    },
  ),

  posixCase(
    'symlink-readlink-lstat',
    async (d) => {
      await writeFile(join(d, 'target'), 'through the link');
      await mkdir(join(d, 'sub'));
      await symlink('target', join(d, 'rel'));
      await symlink('../target', join(d, 'sub', 'up'));
      await symlink('/nonexistent/abs/path', join(d, 'abs'));
      return {
        readlinkRel: await readlink(join(d, 'rel')),
        readlinkAbs: await readlink(join(d, 'abs')),
        // A symlink's size is the length of its target; its mode is always 0777 on Linux.
        lstat: await lstatOf(join(d, 'rel')),
        statThrough: await statOf(join(d, 'rel')),
        readThrough: await readFile(join(d, 'sub', 'up'), 'utf8'),
        readlinkOnFile: await outcome(readlink(join(d, 'target'))),
        existingName: await outcome(symlink('x', join(d, 'target'))),
      };
    },
    {
      readlinkRel: 'target',
      readlinkAbs: '/nonexistent/abs/path',
      lstat: { type: 'symlink', mode: '0o777', size: 6, nlink: 1 },
      readThrough: 'through the link',
      readlinkOnFile: 'EINVAL',
      existingName: 'EEXIST',
    },
  ),

  posixCase(
    'symlink-dangling-and-loop',
    async (d) => {
      await symlink('missing', join(d, 'dangling'));
      await symlink('loop-b', join(d, 'loop-a'));
      await symlink('loop-a', join(d, 'loop-b'));
      await mkdir(join(d, 'dir'));
      await symlink('dir', join(d, 'dirlink'));
      await writeFile(join(d, 'dirlink', 'via-link'), 'v');
      return {
        statDangling: await statOf(join(d, 'dangling')),
        lstatDangling: (await lstatOf(join(d, 'dangling')))['type'] ?? null,
        statLoop: await statOf(join(d, 'loop-a')),
        statDirLink: (await statOf(join(d, 'dirlink')))['type'] ?? null,
        createdThroughDirLink: await listing(join(d, 'dir')),
      };
    },
    {
      statDangling: { err: 'ENOENT' },
      lstatDangling: 'symlink',
      statLoop: { err: 'ELOOP' },
      statDirLink: 'dir',
      createdThroughDirLink: ['via-link'],
    },
  ),

  posixCase(
    'hard-link',
    async (d) => {
      const [a, b] = [join(d, 'a'), join(d, 'b')];
      await writeFile(a, 'shared');
      const before = await bigStat(a);
      await tick();
      const result = await outcome(link(a, b));
      const [sa, sb] = [await bigStat(a), await bigStat(b)];
      await writeFile(b, 'written via b');
      const seenViaA = await readFile(a, 'utf8');
      const unlinkA = await outcome(unlink(a));
      await mkdir(join(d, 'dir'));
      return {
        result,
        nlinks: [Number(sa.nlink), Number(sb.nlink)],
        sameIno: sa.ino === sb.ino,
        // Linking changes the inode (nlink), so its ctime moves.
        ctimeAdvanced: sa.ctimeNs > before.ctimeNs,
        seenViaA,
        unlinkA,
        survivor: await readFile(b, 'utf8'),
        survivorNlink: (await lstat(b)).nlink,
        linkToDir: await outcome(link(join(d, 'dir'), join(d, 'dirlink'))),
        linkOverExisting: await outcome(link(b, join(d, 'dir'))),
        linkMissing: await outcome(link(join(d, 'absent'), join(d, 'c'))),
      };
    },
    {
      result: 'ok',
      nlinks: [2, 2],
      sameIno: true,
      ctimeAdvanced: true,
      seenViaA: 'written via b',
      unlinkA: 'ok',
      survivor: 'written via b',
      survivorNlink: 1,
      linkToDir: 'EPERM',
      linkOverExisting: 'EEXIST',
      linkMissing: 'ENOENT',
    },
  ),
];
