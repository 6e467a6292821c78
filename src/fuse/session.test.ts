import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as abi from './abi.js';
import { DefaultHandler } from './default-handler.js';
import { errno, fail, FuseError } from './errno.js';
import type { RequestContext } from './handler.js';
import { MAX_WRITE } from './device.js';
import { Session, type LogLevel } from './session.js';
import { MemoryDevice, cstr, initRequest, request } from './testing/memory-device.js';
import type { DirentList, Entry } from './types.js';

const attr = (ino: number, mode: number, size = 0) => ({
  ino, size, mode, nlink: 1, uid: 0, gid: 0,
  atimeSec: 1, atimeNsec: 2, mtimeSec: 3, mtimeNsec: 4, ctimeSec: 5, ctimeNsec: 6,
});
const entry = (ino: number): Entry => ({ nodeid: ino, entryTimeout: 1.5, attrTimeout: 2, attr: attr(ino, 0o100644, 42) });

class TestFs extends DefaultHandler {
  forgotten: Array<{ nodeid: number; nlookup: number }> = [];
  aborted = 0;
  override lookup(_ctx: RequestContext, parent: number, name: string): Entry {
    if (parent === 1 && name === 'a') return entry(2);
    if (name === 'boom') throw new Error('bug in handler');
    return fail('ENOENT');
  }
  override forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void {
    this.forgotten.push(...items);
  }
  override getattr(): { attr: ReturnType<typeof attr>; attrTimeout: number } {
    return { attr: attr(1, 0o40755), attrTimeout: 0.25 };
  }
  /** Blocks until interrupted: the shape of a read waiting for a network fetch. */
  override read(ctx: RequestContext): Promise<Buffer> {
    return new Promise((_res, rej) => {
      ctx.signal.addEventListener('abort', () => { this.aborted++; rej(new FuseError('EINTR')); });
    });
  }
  override getxattr(_ctx: RequestContext, _n: number, name: string): Buffer {
    if (name === 'user.x') return Buffer.from('value');
    return fail('ENODATA');
  }
  override listxattr(): string[] {
    return ['user.x', 'user.yy'];
  }
  override readdir(_ctx: RequestContext, _n: number, _fh: number, offset: number, list: DirentList): void {
    for (let i = offset; i < 1000; i++) {
      if (!list.add({ name: `file-${i}`, ino: 100 + i, off: i + 1, entry: list.plus ? entry(100 + i) : undefined })) break;
    }
  }
}

function setup(minor = 45, flags = (1n << 40n) - 1n) {
  const dev = new MemoryDevice();
  const fs = new TestFs();
  const logs: Array<[LogLevel, string]> = [];
  const session = new Session(dev, fs, { log: (l, m) => logs.push([l, m]) });
  session.start();
  const init = initRequest(minor, flags);
  dev.push(init.msg);
  return { dev, fs, session, logs, initReply: dev.replies.find((r) => r.unique === init.unique)! };
}

test('INIT settles on the lower minor and a subset of the offered flags', async () => {
  const { initReply, session } = setup(45);
  const L = abi.fuse_init_out;
  assert.equal(initReply.error, 0);
  assert.equal(initReply.payload.length, L.size);
  assert.equal(initReply.payload.readUInt32LE(L.o.major), 7);
  assert.equal(initReply.payload.readUInt32LE(L.o.minor), 45);
  assert.equal(initReply.payload.readUInt32LE(L.o.max_write), MAX_WRITE);
  const flags = BigInt(initReply.payload.readUInt32LE(L.o.flags)) | (BigInt(initReply.payload.readUInt32LE(L.o.flags2)) << 32n);
  assert.ok(flags & abi.FUSE_DO_READDIRPLUS);
  assert.ok(flags & abi.FUSE_PARALLEL_DIROPS);
  assert.ok(flags & abi.FUSE_MAX_PAGES);
  assert.equal(flags & abi.FUSE_WRITEBACK_CACHE, 0n, 'writeback is off by default');
  assert.ok(flags & abi.FUSE_NO_EXPORT_SUPPORT);
  const info = await session.ready;
  assert.equal(info.minor, 45);
  assert.equal(info.flags, flags);
});

