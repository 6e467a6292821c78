import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import { describe, it } from 'node:test';
import { FileData, SpaceBudget } from './memfs-data.js';
import { MemFs } from './memfs.js';
import { bytes, code, ctx, ROOT } from './memfs-test-kit.js';

const MiB = 1 << 20;

function file(capacityBytes = 2 ** 34): FileData {
  return new FileData(new SpaceBudget(capacityBytes));
}

describe('memfs file data', () => {
  it('takes 256 MiB in 60 KiB writes and serves 1 MiB reads as views', () => {
    const data = file();
    const WRITE = 60 * 1024;
    const TOTAL = 256 * MiB;
    // One scratch buffer reused for every write, like the session's request buffer.
    const scratch = Buffer.alloc(WRITE);
    for (let offset = 0, i = 0; offset < TOTAL; offset += WRITE, i++) {
      const n = Math.min(WRITE, TOTAL - offset);
      scratch.fill(i & 0xff);
      assert.equal(data.write(offset, scratch.subarray(0, n)), n);
    }
    assert.equal(data.size, TOTAL);
    assert.equal(data.allocatedPages, TOTAL / 4096);
    const expected = (offset: number, length: number): Buffer => {
      const out = Buffer.alloc(length);
      for (let pos = offset; pos < offset + length; pos = (Math.floor(pos / WRITE) + 1) * WRITE) {
        out.fill(Math.floor(pos / WRITE) & 0xff, pos - offset, Math.min(offset + length, (Math.floor(pos / WRITE) + 1) * WRITE) - offset);
      }
      return out;
    };
    for (const offset of [0, MiB, 7 * MiB - 4096, 100 * MiB + 12345, TOTAL - MiB]) {
      const got = data.read(offset, MiB);
      const pieces = Buffer.isBuffer(got) ? [got] : got;
      assert.ok(pieces.length <= 2, 'at most one view per chunk touched');
      assert.ok(bytes(got).equals(expected(offset, MiB)), `content at ${offset}`);
    }
    assert.equal(bytes(data.read(TOTAL - 100, MiB)).length, 100, 'short read at end of file');
    assert.equal(bytes(data.read(TOTAL, MiB)).length, 0);
    data.checkInvariants();
  });

  it('returns views of its storage and copies what it is given', () => {
    const data = file();
    const source = Buffer.from('hello');
    data.write(0, source);
    source.fill(0);
    const a = data.read(0, 5);
    const b = data.read(0, 5);
    assert.ok(Buffer.isBuffer(a) && Buffer.isBuffer(b));
    assert.equal(a.toString(), 'hello');
    assert.ok(a.buffer === b.buffer && a.byteOffset === b.byteOffset, 'no copy per read');
  });

  it('answers SEEK_DATA and SEEK_HOLE by page, as tmpfs does', () => {
    const data = file();
    data.write(MiB, Buffer.from('x'));
    assert.equal(data.seekData(0), MiB);
    assert.equal(data.seekData(MiB), MiB);
    assert.equal(data.seekHole(0), 0);
    assert.equal(data.seekHole(MiB), MiB + 1, 'the end of file is a hole');
    assert.equal(code(() => data.seekData(MiB + 1 + 1)), 'ENXIO');
    assert.equal(code(() => data.seekHole(MiB + 1)), 'ENXIO');
    data.allocate(2 * MiB, 8192, false);
    assert.equal(code(() => data.seekData(MiB + 4096)), 'ENXIO', 'fallocated pages are holes');
    data.write(0, Buffer.alloc(10000, 1));
    assert.equal(data.seekHole(0), 3 * 4096);
    data.allocate(0, 8192, true);
    assert.equal(data.seekData(0), 0, 'fallocate over data leaves it data');
    data.checkInvariants();
  });

  it('fallocates, keeps size, and punches holes page by page', () => {
    const data = file();
    data.allocate(0, 8192, true);
    assert.deepEqual([data.size, data.allocatedPages], [0, 2]);
    data.truncate(0);
    assert.equal(data.allocatedPages, 0, 'truncate frees pages past the end');
    data.allocate(20 * MiB, 8192, false);
    assert.deepEqual([data.size, data.allocatedPages], [20 * MiB + 8192, 2]);
    data.truncate(0);
    data.write(0, Buffer.alloc(10000, 99));
    data.punchHole(100, 5000);
    assert.equal(data.allocatedPages, 3, 'no page lies wholly inside [100, 5100)');
    assert.deepEqual(bytes(data.read(98, 3)), Buffer.from([99, 99, 0]));
    assert.deepEqual(bytes(data.read(5099, 3)), Buffer.from([0, 99, 99]));
    data.punchHole(0, 8192);
    assert.equal(data.allocatedPages, 1);
    assert.ok(bytes(data.read(0, 8192)).equals(Buffer.alloc(8192)));
    data.checkInvariants();
  });

  it('fails with ENOSPC past the budget and gives pages back', () => {
    const budget = new SpaceBudget(8 * 4096);
    const a = new FileData(budget);
    const b = new FileData(budget);
    a.write(0, Buffer.alloc(6 * 4096, 1));
    b.write(0, Buffer.alloc(2 * 4096, 1));
    assert.equal(code(() => b.write(2 * 4096, Buffer.from('x'))), 'ENOSPC');
    assert.equal(b.size, 2 * 4096, 'a failed write changes nothing');
    b.write(0, Buffer.alloc(2 * 4096, 2));
    a.truncate(4096);
    assert.equal(budget.usedPages, 3);
    a.dispose();
    assert.equal(budget.usedPages, 2);
    b.checkInvariants();
  });

  it('handles fallocate modes, O_TRUNC and statfs through the handler', () => {
    const fs = new MemFs();
    const { entry, open } = fs.create(ctx, ROOT, 'f', 0o644, fsc.O_RDWR, 0);
    const [id, fh] = [entry.nodeid, open.fh];
    const total = fs.statfs(ctx, ROOT);
    assert.deepEqual([total.bsize, total.frsize, total.namelen, total.blocks], [4096, 4096, 255, 2 ** 34 / 4096]);
    fs.fallocate(ctx, id, fh, 0, 5000, 0);
    assert.deepEqual([fs.getattr(ctx, id, undefined).attr.size, fs.statfs(ctx, ROOT).bfree], [5000, total.bfree - 2]);
    assert.equal(code(() => fs.fallocate(ctx, id, fh, 0, 10, 2)), 'EOPNOTSUPP', 'PUNCH_HOLE needs KEEP_SIZE');
    assert.equal(code(() => fs.fallocate(ctx, id, fh, 0, 10, 8)), 'EOPNOTSUPP');
    assert.equal(code(() => fs.fallocate(ctx, id, fh, 0, 0, 0)), 'EINVAL');
    assert.equal(code(() => fs.lseek(ctx, id, fh, 0, 0)), 'EINVAL');
    fs.release(ctx, id, fh, 0);
    const again = fs.open(ctx, id, fsc.O_WRONLY | fsc.O_TRUNC);
    assert.equal(fs.getattr(ctx, id, undefined).attr.size, 0);
    fs.release(ctx, id, again.fh, 0);
    assert.equal(fs.statfs(ctx, ROOT).ffree, total.ffree);
    fs.checkInvariants();
  });
});
