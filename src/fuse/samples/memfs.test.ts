import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { describe, it } from 'node:test';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, RENAME_WHITEOUT } from '../abi.js';
import type { DirentInput } from '../types.js';
import { MemFs } from './memfs.js';
import { build, bytes, code, Collector, ctx, ino, list, nlink, ns, readAll, ROOT, split } from './memfs-test-kit.js';

describe('memfs lookup counts', () => {
  it('keeps an inode until nlink, lookups and handles are all gone', () => {
    const fs = new MemFs();
    const { entry, open } = fs.create(ctx, ROOT, 'f', 0o644, fsc.O_RDWR, 0);
    const id = entry.nodeid;
    assert.equal(fs.lookup(ctx, ROOT, 'f').nodeid, id);
    fs.unlink(ctx, ROOT, 'f');
    fs.checkInvariants();
    fs.release(ctx, id, open.fh, 0);
    assert.equal(nlink(fs, id), 0, 'still known to the kernel: 2 lookups');
    fs.forget([{ nodeid: id, nlookup: 1 }]);
    assert.equal(code(() => fs.getattr(ctx, id, undefined)), 'ok');
    fs.forget([{ nodeid: id, nlookup: 1 }]);
    assert.equal(code(() => fs.getattr(ctx, id, undefined)), 'ESTALE');
    fs.checkInvariants();
  });

  it('keeps a linked inode after every reference is forgotten', () => {
    const fs = build(['/d/', '/d/f']);
    const id = ino(fs, '/d/f');
    assert.equal(readAll(fs, id), '/d/f');
    fs.checkInvariants();
  });

  it('counts readdirplus entries only when the list accepted them', () => {
    const fs = build(['/a', '/b']);
    const a = ino(fs, '/a');
    const b = ino(fs, '/b');
    const { fh } = fs.opendir(ctx, ROOT, 0);
    const page = new Collector(true, 3);
    fs.readdir(ctx, ROOT, fh, 0, page);
    fs.releasedir(ctx, ROOT, fh);
    assert.deepEqual(page.items.map((d) => d.name), ['.', '..', 'a']);
    assert.equal(page.items[0]?.entry, undefined, '"." carries no entry');
    assert.equal(page.items[2]?.entry?.nodeid, a);
    fs.unlink(ctx, ROOT, 'a');
    fs.unlink(ctx, ROOT, 'b');
    assert.equal(code(() => fs.getattr(ctx, a, undefined)), 'ok', 'a was handed out once');
    assert.equal(code(() => fs.getattr(ctx, b, undefined)), 'ESTALE', 'b was refused, so not counted');
    fs.forget([{ nodeid: a, nlookup: 1 }]);
    assert.equal(code(() => fs.getattr(ctx, a, undefined)), 'ESTALE');
    fs.checkInvariants();
  });

  it('reports a forget of more references than were given', () => {
    const fs = build(['/f']);
    fs.forget([{ nodeid: ino(fs, '/f'), nlookup: 1 }]);
    assert.throws(() => fs.checkInvariants(), /forget 1 of node/);
  });
});

describe('memfs unlinked but open', () => {
  it('reads and writes a file after its last name is gone', () => {
    const fs = new MemFs();
    const { entry, open } = fs.create(ctx, ROOT, 'f', 0o644, fsc.O_RDWR, 0);
    fs.write(ctx, entry.nodeid, open.fh, 0, Buffer.from('hello'), 0);
    fs.unlink(ctx, ROOT, 'f');
    fs.forget([{ nodeid: entry.nodeid, nlookup: 1 }]);
    assert.equal(code(() => fs.lookup(ctx, ROOT, 'f')), 'ENOENT');
    assert.equal(bytes(fs.read(ctx, entry.nodeid, open.fh, 0, 100)).toString(), 'hello');
    fs.write(ctx, entry.nodeid, open.fh, 5, Buffer.from(' world'), 0);
    assert.equal(bytes(fs.read(ctx, entry.nodeid, open.fh, 0, 100)).toString(), 'hello world');
    assert.equal(nlink(fs, entry.nodeid), 0);
    fs.checkInvariants();
    fs.release(ctx, entry.nodeid, open.fh, 0);
    assert.equal(code(() => fs.getattr(ctx, entry.nodeid, undefined)), 'ESTALE');
    fs.checkInvariants();
  });

  it('keeps a file replaced by rename readable through its handle', () => {
    const fs = build(['/a', '/b']);
    const b = ino(fs, '/b');
    const { fh } = fs.open(ctx, b, fsc.O_RDONLY);
    fs.rename(ctx, ROOT, 'a', ROOT, 'b', 0);
    assert.equal(nlink(fs, b), 0);
    assert.equal(bytes(fs.read(ctx, b, fh, 0, 10)).toString(), '/b');
    assert.equal(readAll(fs, ino(fs, '/b')), '/a');
    fs.release(ctx, b, fh, 0);
    assert.equal(code(() => fs.getattr(ctx, b, undefined)), 'ESTALE');
    fs.checkInvariants();
  });
});