test('INIT degrades to older kernels', () => {
  const old = setup(31, (1n << 32n) - 1n);
  const L = abi.fuse_init_out;
  assert.equal(old.initReply.payload.readUInt32LE(L.o.minor), 31);
  assert.equal(old.initReply.payload.readUInt32LE(L.o.flags2), 0, 'no flags2 without INIT_EXT');
  const older = setup(22, (1n << 22n) - 1n);
  assert.equal(older.initReply.payload.length, abi.FUSE_COMPAT_22_INIT_OUT_SIZE);
  const newer = (() => {
    const dev = new MemoryDevice();
    const s = new Session(dev, new TestFs(), { log: () => {} });
    s.start();
    const r = initRequest(45, 0n, 0, 8);
    dev.push(r.msg);
    return dev.replies[0]!;
  })();
  assert.equal(newer.payload.length, abi.FUSE_COMPAT_INIT_OUT_SIZE, 'a newer major gets our major only');
  const tooOld = setup(9, 0n);
  assert.equal(tooOld.initReply.error, -errno.EPROTO);
  assert.equal(tooOld.session.state, 'ended');
});

test('LOOKUP reply carries the entry; errors become negative errno', () => {
  const { dev } = setup();
  const ok = request(abi.fuse_opcode.FUSE_LOOKUP, 1, [cstr('a')]);
  dev.push(ok.msg);
  const r = dev.replies.find((x) => x.unique === ok.unique)!;
  assert.equal(r.error, 0);
  const E = abi.fuse_entry_out;
  assert.equal(r.payload.length, E.size);
  assert.equal(Number(r.payload.readBigUInt64LE(E.o.nodeid)), 2);
  assert.equal(Number(r.payload.readBigUInt64LE(E.o.entry_valid)), 1);
  assert.equal(r.payload.readUInt32LE(E.o.entry_valid_nsec), 500_000_000);
  assert.equal(Number(r.payload.readBigUInt64LE(E.o.attr + abi.fuse_attr.o.size)), 42);
  assert.equal(r.payload.readUInt32LE(E.o.attr + abi.fuse_attr.o.mtimensec), 4);
  const missing = request(abi.fuse_opcode.FUSE_LOOKUP, 1, [cstr('nope')]);
  dev.push(missing.msg);
  assert.equal(dev.replies.find((x) => x.unique === missing.unique)!.error, -errno.ENOENT);
});

test('unknown opcodes answer ENOSYS, unimplemented ops too', () => {
  const { dev } = setup();
  const unknown = request(9999, 1);
  dev.push(unknown.msg);
  assert.equal(dev.replies.find((x) => x.unique === unknown.unique)!.error, -errno.ENOSYS);
  const mkdir = request(abi.fuse_opcode.FUSE_MKDIR, 1, [Buffer.alloc(8), cstr('d')]);
  dev.push(mkdir.msg);
  assert.equal(dev.replies.find((x) => x.unique === mkdir.unique)!.error, -errno.ENOSYS);
});

test('malformed requests never crash the session', () => {
  const { dev, logs, session } = setup();
  dev.push(Buffer.alloc(10)); // shorter than a header: dropped, one log line
  assert.equal(logs.filter(([l]) => l === 'warn').length, 1);
  const lying = request(abi.fuse_opcode.FUSE_LOOKUP, 1, [cstr('a')]);
  lying.msg.writeUInt32LE(4096, 0); // header claims more than was read
  dev.push(lying.msg);
  assert.equal(dev.replies.find((x) => x.unique === lying.unique)?.error, -errno.EIO);
  const unterminated = request(abi.fuse_opcode.FUSE_LOOKUP, 1, [Buffer.from('abc')]);
  dev.push(unterminated.msg);
  assert.equal(dev.replies.find((x) => x.unique === unterminated.unique)!.error, -errno.EINVAL);
  const truncated = request(abi.fuse_opcode.FUSE_READ, 2, [Buffer.alloc(8)]);
  dev.push(truncated.msg);
  assert.equal(dev.replies.find((x) => x.unique === truncated.unique)!.error, -errno.EINVAL);
  const badName = request(abi.fuse_opcode.FUSE_LOOKUP, 1, [Buffer.from([0xff, 0xfe, 0])]);
  dev.push(badName.msg);
  assert.equal(dev.replies.find((x) => x.unique === badName.unique)!.error, -errno.EILSEQ);
  assert.equal(session.state, 'running');
});

