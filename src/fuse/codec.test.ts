import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as abi from './abi.js';
import { DecodeError, DirentBuffer, InvalidNameError, Reader, decodeInHeader, encodeAttr, encodeEntryOut, readSafeU64, writeI64, writeU64 } from './codec.js';
import { request, cstr } from './testing/memory-device.js';

test('u64 round trip up to 2^53 and rejection beyond', () => {
  const b = Buffer.alloc(8);
  for (const v of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    writeU64(b, 0, v);
    assert.equal(readSafeU64(b, 0), v);
    assert.equal(b.readBigUInt64LE(0), BigInt(v));
  }
  b.writeBigUInt64LE(2n ** 53n, 0);
  assert.throws(() => readSafeU64(b, 0), DecodeError);
  writeI64(b, 0, -1);
  assert.equal(b.readBigInt64LE(0), -1n);
});

test('attr encoding matches fuse_attr field by field', () => {
  const b = Buffer.alloc(abi.fuse_attr.size);
  encodeAttr(b, 0, { ino: 77, size: 1025, atimeSec: 10, atimeNsec: 11, mtimeSec: 12, mtimeNsec: 13, ctimeSec: 14, ctimeNsec: 15, mode: 0o100755, nlink: 3, uid: 1000, gid: 100, rdev: 9 });
  const o = abi.fuse_attr.o;
  assert.equal(readSafeU64(b, o.ino), 77);
  assert.equal(readSafeU64(b, o.size), 1025);
  assert.equal(readSafeU64(b, o.blocks), 3, 'blocks derived from size');
  assert.equal(readSafeU64(b, o.mtime), 12);
  assert.equal(b.readUInt32LE(o.ctimensec), 15);
  assert.equal(b.readUInt32LE(o.mode), 0o100755);
  assert.equal(b.readUInt32LE(o.nlink), 3);
  assert.equal(b.readUInt32LE(o.uid), 1000);
  assert.equal(b.readUInt32LE(o.rdev), 9);
  assert.equal(b.readUInt32LE(o.blksize), 4096);
});

test('entry_out uses the compat size before 7.9 and splits fractional timeouts', () => {
  const b = Buffer.alloc(abi.fuse_entry_out.size);
  const e = { nodeid: 5, entryTimeout: 2.25, attrTimeout: -1, attr: { ino: 5, size: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0, mode: 0o40755, nlink: 2, uid: 0, gid: 0 } };
  assert.equal(encodeEntryOut(b, 0, e, 45), 128);
  assert.equal(encodeEntryOut(b, 0, e, 8), abi.FUSE_COMPAT_ENTRY_OUT_SIZE);
  assert.equal(readSafeU64(b, abi.fuse_entry_out.o.entry_valid), 2);
  assert.equal(b.readUInt32LE(abi.fuse_entry_out.o.entry_valid_nsec), 250_000_000);
  assert.equal(readSafeU64(b, abi.fuse_entry_out.o.attr_valid), 0, 'negative timeout means none');
});

test('header decoding checks the length and reads every field', () => {
  const { msg, unique } = request(abi.fuse_opcode.FUSE_LOOKUP, 9, [cstr('x')], { uid: 5, gid: 6, pid: 7 });
  const h = decodeInHeader(msg);
  assert.deepEqual(h, { len: msg.length, opcode: 1, unique, nodeid: 9, uid: 5, gid: 6, pid: 7, extlen: 0 });
  assert.throws(() => decodeInHeader(msg.subarray(0, 39)), DecodeError);
  assert.throws(() => decodeInHeader(msg.subarray(0, msg.length - 1)), DecodeError);
});

test('reader bounds: structs, names and data never read past the end', () => {
  const buf = Buffer.concat([Buffer.alloc(8), Buffer.from('abc\0def')]);
  const r = new Reader(buf, 0, buf.length);
  r.struct(abi.fuse_mkdir_in);
  assert.equal(r.cstring(), 'abc');
  assert.throws(() => r.cstring(), DecodeError, 'no NUL before the end');
  const r2 = new Reader(buf, 0, 4);
  assert.throws(() => r2.struct(abi.fuse_mkdir_in), DecodeError);
  const r3 = new Reader(buf, 8, buf.length);
  assert.throws(() => r3.bytes(100), DecodeError);
  // A NUL inside the extension area (past `end`) does not terminate a name.
  const r4 = new Reader(Buffer.from('abc\0'), 0, 3);
  assert.throws(() => r4.cstring(), DecodeError);
});

test('names: UTF-8 kept intact, invalid UTF-8 refused', () => {
  const name = 'naïve-日本-😀';
  const r = new Reader(cstr(name), 0, Buffer.byteLength(name) + 1);
  assert.equal(r.cstring(), name);
  const bad = Buffer.from([0x61, 0xc3, 0x28, 0]);
  assert.throws(() => new Reader(bad, 0, bad.length).cstring(), InvalidNameError);
});

test('dirent buffer stops at the first record that does not fit', () => {
  const list = new DirentBuffer(64, false, 45);
  assert.equal(list.add({ name: 'abcdefgh', ino: 1, off: 1, type: 8 }), true); // 24 + 8 = 32
  assert.equal(list.add({ name: 'ijklmnop', ino: 2, off: 2, type: 8 }), true); // 64
  assert.equal(list.add({ name: 'q', ino: 3, off: 3 }), false);
  assert.equal(list.bytes().length, 64);
  const plus = new DirentBuffer(200, true, 45);
  assert.equal(plus.add({ name: 'x', ino: 4, off: 1 }), true); // no entry: nodeid left 0
  assert.equal(readSafeU64(plus.bytes(), abi.fuse_entry_out.o.nodeid), 0);
  assert.equal(plus.bytes().length, abi.FUSE_REC_ALIGN(abi.FUSE_NAME_OFFSET_DIRENTPLUS + 1));
});