describe('memfs rename', () => {
  const tree = ['/f', '/g', '/d/', '/d2/', '/e/', '/e/x', '/e/sub/'];
  const cases: Array<[string, string, string, number, string]> = [
    ['missing source', '/nope', '/z', 0, 'ENOENT'],
    ['file over directory', '/f', '/d', 0, 'EISDIR'],
    ['directory over file', '/d', '/f', 0, 'ENOTDIR'],
    ['directory over non-empty directory', '/d', '/e', 0, 'ENOTEMPTY'],
    ['directory below itself', '/e', '/e/sub/y', 0, 'EINVAL'],
    ['directory into itself', '/e', '/e/y', 0, 'EINVAL'],
    ['onto an ancestor of the source', '/e/x', '/e', 0, 'ENOTEMPTY'],
    ['exchange with an ancestor of the source', '/e/x', '/e', RENAME_EXCHANGE, 'EINVAL'],
    ['NOREPLACE onto an existing name', '/f', '/g', RENAME_NOREPLACE, 'EEXIST'],
    ['NOREPLACE onto itself', '/f', '/f', RENAME_NOREPLACE, 'EEXIST'],
    ['EXCHANGE with a missing target', '/f', '/z', RENAME_EXCHANGE, 'ENOENT'],
    ['EXCHANGE with NOREPLACE', '/f', '/g', RENAME_EXCHANGE | RENAME_NOREPLACE, 'EINVAL'],
    ['unknown flag', '/f', '/z', 1 << 3, 'EINVAL'],
    ['name too long', '/f', `/${'n'.repeat(256)}`, 0, 'ENAMETOOLONG'],
    ['file over file', '/f', '/g', 0, 'ok'],
    ['directory over empty directory', '/e/sub', '/d', 0, 'ok'],
    ['onto itself', '/f', '/f', 0, 'ok'],
    ['EXCHANGE onto itself', '/f', '/f', RENAME_EXCHANGE, 'ok'],
    ['NOREPLACE onto a new name', '/f', '/d/f', RENAME_NOREPLACE, 'ok'],
    ['EXCHANGE file and directory', '/e/x', '/d2', RENAME_EXCHANGE, 'ok'],
  ];
  for (const [title, from, to, flags, expected] of cases) {
    it(`${title}: ${expected}`, () => {
      const fs = build(tree);
      const before = JSON.stringify(list(fs, ROOT, 100).map((d) => d.name));
      const [p, n] = split(fs, from);
      const [q, m] = split(fs, to);
      assert.equal(code(() => fs.rename(ctx, p, n, q, m, flags)), expected);
      fs.checkInvariants();
      if (expected !== 'ok') assert.equal(JSON.stringify(list(fs, ROOT, 100).map((d) => d.name)), before);
    });
  }

  it('is a no-op between two hard links of one inode', () => {
    const fs = build(['/f']);
    fs.forget([{ nodeid: fs.link(ctx, ino(fs, '/f'), ROOT, 'h').nodeid, nlookup: 1 }]);
    fs.rename(ctx, ROOT, 'f', ROOT, 'h', 0);
    assert.deepEqual(list(fs, ROOT, 100).map((d) => d.name), ['.', '..', 'f', 'h']);
    assert.equal(nlink(fs, ino(fs, '/f')), 2);
    fs.checkInvariants();
  });

  it('moves a directory: ".." and both parents\' link counts follow', () => {
    const fs = build(['/d/', '/e/', '/e/sub/']);
    const d = ino(fs, '/d');
    const before = ns(fs.getattr(ctx, d, undefined).attr, 'ctime');
    assert.deepEqual([nlink(fs, ROOT), nlink(fs, ino(fs, '/e/sub'))], [4, 2]);
    fs.rename(ctx, ROOT, 'd', ino(fs, '/e/sub'), 'd', 0);
    assert.deepEqual([nlink(fs, ROOT), nlink(fs, ino(fs, '/e/sub'))], [3, 3]);
    assert.equal(fs.lookup(ctx, d, '..').nodeid, ino(fs, '/e/sub'));
    fs.forget([{ nodeid: ino(fs, '/e/sub'), nlookup: 1 }]);
    assert.ok(ns(fs.getattr(ctx, d, undefined).attr, 'ctime') > before, 'the moved inode gets a new ctime');
    fs.checkInvariants();
  });

  it('replaces an empty directory and frees it', () => {
    const fs = build(['/d/', '/e/', '/e/sub/']);
    const d = ino(fs, '/d');
    fs.rename(ctx, ino(fs, '/e'), 'sub', ROOT, 'd', 0);
    assert.equal(code(() => fs.getattr(ctx, d, undefined)), 'ESTALE');
    assert.deepEqual([nlink(fs, ROOT), nlink(fs, ino(fs, '/e'))], [4, 2]);
    fs.checkInvariants();
  });

  it('exchanges a file and a directory in different parents', () => {
    const fs = build(['/d2/', '/e/', '/e/x']);
    const x = ino(fs, '/e/x');
    const d2 = ino(fs, '/d2');
    fs.rename(ctx, ino(fs, '/e'), 'x', ROOT, 'd2', RENAME_EXCHANGE);
    assert.equal(ino(fs, '/e/x'), d2);
    assert.equal(ino(fs, '/d2'), x);
    assert.equal(fs.lookup(ctx, d2, '..').nodeid, ino(fs, '/e'));
    fs.forget([{ nodeid: ino(fs, '/e'), nlookup: 1 }]);
    assert.deepEqual([nlink(fs, ROOT), nlink(fs, ino(fs, '/e'))], [3, 3]);
    fs.checkInvariants();
  });

  it('leaves a 0:0 character device behind with RENAME_WHITEOUT', () => {
    const fs = build(['/f']);
    fs.rename(ctx, ROOT, 'f', ROOT, 'w', RENAME_WHITEOUT);
    const attr = fs.getattr(ctx, ino(fs, '/f'), undefined).attr;
    assert.deepEqual([attr.mode, attr.rdev, attr.nlink], [fsc.S_IFCHR, 0, 1]);
    assert.equal(readAll(fs, ino(fs, '/w')), '/f');
    fs.checkInvariants();
  });
});

