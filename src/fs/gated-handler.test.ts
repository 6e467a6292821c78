import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultHandler, errno, FuseError, type Entry, type RequestContext } from '../fuse/index.js';
import { GatedHandler } from './gated-handler.js';
import { ReadyGate } from './ready-gate.js';

function ctx(signal = new AbortController().signal): RequestContext {
  return { unique: 1n, uid: 0, gid: 0, pid: 1, signal };
}

const entry: Entry = {
  nodeid: 7, entryTimeout: 1, attrTimeout: 1,
  attr: { ino: 7, size: 3, mode: 0o100644, nlink: 1, uid: 0, gid: 0, atimeSec: 0, atimeNsec: 0, mtimeSec: 0, mtimeNsec: 0, ctimeSec: 0, ctimeNsec: 0 },
};

class Inner extends DefaultHandler {
  lookups: string[] = [];
  forgotten = 0;
  override lookup(_c: RequestContext, _p: number, name: string): Entry {
    this.lookups.push(name);
    return entry;
  }
  override forget(items: ReadonlyArray<{ nodeid: number; nlookup: number }>): void { this.forgotten += items.length; }
}

const errnoOf = (err: unknown) => (err as FuseError).errno;

test('ReadyGate: waits, opens, fails with EIO, resets, and honours abort with EINTR', async () => {
  const g = new ReadyGate();
  let opened = false;
  const w = g.wait(new AbortController().signal).then(() => { opened = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(opened, false);
  assert.equal(g.waiting, 1);
  g.open();
  await w;
  assert.equal(opened, true);
  assert.equal(g.waiting, 0);
  g.fail('too late');
  assert.equal(g.state, 'open', 'open is final');

  const f = new ReadyGate();
  const pending = f.wait(new AbortController().signal);
  f.fail('clone failed: 500');
  await assert.rejects(pending, (e) => errnoOf(e) === errno.EIO);
  await assert.rejects(f.wait(new AbortController().signal), (e) => errnoOf(e) === errno.EIO, 'later waits fail at once');
  f.reset();
  assert.equal(f.state, 'waiting');
  const ac = new AbortController();
  const interrupted = f.wait(ac.signal);
  ac.abort();
  await assert.rejects(interrupted, (e) => errnoOf(e) === errno.EINTR);
  assert.equal(f.waiting, 0, 'an interrupted waiter is dropped');
  await assert.rejects(f.wait(ac.signal), (e) => errnoOf(e) === errno.EINTR, 'an already aborted signal');
});

test('GatedHandler: root getattr answers at once, uncached; other operations wait and then reach the inner handler', async () => {
  const h = new GatedHandler({ statfsPath: '/' });
  const root = h.getattr(ctx(), 1, undefined);
  assert.ok(!(root instanceof Promise));
  assert.equal(root.attr.mode & 0o170000, 0o040000, 'a directory');
  assert.equal(root.attrTimeout, 0, 'nothing the placeholder says is cached');
  assert.deepEqual(h.listxattr(ctx(), 1), []);
  assert.throws(() => h.getxattr(ctx(), 1, 'system.posix_acl_access'), (e) => errnoOf(e) === errno.ENODATA);
  const fs = await h.statfs(ctx(), 1);
  assert.ok(fs.blocks > 0);

  const looked = h.lookup(ctx(), 1, 'a.txt');
  assert.ok(looked instanceof Promise, 'lookup waits');
  const getattrChild = h.getattr(ctx(), 7, undefined);
  assert.ok(getattrChild instanceof Promise, 'getattr of anything but the root waits');
  const ac = new AbortController();
  const interrupted = h.lookup(ctx(ac.signal), 1, 'b.txt') as Promise<Entry>;
  ac.abort();
  await assert.rejects(interrupted, (e) => errnoOf(e) === errno.EINTR);

  const inner = new Inner();
  h.openWith(inner);
  assert.deepEqual(await looked, entry);
  await assert.rejects(Promise.resolve(getattrChild), (e) => errnoOf(e) === errno.ENOSYS, 'reached the inner handler');
  assert.deepEqual(inner.lookups, ['a.txt'], 'the interrupted lookup never reached it');
  assert.deepEqual(h.lookup(ctx(), 1, 'c.txt'), entry, 'open: synchronous delegation');
  assert.throws(() => h.getattr(ctx(), 1, undefined), (e) => errnoOf(e) === errno.ENOSYS, 'open: the root is the inner handler\'s');
  h.forget([{ nodeid: 7, nlookup: 1 }]);
  assert.equal(inner.forgotten, 1);
  assert.throws(() => h.openWith(inner), /already open/);
});

test('GatedHandler: a failed gate answers EIO, and waits again after reset', async () => {
  const h = new GatedHandler({ statfsPath: '/' });
  const waiting = h.lookup(ctx(), 1, 'a.txt') as Promise<Entry>;
  h.gate.fail('clone failed');
  await assert.rejects(waiting, (e) => errnoOf(e) === errno.EIO);
  await assert.rejects(Promise.resolve(h.readdir(ctx(), 1, 1, 0, {} as never)), (e) => errnoOf(e) === errno.EIO);
  assert.equal(h.getattr(ctx(), 1, undefined) instanceof Promise, false, 'the root still answers');
  h.gate.reset();
  const again = h.lookup(ctx(), 1, 'a.txt') as Promise<Entry>;
  h.openWith(new Inner());
  assert.deepEqual(await again, entry);
});
