import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { describe, it } from 'node:test';
import type { RequestContext } from '../handler.js';
import { MemFs } from './memfs.js';
import { build, code, ctx, ino, nlink, ns, ROOT } from './memfs-test-kit.js';

describe('memfs namespace', () => {
  const errnos: Array<[string, (fs: MemFs) => unknown, string]> = [
    ['unlink a directory', (fs) => fs.unlink(ctx, ROOT, 'd'), 'EISDIR'],
    ['rmdir a file', (fs) => fs.rmdir(ctx, ROOT, 'f'), 'ENOTDIR'],
    ['rmdir a non-empty directory', (fs) => fs.rmdir(ctx, ROOT, 'e'), 'ENOTEMPTY'],
    ['unlink a missing name', (fs) => fs.unlink(ctx, ROOT, 'zz'), 'ENOENT'],
    ['hard-link a directory', (fs) => fs.link(ctx, ino(fs, '/d'), ROOT, 'd3'), 'EPERM'],
    ['link onto an existing name', (fs) => fs.link(ctx, ino(fs, '/f'), ROOT, 'd'), 'EEXIST'],
    ['create an existing name', (fs) => fs.create(ctx, ROOT, 'f', 0o644, 0, 0), 'EEXIST'],
    ['mkdir an existing name', (fs) => fs.mkdir(ctx, ROOT, 'f', 0o755, 0), 'EEXIST'],
    ['lookup a 256-byte name', (fs) => fs.lookup(ctx, ROOT, 'é'.repeat(128)), 'ENAMETOOLONG'],
    ['create a 256-byte name', (fs) => fs.create(ctx, ROOT, 'n'.repeat(256), 0o644, 0, 0), 'ENAMETOOLONG'],
    ['lookup below a file', (fs) => fs.lookup(ctx, ino(fs, '/f'), 'x'), 'ENOTDIR'],
    ['mknod a directory', (fs) => fs.mknod(ctx, ROOT, 'm', fsc.S_IFDIR | 0o755, 0, 0), 'EPERM'],
    ['readlink a file', (fs) => fs.readlink(ctx, ino(fs, '/f')), 'EINVAL'],
    ['symlink to ""', (fs) => fs.symlink(ctx, ROOT, 's', Buffer.alloc(0)), 'ENOENT'],
    ['symlink to 4096 bytes', (fs) => fs.symlink(ctx, ROOT, 's', Buffer.alloc(4096, 97)), 'ENAMETOOLONG'],
    ['truncate a directory', (fs) => fs.setattr(ctx, ino(fs, '/d'), { size: 0 }), 'EISDIR'],
  ];
  for (const [title, op, expected] of errnos) {
    it(`${title}: ${expected}`, () => {
      const fs = build(['/f', '/d/', '/e/', '/e/x']);
      assert.equal(code(() => op(fs)), expected);
      fs.checkInvariants();
    });
  }

  it('counts links the way tmpfs does', () => {
    const fs = build(['/d/', '/d/a/', '/d/b/', '/f']);
    assert.deepEqual([nlink(fs, ROOT), nlink(fs, ino(fs, '/d')), nlink(fs, ino(fs, '/f'))], [3, 4, 1]);
    fs.forget([{ nodeid: fs.link(ctx, ino(fs, '/f'), ino(fs, '/d'), 'g').nodeid, nlookup: 1 }]);
    assert.equal(nlink(fs, ino(fs, '/f')), 2);
    fs.rmdir(ctx, ino(fs, '/d'), 'a');
    assert.equal(nlink(fs, ino(fs, '/d')), 3);
    fs.checkInvariants();
  });

  it('creates special files, symlinks and owners as asked', () => {
    const fs = build(['/sg/']);
    const other: RequestContext = { ...ctx, uid: 1000, gid: 1000 };
    const fifo = fs.mknod(other, ROOT, 'p', fsc.S_IFIFO | 0o640, 1234, 0).attr;
    assert.deepEqual([fifo.mode, fifo.rdev, fifo.uid, fifo.gid], [fsc.S_IFIFO | 0o640, 0, 1000, 1000]);
    const chr = fs.mknod(ctx, ROOT, 'c', fsc.S_IFCHR | 0o600, 0x0103, 0).attr;
    assert.deepEqual([chr.mode, chr.rdev], [fsc.S_IFCHR | 0o600, 0x0103]);
    const link = fs.symlink(ctx, ROOT, 's', Buffer.from('target')).attr;
    assert.deepEqual([link.mode, link.size, link.blocks], [fsc.S_IFLNK | 0o777, 6, 0]);
    assert.equal(fs.readlink(ctx, link.ino).toString(), 'target');
    fs.setattr(ctx, ino(fs, '/sg'), { mode: 0o2775, gid: 50 });
    const sub = fs.mkdir(other, ino(fs, '/sg'), 'sub', 0o755, 0).attr;
    assert.deepEqual([sub.mode, sub.gid, sub.uid], [fsc.S_IFDIR | 0o2755, 50, 1000]);
  });

  it('sets times as POSIX says', () => {
    const fs = build(['/d/']);
    const d = ino(fs, '/d');
    const { entry, open } = fs.create(ctx, d, 'f', 0o644, 0, 0);
    const created = entry.attr;
    const dir = fs.getattr(ctx, d, undefined).attr;
    assert.deepEqual([created.atimeNsec, created.mtimeNsec], [created.ctimeNsec, created.ctimeNsec]);
    assert.deepEqual([dir.mtimeSec, dir.mtimeNsec, dir.ctimeNsec], [created.ctimeSec, created.ctimeNsec, created.ctimeNsec]);
    fs.write(ctx, entry.nodeid, open.fh, 0, Buffer.from('x'), 0);
    const written = fs.getattr(ctx, entry.nodeid, undefined).attr;
    assert.ok(ns(written, 'mtime') > ns(created, 'mtime') && ns(written, 'ctime') === ns(written, 'mtime'));
    assert.equal(ns(written, 'atime'), ns(created, 'atime'), 'write leaves atime alone');
    const set = fs.setattr(ctx, entry.nodeid, { atime: { sec: 1, nsec: 2 }, mtime: { sec: 3, nsec: 4 } }).attr;
    assert.deepEqual([set.atimeSec, set.atimeNsec, set.mtimeSec, set.mtimeNsec], [1, 2, 3, 4]);
    assert.ok(ns(set, 'ctime') > ns(written, 'ctime'), 'utimens changes ctime');
    const chmod = fs.setattr(ctx, entry.nodeid, { mode: 0o4755 }).attr;
    assert.equal(chmod.mode, fsc.S_IFREG | 0o4755, 'chmod keeps the type bits');
    assert.ok(ns(chmod, 'ctime') > ns(set, 'ctime') && ns(chmod, 'mtime') === ns(set, 'mtime'));
    fs.release(ctx, entry.nodeid, open.fh, 0);
  });
});