describe('memfs readdir', () => {
  it('lists ".", ".." and the entries in creation order, each off its own cookie', () => {
    const fs = build(['/b', '/a/', '/c']);
    const all = list(fs, ROOT, 100);
    assert.deepEqual(all.map((d) => [d.name, d.off]), [['.', 1], ['..', 2], ['b', 3], ['a', 4], ['c', 5]]);
    assert.deepEqual(all.map((d) => d.type), [4, 4, 8, 4, 8]);
    assert.equal(fs.getattr(ctx, ROOT, undefined).attr.size, 40 + 3 * 20, "tmpfs's directory size");
  });

  it('keeps cookies stable while entries are removed and added during a listing', () => {
    const names = Array.from({ length: 20 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const fs = build(names.map((n) => `/${n}`));
    const { fh } = fs.opendir(ctx, ROOT, 0);
    const first = new Collector(false, 7);
    fs.readdir(ctx, ROOT, fh, 0, first);
    assert.deepEqual(first.items.map((d) => d.name), ['.', '..', 'n00', 'n01', 'n02', 'n03', 'n04']);
    for (const gone of ['n02', 'n05', 'n06']) fs.unlink(ctx, ROOT, gone);
    fs.mknod(ctx, ROOT, 'late', fsc.S_IFREG | 0o644, 0, 0);
    const rest = new Collector(false);
    fs.readdir(ctx, ROOT, fh, (first.items.at(-1) as DirentInput).off, rest);
    assert.deepEqual(rest.items.map((d) => d.name), [...names.slice(7), 'late']);
    // The kernel may resume from an older offset: it gets what follows that entry now.
    const again = new Collector(false, 4);
    fs.readdir(ctx, ROOT, fh, first.items[3]?.off ?? -1, again);
    assert.deepEqual(again.items.map((d) => d.name), ['n03', 'n04', 'n07', 'n08']);
    fs.releasedir(ctx, ROOT, fh);
  });

  it('lists 5,000 entries in pages, each exactly once, while the directory changes', () => {
    const fs = new MemFs();
    const all = Array.from({ length: 5000 }, (_, i) => `f${i}`);
    for (const name of all) fs.forget([{ nodeid: fs.mknod(ctx, ROOT, name, fsc.S_IFREG | 0o644, 0, 0).nodeid, nlookup: 1 }]);
    const { fh } = fs.opendir(ctx, ROOT, 0);
    const seen: string[] = [];
    let calls = 0;
    for (let offset = 0; ; calls++) {
      const page = new Collector(false, 100);
      fs.readdir(ctx, ROOT, fh, offset, page);
      if (page.items.length === 0) break;
      seen.push(...page.items.map((d) => d.name));
      offset = (page.items.at(-1) as DirentInput).off;
      if (calls > 0) continue;
      // After the first page (f0..f97): drop the odd names ahead of the cursor and the even
      // ones behind it (enough tombstones to compact mid-listing), and add a few names.
      all.forEach((name, i) => {
        if (i >= 98 ? i % 2 === 1 : i % 2 === 0) fs.unlink(ctx, ROOT, name);
      });
      for (let i = 0; i < 10; i++) fs.mknod(ctx, ROOT, `new${i}`, fsc.S_IFREG | 0o644, 0, 0);
    }
    fs.releasedir(ctx, ROOT, fh);
    const expected = ['.', '..', ...all.filter((_, i) => i < 98 || i % 2 === 0)];
    expected.push(...Array.from({ length: 10 }, (_, i) => `new${i}`));
    assert.deepEqual(seen, expected);
    assert.ok(calls <= Math.ceil(expected.length / 100), `${calls} readdir calls`);
    fs.checkInvariants();
  });

  it('fails with ENOENT on a removed directory', () => {
    const fs = build(['/d/']);
    const d = ino(fs, '/d');
    const { fh } = fs.opendir(ctx, d, 0);
    fs.rmdir(ctx, ROOT, 'd');
    assert.equal(code(() => fs.readdir(ctx, d, fh, 0, new Collector(false))), 'ENOENT');
    assert.equal(code(() => fs.mkdir(ctx, d, 'x', 0o755, 0)), 'ENOENT');
    fs.releasedir(ctx, d, fh);
    assert.equal(code(() => fs.getattr(ctx, d, undefined)), 'ESTALE');
    fs.checkInvariants();
  });
});

describe('memfs xattrs', () => {
  it('follows XATTR_CREATE / XATTR_REPLACE and the user namespace rules', () => {
    const fs = build(['/f']);
    fs.symlink(ctx, ROOT, 's', Buffer.from('f'));
    const f = ino(fs, '/f');
    const s = ino(fs, '/s');
    const ctime0 = ns(fs.getattr(ctx, f, undefined).attr, 'ctime');
    assert.equal(code(() => fs.getxattr(ctx, f, 'user.a')), 'ENODATA');
    assert.equal(code(() => fs.setxattr(ctx, f, 'user.a', Buffer.from('1'), 2)), 'ENODATA');
    fs.setxattr(ctx, f, 'user.b', Buffer.alloc(0), 0);
    fs.setxattr(ctx, f, 'user.a', Buffer.from('1'), 1);
    assert.equal(code(() => fs.setxattr(ctx, f, 'user.a', Buffer.from('2'), 1)), 'EEXIST');
    fs.setxattr(ctx, f, 'user.b', Buffer.from('v'), 2);
    assert.deepEqual(fs.listxattr(ctx, f), ['user.b', 'user.a'], 'insertion order, kept on replace');
    assert.equal(fs.getxattr(ctx, f, 'user.b').toString(), 'v');
    assert.ok(ns(fs.getattr(ctx, f, undefined).attr, 'ctime') > ctime0);
    fs.removexattr(ctx, f, 'user.b');
    assert.equal(code(() => fs.removexattr(ctx, f, 'user.b')), 'ENODATA');
    assert.deepEqual(fs.listxattr(ctx, f), ['user.a']);
    assert.equal(code(() => fs.setxattr(ctx, f, 'trusted.a', Buffer.from('1'), 0)), 'EOPNOTSUPP');
    assert.equal(code(() => fs.getxattr(ctx, f, 'security.a')), 'EOPNOTSUPP');
    assert.equal(code(() => fs.setxattr(ctx, f, 'user.', Buffer.from('1'), 0)), 'EINVAL');
    assert.equal(code(() => fs.setxattr(ctx, f, 'user.a', Buffer.alloc(65537), 0)), 'E2BIG');
    assert.equal(code(() => fs.setxattr(ctx, s, 'user.a', Buffer.from('1'), 0)), 'EPERM');
    assert.equal(code(() => fs.getxattr(ctx, s, 'user.a')), 'ENODATA');
  });

  it('copies the value it is given', () => {
    const fs = build(['/f']);
    const value = Buffer.from('abc');
    fs.setxattr(ctx, ino(fs, '/f'), 'user.v', value, 0);
    value.fill(0);
    assert.equal(fs.getxattr(ctx, ino(fs, '/f'), 'user.v').toString(), 'abc');
  });
});

describe('memfs file data', () => {
  it('zero-fills the gap left by a write far beyond the end', () => {
    const fs = new MemFs();
    const { entry, open } = fs.create(ctx, ROOT, 'sparse', 0o644, fsc.O_RDWR, 0);
    const [id, fh] = [entry.nodeid, open.fh];
    const far = 5 * 2 ** 30 + 10;
    assert.equal(fs.write(ctx, id, fh, far, Buffer.from('abc'), 0), 3);
    const attr = fs.getattr(ctx, id, undefined).attr;
    assert.deepEqual([attr.size, attr.blocks], [far + 3, 8], 'one page allocated, as in tmpfs');
    assert.deepEqual(bytes(fs.read(ctx, id, fh, far - 4, 100)), Buffer.from([0, 0, 0, 0, 97, 98, 99]));
    const head = bytes(fs.read(ctx, id, fh, 0, 1 << 20));
    assert.equal(head.length, 1 << 20);
    assert.ok(head.equals(Buffer.alloc(1 << 20)));
    fs.write(ctx, id, fh, 0, Buffer.from('xy'), 0);
    fs.write(ctx, id, fh, 6000, Buffer.from('z'), 0);
    const start = bytes(fs.read(ctx, id, fh, 0, 6001));
    assert.ok(start.equals(Buffer.concat([Buffer.from('xy'), Buffer.alloc(5998), Buffer.from('z')])));
    fs.release(ctx, id, fh, 0);
    fs.checkInvariants();
  });

  it('truncates down and up, and what comes back reads as zeros', () => {
    const fs = new MemFs();
    const { entry, open } = fs.create(ctx, ROOT, 'f', 0o644, fsc.O_RDWR, 0);
    const [id, fh] = [entry.nodeid, open.fh];
    fs.write(ctx, id, fh, 0, Buffer.from('abcdefghij'), 0);
    fs.write(ctx, id, fh, 8000, Buffer.from('q'), 0);
    const before = fs.getattr(ctx, id, undefined).attr;
    const down = fs.setattr(ctx, id, { size: 3 }).attr;
    assert.equal(down.size, 3);
    assert.ok(ns(down, 'mtime') > ns(before, 'mtime') && ns(down, 'ctime') === ns(down, 'mtime'));
    assert.equal(down.blocks, 8, 'the page holding the new end stays, the next is freed');
    const up = fs.setattr(ctx, id, { size: 9000 }).attr;
    assert.deepEqual([up.size, up.blocks], [9000, 8]);
    const data = bytes(fs.read(ctx, id, fh, 0, 10000));
    assert.ok(data.equals(Buffer.concat([Buffer.from('abc'), Buffer.alloc(8997)])), 'no old byte comes back');
    assert.equal(fs.setattr(ctx, id, { size: 0 }).attr.blocks, 0);
    assert.equal(bytes(fs.read(ctx, id, fh, 0, 10)).length, 0);
    fs.release(ctx, id, fh, 0);
    fs.checkInvariants();
  });
});