test('a handler bug is EIO and logged once; expected errnos are not logged', () => {
  const { dev, logs } = setup();
  const boom = request(abi.fuse_opcode.FUSE_LOOKUP, 3, [cstr('boom')]);
  dev.push(boom.msg);
  assert.equal(dev.replies.find((x) => x.unique === boom.unique)!.error, -errno.EIO);
  assert.equal(logs.filter(([l, m]) => l === 'error' && m.includes('bug in handler')).length, 1);
  const before = logs.length;
  dev.push(request(abi.fuse_opcode.FUSE_LOOKUP, 1, [cstr('missing')]).msg);
  assert.equal(logs.length, before);
});

test('INTERRUPT aborts the request signal and the handler answers EINTR', async () => {
  const { dev, fs } = setup();
  const body = Buffer.alloc(abi.fuse_read_in.size);
  body.writeUInt32LE(4096, abi.fuse_read_in.o.size);
  const read = request(abi.fuse_opcode.FUSE_READ, 2, [body]);
  dev.push(read.msg);
  await new Promise((r) => setImmediate(r));
  assert.equal(dev.replies.some((x) => x.unique === read.unique), false, 'still waiting');
  const intr = Buffer.alloc(abi.fuse_interrupt_in.size);
  intr.writeBigUInt64LE(read.unique, 0);
  dev.push(request(abi.fuse_opcode.FUSE_INTERRUPT, 0, [intr], { unique: read.unique | 1n }).msg);
  const r = await dev.replyFor(read.unique);
  assert.equal(r.error, -errno.EINTR);
  assert.equal(fs.aborted, 1);
});

test('FORGET and BATCH_FORGET reach forget() and are never answered', () => {
  const { dev, fs } = setup();
  const n = dev.replies.length;
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(3n, 0);
  dev.push(request(abi.fuse_opcode.FUSE_FORGET, 7, [one]).msg);
  const batch = Buffer.alloc(8 + 32);
  batch.writeUInt32LE(2, 0);
  batch.writeBigUInt64LE(8n, 8); batch.writeBigUInt64LE(1n, 16);
  batch.writeBigUInt64LE(9n, 24); batch.writeBigUInt64LE(5n, 32);
  dev.push(request(abi.fuse_opcode.FUSE_BATCH_FORGET, 0, [batch]).msg);
  assert.deepEqual(fs.forgotten, [{ nodeid: 7, nlookup: 3 }, { nodeid: 8, nlookup: 1 }, { nodeid: 9, nlookup: 5 }]);
  assert.equal(dev.replies.length, n);
});

test('xattr size probe: size 0 returns the length, too small is ERANGE', () => {
  const { dev } = setup();
  const get = (size: number, name: string) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(size, 0);
    const r = request(abi.fuse_opcode.FUSE_GETXATTR, 2, [b, cstr(name)]);
    dev.push(r.msg);
    return dev.replies.find((x) => x.unique === r.unique)!;
  };
  assert.equal(get(0, 'user.x').payload.readUInt32LE(0), 5);
  assert.equal(get(100, 'user.x').payload.toString(), 'value');
  assert.equal(get(2, 'user.x').error, -errno.ERANGE);
  assert.equal(get(100, 'user.none').error, -errno.ENODATA);
  const lb = Buffer.alloc(8);
  lb.writeUInt32LE(100, 0);
  const list = request(abi.fuse_opcode.FUSE_LISTXATTR, 2, [lb]);
  dev.push(list.msg);
  assert.equal(dev.replies.find((x) => x.unique === list.unique)!.payload.toString(), 'user.x\0user.yy\0');
});

