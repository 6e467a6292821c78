import assert from 'node:assert/strict';
import { closeSync, statSync, writeSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { ROOT_INO } from '../snapshot/snapshot.js';
import { isOverlayError, type OverlayErrorCode } from './errors.js';
import { INO_RESERVE_CHUNK, OverlayStore } from './overlay-store.js';
import { exists, FIRST_FREE_INO, oid, row, tempFixture, waitFor, type Fixture } from './testing/fixture.js';
import type { OverlayRow } from './types.js';

async function setup(t: TestContext): Promise<{ fx: Fixture; store: OverlayStore }> {
  const fx = tempFixture();
  const store = await fx.open();
  t.after(async () => {
    await store.close();
    fx.dispose();
  });
  return { fx, store };
}

async function upperRow(store: OverlayStore, content: string, extra: Partial<OverlayRow> = {}): Promise<OverlayRow> {
  const ino = extra.ino ?? store.allocIno();
  const { path, fd } = await store.newBackingFile(ino);
  writeSync(fd, content);
  closeSync(fd);
  return row(ino, 'file', { kind: 'upper', file: path }, { size: Buffer.byteLength(content), ...extra, ino });
}

/** Every row shape the store records. */
async function everyShape(store: OverlayStore): Promise<OverlayRow[]> {
  const a = (): number => store.allocIno();
  const dir = a();
  return [
    row(ROOT_INO, 'dir', { kind: 'none' }, { parent: ROOT_INO, name: '', created: false, mode: 0o040700 }),
    row(3, 'file', { kind: 'base', oid: oid(3) }, { created: false, mode: 0o100755, size: 42, name: 'chmodded.sh' }),
    row(4, 'file', { kind: 'base', oid: oid(4) }, { created: false, size: -1, parent: dir, name: 'moved, size unknown' }),
    row(5, 'symlink', { kind: 'base', oid: oid(5) }, { created: false, size: 7, name: 'base-link' }),
    row(6, 'file', { kind: 'none' }, { created: false, state: 'whiteout', name: 'deleted' }),
    row(7, 'dir', { kind: 'none' }, { created: false, name: 'renamed-dir', parent: dir }),
    await upperRow(store, 'copied up and edited', { ino: 8, created: false, name: 'edited.txt' }),
    row(dir, 'dir', { kind: 'none' }, { name: 'new dir', mode: 0o041777 }),
    await upperRow(store, 'new file ✓', { parent: dir, name: 'naïve 日本.txt', xattrs: { 'user.a': Buffer.from([0, 1, 255]), 'user.empty': Buffer.alloc(0) } }),
    await upperRow(store, '', { name: 'empty' }),
    row(a(), 'symlink', { kind: 'symlink', target: Buffer.from([0x2e, 0x2e, 0x2f, 0xff, 0xfe]) }, { name: 'raw-link' }),
    row(a(), 'fifo', { kind: 'none' }, { name: 'fifo 😀 with\nnewline' }),
    row(a(), 'socket', { kind: 'none' }, { name: 'sock' }),
    row(a(), 'chardev', { kind: 'none' }, { name: 'null', rdev: 0x0103, mode: 0o020666 }),
    row(a(), 'blockdev', { kind: 'none' }, { name: 'loop', rdev: 0x0700 }),
    row(a(), 'fifo', { kind: 'none' }, { name: 'extreme times', atimeNs: -(1n << 63n), mtimeNs: 0n, ctimeNs: (1n << 63n) - 1n }),
  ];
}

test('every row shape round-trips through memory, a restart and the database', async (t) => {
  const { fx, store } = await setup(t);
  const shapes = await everyShape(store);
  for (const r of shapes) store.put(r);
  for (const r of shapes) assert.deepEqual(store.get(r.ino), r);
  store.checkInvariants();
  await store.close();
  const again = await fx.open();
  t.after(() => again.close());
  assert.equal([...again.rows()].length, shapes.length);
  for (const r of shapes) assert.deepEqual(again.get(r.ino), r, `row ${r.ino} after restart`);
  assert.equal(again.dirty(), true);
  again.checkInvariants();
});

test('rows handed out are frozen copies the caller cannot change', async (t) => {
  const { store } = await setup(t);
  const target = Buffer.from('dest');
  const r = row(store.allocIno(), 'symlink', { kind: 'symlink', target });
  store.put(r);
  target.write('XXXX');
  const got = store.get(r.ino)!;
  assert.equal(got.content.kind === 'symlink' && got.content.target.toString(), 'dest');
  assert.ok(Object.isFrozen(got) && Object.isFrozen(got.content));
  assert.throws(() => ((got as { mode: number }).mode = 0));
});

test('inode numbers are never reused, across restarts and without rows', async (t) => {
  const { fx, store } = await setup(t);
  const first = store.allocIno();
  assert.equal(first, FIRST_FREE_INO);
  const handed = Array.from({ length: INO_RESERVE_CHUNK + 5 }, () => store.allocIno()); // crosses a reservation
  const last = handed.at(-1)!;
  store.raiseInoFloor(5); // below: no effect
  assert.equal(store.nextIno, last + 1);
  await store.close();
  const again = await fx.open();
  t.after(() => again.close());
  assert.ok(again.allocIno() > last, 'no row used them, still never handed out again');
  again.raiseInoFloor(last + 10_000);
  assert.equal(again.allocIno(), last + 10_000);
  again.checkInvariants();
  await again.close();
  const third = await fx.open({ firstFreeIno: last + 50_000 });
  t.after(() => third.close());
  assert.equal(third.allocIno(), last + 50_000, 'a grown base snapshot raises the floor');
});

test('putMany is all or nothing: a rename over an existing entry, and a failing commit', async (t) => {
  const { fx, store } = await setup(t);
  const src = await upperRow(store, 'source', { name: 'a' });
  const dst = await upperRow(store, 'target', { name: 'b' });
  const base = row(3, 'file', { kind: 'base', oid: oid(3) }, { created: false, name: 'c' });
  store.putMany([src, dst, base]);
  const dstFile = dst.content.kind === 'upper' ? dst.content.file : '';
  // rename a -> b (b is overlay-only: deleted) and c -> a (a swap of names in one batch)
  store.putMany([{ ...src, name: 'b' }, { ...base, name: 'a' }], [dst.ino]);
  assert.equal(store.childNamed(ROOT_INO, 'b')?.ino, src.ino);
  assert.equal(store.childNamed(ROOT_INO, 'a')?.ino, 3);
  assert.equal(store.get(dst.ino), undefined);
  store.checkInvariants();
  // A commit that fails inside SQLite (after the first statement ran) changes nothing anywhere.
  fx.db.exec(`CREATE TEMP TRIGGER fail_ino BEFORE INSERT ON overlay_nodes WHEN NEW.ino = 999999 BEGIN SELECT RAISE(ABORT, 'injected'); END`);
  store.raiseInoFloor(1_000_000);
  const before = [...store.rows()];
  assert.throws(() => store.putMany([{ ...src, name: 'z' }, row(999999, 'dir', { kind: 'none' }, { created: false })], [3]), /injected/);
  fx.db.exec('DROP TRIGGER temp.fail_ino');
  assert.deepEqual([...store.rows()], before);
  store.checkInvariants();
  // The replaced file is deleted once the rename is durable.
  await waitFor(() => !exists(dstFile));
});

test('names are unique per directory among present overlay rows', async (t) => {
  const { store } = await setup(t);
  const a = row(store.allocIno(), 'dir', { kind: 'none' }, { name: 'x' });
  store.put(a);
  expectCode(() => store.put(row(store.allocIno(), 'fifo', { kind: 'none' }, { name: 'x' })), 'name-taken');
  // a whiteout or an unlinked-but-open row does not hold its name
  store.put(row(3, 'file', { kind: 'none' }, { created: false, state: 'whiteout', name: 'y' }));
  store.put(row(store.allocIno(), 'fifo', { kind: 'none' }, { parent: 0, name: 'x' }));
  store.put(row(store.allocIno(), 'fifo', { kind: 'none' }, { name: 'y' }));
  expectCode(() => store.putMany([row(store.allocIno(), 'fifo', { kind: 'none' }, { name: 'q' }), row(store.allocIno(), 'fifo', { kind: 'none' }, { name: 'q' })]), 'name-taken');
  assert.deepEqual(store.childrenOf(ROOT_INO).map((r) => r.name).sort(), ['x', 'y']);
  assert.equal(store.childrenOf(0).length, 1);
  store.checkInvariants();
});

function expectCode(fn: () => unknown, code: OverlayErrorCode): void {
  assert.throws(fn, (err: unknown) => isOverlayError(err, code));
}

test('rows that break a shape rule are refused with invalid-row and never stored', async (t) => {
  const { store } = await setup(t);
  const ino = store.allocIno();
  const bad: Array<[string, OverlayRow]> = [
    ['mode of another kind', row(ino, 'dir', { kind: 'none' }, { mode: 0o100644 })],
    ['content not allowed', row(ino, 'dir', { kind: 'symlink', target: Buffer.from('x') })],
    ['base fifo', row(ino, 'fifo', { kind: 'none' }, { created: false })],
    ['whiteout of a fifo', row(3, 'fifo', { kind: 'none' }, { created: false, state: 'whiteout' })],
    ['unknown kind', { ...row(ino, 'fifo', { kind: 'none' }), kind: 'toString' as never }],
    ['created whiteout', row(ino, 'file', { kind: 'none' }, { state: 'whiteout' })],
    ['whiteout with content', row(3, 'file', { kind: 'base', oid: oid(1) }, { created: false, state: 'whiteout' })],
    ['name with slash', row(ino, 'fifo', { kind: 'none' }, { name: 'a/b' })],
    ['dot-dot', row(ino, 'fifo', { kind: 'none' }, { name: '..' })],
    ['lone surrogate', row(ino, 'fifo', { kind: 'none' }, { name: 'a\ud800' })],
    ['name too long', row(ino, 'fifo', { kind: 'none' }, { name: 'é'.repeat(128) })],
    ['the .git inode', row(2, 'file', { kind: 'base', oid: oid(1) }, { created: false })],
    ['rdev on a file', row(ino, 'fifo', { kind: 'none' }, { rdev: 1 })],
    ['number time', { ...row(ino, 'fifo', { kind: 'none' }), mtimeNs: 5 as unknown as bigint }],
    ['time out of int64', row(ino, 'fifo', { kind: 'none' }, { ctimeNs: 1n << 63n })],
    ['unknown size of new content', row(ino, 'fifo', { kind: 'none' }, { size: -1 })],
    ['symlink size', row(ino, 'symlink', { kind: 'symlink', target: Buffer.from('abc') }, { size: 2 })],
    ['symlink NUL', row(ino, 'symlink', { kind: 'symlink', target: Buffer.from('a\0') }, { size: 2 })],
    ['bad oid', row(3, 'file', { kind: 'base', oid: 'HEAD' as never }, { created: false })],
    ['root moved', row(ROOT_INO, 'dir', { kind: 'none' }, { created: false, parent: 5, name: 'r' })],
    ['own parent', row(ino, 'dir', { kind: 'none' }, { parent: ino })],
    ['not allocated', row(ino + 10, 'fifo', { kind: 'none' })],
    ['base inode above the floor', row(ino + 10, 'dir', { kind: 'none' }, { created: false })],
    ['xattr too big', row(ino, 'fifo', { kind: 'none' }, { xattrs: { 'user.big': Buffer.alloc(70_000) } })],
    ['lost made up', row(ino, 'file', { kind: 'lost', file: '/tmp/x' })],
  ];
  for (const [why, r] of bad) {
    assert.throws(() => store.put(r), (err: unknown) => isOverlayError(err, 'invalid-row'), why);
    assert.equal(store.get(r.ino), undefined, why);
  }
  expectCode(() => store.putMany([row(ino, 'fifo', { kind: 'none' })], [ino]), 'invalid-row');
  assert.equal(store.dirty(), false);
  store.checkInvariants();
});

test('a row may only name a backing file handed out for its own inode and not released', async (t) => {
  const { fx, store } = await setup(t);
  const a = store.allocIno();
  const b = store.allocIno();
  const { path, fd } = await store.newBackingFile(a);
  closeSync(fd);
  expectCode(() => store.put(row(b, 'file', { kind: 'upper', file: path })), 'unknown-backing-file');
  expectCode(() => store.put(row(a, 'file', { kind: 'upper', file: `${fx.upperDir}/../${a}.1` })), 'unknown-backing-file');
  store.put(row(a, 'file', { kind: 'upper', file: path }));
  await assert.rejects(store.release(path), (err) => isOverlayError(err, 'backing-file-referenced'));
  store.put(row(a, 'file', { kind: 'upper', file: path }, { mode: 0o100600 })); // same file: fine
  const spare = await store.newBackingFile(a);
  closeSync(spare.fd);
  await store.release(spare.path);
  await assert.rejects(store.release(spare.path), (err) => isOverlayError(err, 'unknown-backing-file'));
  expectCode(() => store.put(row(a, 'file', { kind: 'upper', file: spare.path })), 'unknown-backing-file');
  store.checkInvariants();
});

test('copyUp copies the blob into a private, writable backing file', async (t) => {
  const { fx, store } = await setup(t);
  const src = `${fx.stateDir}/blob`;
  const { writeFileSync, readFileSync } = await import('node:fs');
  writeFileSync(src, 'base content\n', { mode: 0o444 });
  const path = await store.copyUp(3, src);
  assert.equal(readFileSync(path, 'utf8'), 'base content\n');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await assert.rejects(store.copyUp(3, `${fx.stateDir}/missing`), { code: 'ENOENT' });
  store.put(row(3, 'file', { kind: 'upper', file: path }, { created: false, size: 13 }));
  await store.sync(3);
  await store.sync(12345); // no row: nothing to make durable, still fine
  store.checkInvariants();
});

test('open() refuses a database the overlay cannot make durable', async () => {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(':memory:');
  try {
    await assert.rejects(
      OverlayStore.open({ db, repo: 'demo', dir: '/nonexistent/overlay', firstFreeIno: 100 }),
      (err) => isOverlayError(err, 'unsupported-db'),
    );
  } finally {
    db.close();
  }
});

test('close drains, is idempotent and refuses later calls; one store per directory', async (t) => {
  const { fx, store } = await setup(t);
  await assert.rejects(fx.open(), (err) => isOverlayError(err, 'already-open'));
  const r = await upperRow(store, 'v1');
  store.put(r);
  const r2 = await upperRow(store, 'v2', { ino: r.ino });
  store.put(r2); // v1's file released: deleted by close at the latest
  const closing = store.close();
  assert.equal(store.close(), closing);
  await closing;
  assert.equal(exists(r.content.kind === 'upper' ? r.content.file : ''), false);
  expectCode(() => store.put(r2), 'closed');
  expectCode(() => store.allocIno(), 'closed');
  const again = await fx.open();
  await again.close();
});
