import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdirSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { FaultPoint, OverlayStore } from './overlay-store.js';
import { exists, oid, row, tempFixture, upperFiles, waitFor, type Fixture } from './testing/fixture.js';
import type { OverlayRow } from './types.js';

function fixture(t: TestContext): Fixture {
  const fx = tempFixture();
  t.after(() => fx.dispose());
  return fx;
}

async function open(t: TestContext, fx: Fixture, extra = {}): Promise<OverlayStore> {
  const store = await fx.open(extra);
  t.after(() => store.close());
  return store;
}

async function newFile(store: OverlayStore, ino: number, content: string): Promise<string> {
  const { path, fd } = await store.newBackingFile(ino);
  writeSync(fd, content);
  closeSync(fd);
  return path;
}

function fileOf(r: OverlayRow | undefined): string {
  assert.ok(r && (r.content.kind === 'upper' || r.content.kind === 'lost'));
  return r.content.file;
}

test('open() deletes every backing file no row references, and nothing else', async (t) => {
  const fx = fixture(t);
  const store = await open(t, fx);
  const kept = store.allocIno();
  store.put(row(kept, 'file', { kind: 'upper', file: await newFile(store, kept, 'kept') }, { size: 4 }));
  await newFile(store, store.allocIno(), 'created, never referenced (crash before the row commit)');
  writeFileSync(join(fx.stateDir, 'blob'), 'base');
  await store.copyUp(3, join(fx.stateDir, 'blob'));
  await store.close();
  writeFileSync(join(fx.upperDir, 'stray'), 'x');
  mkdirSync(join(fx.upperDir, 'some-dir'));
  assert.equal(upperFiles(fx).length, 5);
  const again = await open(t, fx);
  assert.deepEqual(upperFiles(fx), [`${kept}.1`, 'some-dir']);
  assert.ok(fx.logs.some((l) => l.msg.includes('orphan') && l.fields?.count === 3));
  // New names never reuse a seq seen on disk, even one that was just collected.
  const next = await newFile(again, kept, 'v2');
  assert.equal(next.endsWith(`${kept}.4`), true);
  again.checkInvariants();
});

test('a row whose backing file vanished is kept, marked lost, logged, and repairable', async (t) => {
  const fx = fixture(t);
  const store = await open(t, fx);
  const ino = store.allocIno();
  const r = row(ino, 'file', { kind: 'upper', file: await newFile(store, ino, 'precious') }, { size: 8, name: 'edited' });
  store.put(r);
  await store.close();
  unlinkSync(fileOf(r)); // the invariant broken from outside (or a power loss on an unordered fs)
  const again = await open(t, fx);
  assert.deepEqual(again.get(ino)?.content, { kind: 'lost', file: fileOf(r) });
  assert.deepEqual(again.lostRows().map((x) => x.ino), [ino]);
  assert.equal(again.childNamed(r.parent, 'edited')?.ino, ino, 'still visible at its path');
  assert.ok(fx.logs.some((l) => l.level === 'error' && l.fields?.ino === ino));
  again.checkInvariants();
  again.put({ ...again.get(ino)!, mode: 0o100600 }); // metadata changes carry `lost` along
  assert.equal(again.get(ino)?.content.kind, 'lost');
  const fresh = await newFile(again, ino, 'rewritten');
  again.put({ ...again.get(ino)!, content: { kind: 'upper', file: fresh }, size: 9 });
  assert.equal(again.lostRows().length, 0);
  again.checkInvariants();
  await again.close();
  const third = await open(t, fx);
  assert.deepEqual(third.get(ino)?.content, { kind: 'upper', file: fresh });
});

test('rows left unlinked-but-open are finalised at open(): deleted if new, whiteouts if base', async (t) => {
  const fx = fixture(t);
  const store = await open(t, fx);
  const ino = store.allocIno();
  const file = await newFile(store, ino, 'tmp');
  store.put(row(ino, 'file', { kind: 'upper', file }, { size: 3, parent: 0 }));
  const copied = await newFile(store, 3, 'edited base');
  store.put(row(3, 'file', { kind: 'upper', file: copied }, { created: false, size: 11, parent: 0 }));
  store.put(row(4, 'file', { kind: 'base', oid: oid(4) }, { created: false, size: 1, parent: 0 }));
  await store.close();
  const again = await open(t, fx);
  assert.equal(again.get(ino), undefined);
  assert.equal(again.get(3)?.state, 'whiteout');
  assert.deepEqual(again.get(3)?.content, { kind: 'none' });
  assert.equal(again.get(4)?.state, 'whiteout');
  await waitFor(() => !exists(file) && !exists(copied));
  again.checkInvariants();
});

test('open() takes the size of upper content from the backing file', async (t) => {
  const fx = fixture(t);
  const store = await open(t, fx);
  const ino = store.allocIno();
  const file = await newFile(store, ino, 'ab');
  store.put(row(ino, 'file', { kind: 'upper', file }, { size: 2 }));
  await store.close();
  appendFileSync(file, 'cdef'); // reached the file, the daemon died before the row was put
  const again = await open(t, fx);
  assert.equal(again.get(ino)?.size, 6);
  again.checkInvariants();
});

test('a released file is deleted only after the row that dropped it is durable', async (t) => {
  const fx = fixture(t);
  const points: FaultPoint[] = [];
  const store = await open(t, fx, { fault: (p: FaultPoint) => points.push(p), releaseDelayMs: 1 });
  const ino = store.allocIno();
  const v1 = await newFile(store, ino, 'one');
  store.put(row(ino, 'file', { kind: 'upper', file: v1 }, { size: 3 }));
  const v2 = await newFile(store, ino, 'two!');
  points.length = 0;
  store.put(row(ino, 'file', { kind: 'upper', file: v2 }, { size: 4 }));
  assert.equal(exists(v1), true, 'still there right after the commit');
  await waitFor(() => !exists(v1));
  assert.deepEqual(points, ['row-committed', 'durable', 'before-unlink', 'unlinked']);
  points.length = 0;
  await store.sync(ino);
  assert.deepEqual(points, ['file-synced', 'durable']);
  store.delete(ino);
  await waitFor(() => !exists(v2));
  store.checkInvariants();
  assert.equal(store.dirty(), false);
});

test('deleting the repo from the registry cascades to its overlay rows', async (t) => {
  const fx = fixture(t);
  const store = await open(t, fx);
  store.put(row(3, 'file', { kind: 'base', oid: oid(3) }, { created: false, size: 1 }));
  store.allocIno();
  await store.close();
  const { deleteRepo } = await import('../registry/repos.js');
  deleteRepo(fx.db, 'demo');
  assert.equal(fx.db.prepare('SELECT count(*) FROM overlay_nodes').pluck().get(), 0);
  assert.equal(fx.db.prepare('SELECT count(*) FROM overlay_meta').pluck().get(), 0);
});