test('READDIR and READDIRPLUS fill exactly the requested size with aligned records', () => {
  const { dev } = setup();
  for (const [op, recBase] of [[abi.fuse_opcode.FUSE_READDIR, abi.FUSE_NAME_OFFSET], [abi.fuse_opcode.FUSE_READDIRPLUS, abi.FUSE_NAME_OFFSET_DIRENTPLUS]] as const) {
    const body = Buffer.alloc(abi.fuse_read_in.size);
    body.writeUInt32LE(4096, abi.fuse_read_in.o.size);
    body.writeBigUInt64LE(10n, abi.fuse_read_in.o.offset);
    const r = request(op, 1, [body]);
    dev.push(r.msg);
    const p = dev.replies.find((x) => x.unique === r.unique)!.payload;
    assert.ok(p.length <= 4096 && p.length > 4096 - 200, `filled ${p.length}`);
    let pos = 0;
    let expect = 10;
    while (pos < p.length) {
      const d = op === abi.fuse_opcode.FUSE_READDIR ? pos : pos + abi.fuse_direntplus.o.dirent;
      const namelen = p.readUInt32LE(d + abi.fuse_dirent.o.namelen);
      assert.equal(p.toString('utf8', d + abi.fuse_dirent.size, d + abi.fuse_dirent.size + namelen), `file-${expect}`);
      assert.equal(Number(p.readBigUInt64LE(d + abi.fuse_dirent.o.off)), expect + 1);
      pos += abi.FUSE_REC_ALIGN(recBase + namelen);
      expect++;
    }
    assert.equal(pos, p.length);
  }
});

test('notifications are written with unique 0 and the notify code', async () => {
  const { dev, session } = setup();
  assert.equal(await session.notifyInvalEntry(1, 'name', { expireOnly: true }), 0);
  assert.equal(await session.notifyInvalInode(5, 0, -1), 0);
  assert.equal(await session.notifyDelete(1, 5, 'gone'), 0);
  const [entry, inode, del] = dev.notifications;
  assert.equal(entry!.unique, 0n);
  assert.equal(entry!.error, abi.fuse_notify_code.FUSE_NOTIFY_INVAL_ENTRY);
  assert.equal(entry!.payload.readUInt32LE(abi.fuse_notify_inval_entry_out.o.namelen), 4);
  assert.equal(entry!.payload.readUInt32LE(abi.fuse_notify_inval_entry_out.o.flags), abi.FUSE_EXPIRE_ONLY);
  assert.equal(entry!.payload.toString('utf8', abi.fuse_notify_inval_entry_out.size), 'name\0');
  assert.equal(inode!.error, abi.fuse_notify_code.FUSE_NOTIFY_INVAL_INODE);
  assert.equal(inode!.payload.readBigInt64LE(abi.fuse_notify_inval_inode_out.o.len), -1n);
  assert.equal(del!.error, abi.fuse_notify_code.FUSE_NOTIFY_DELETE);
  assert.equal(Number(del!.payload.readBigUInt64LE(abi.fuse_notify_delete_out.o.child)), 5);
});

test('session end aborts in-flight requests and drops their late replies', async () => {
  const { dev, fs, session } = setup();
  const body = Buffer.alloc(abi.fuse_read_in.size);
  const read = request(abi.fuse_opcode.FUSE_READ, 2, [body]);
  dev.push(read.msg);
  await new Promise((r) => setImmediate(r));
  dev.end();
  await session.closed;
  await new Promise((r) => setImmediate(r));
  assert.equal(fs.aborted, 1);
  assert.equal(dev.replies.some((x) => x.unique === read.unique), false);
  assert.ok(dev.closed);
});
