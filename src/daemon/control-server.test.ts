// The socket end to end with a table of test operations (the daemon's real table is exercised
// by test/control.test.ts): framing, errors with codes, stale socket files, permissions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askDaemon } from '../cli/control-client.js';
import { ControlError } from './control-protocol.js';
import { ControlServer, type ControlOp } from './control-server.js';
import { UsageError } from './repo-spec.js';

const quiet = () => {};

function tempDir(t: import('node:test').TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'afs-ctl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const OPS: Record<string, ControlOp> = {
  echo: async (args) => args,
  slow: async (args) => { await new Promise((r) => setTimeout(r, Number(args.ms))); return args.ms; },
  usage: async () => { throw new UsageError('--name is required'); },
  missing: async () => { throw new ControlError('not-found', "no repo named 'x'"); },
  boom: async () => { throw new Error('fetch of https://user:s3cret@example.com/r.git failed\nsecond line'); },
};

test('control socket: replies by id, errors keep their codes, secrets and newlines never leave', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'daemon.sock');
  const server = await ControlServer.listen(path, OPS, quiet);
  t.after(() => server.close());
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(await askDaemon(path, 'echo', { name: 'a' }), { reached: true, result: { name: 'a' } });
  const [a, b] = await Promise.all([askDaemon(path, 'slow', { ms: 80 }), askDaemon(path, 'slow', { ms: 1 })]);
  assert.deepEqual([a, b], [{ reached: true, result: 80 }, { reached: true, result: 1 }]);
  await assert.rejects(askDaemon(path, 'usage', {}), (e: unknown) => e instanceof UsageError && e.code === 'usage');
  await assert.rejects(askDaemon(path, 'missing', {}), (e: unknown) => e instanceof ControlError && e.code === 'not-found');
  await assert.rejects(askDaemon(path, 'nope', {}), (e: unknown) => e instanceof ControlError && e.code === 'unknown-op' && /knows: echo/.test(e.message));
  await assert.rejects(askDaemon(path, 'boom', {}), (e: unknown) => {
    const m = (e as Error).message;
    return e instanceof ControlError && e.code === 'failed' && !m.includes('s3cret') && !m.includes('\n') && m.includes('***@example.com');
  });
  await assert.rejects(askDaemon(path, 'slow', { ms: 2000 }, 100), /did not answer 'slow' within/);
});

test('control socket: two requests on one connection, a bad line answered and the connection kept', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'daemon.sock');
  const server = await ControlServer.listen(path, OPS, quiet);
  t.after(() => server.close());
  const replies = await new Promise<string[]>((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('error', reject);
    s.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length === 3) { s.end(); resolve(lines); }
    });
    s.write('{"v":1,"id":1,"op":"echo","args":{"x":1}}\n{oops\n{"v":1,"id":2,"op":"ec');
    setTimeout(() => s.write('ho","args":{"x":2}}\n'), 20);
  });
  const parsed = replies.map((l) => JSON.parse(l) as { id: number; ok: boolean; result?: unknown; error?: { code: string } });
  assert.deepEqual(parsed.find((r) => r.id === 1)?.result, { x: 1 });
  assert.deepEqual(parsed.find((r) => r.id === 2)?.result, { x: 2 });
  assert.equal(parsed.find((r) => !r.ok)?.error?.code, 'bad-request');
});

test('control socket: no daemon and stale sockets are "not reached"; a stale file is replaced', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'daemon.sock');
  assert.deepEqual(await askDaemon(path, 'echo', {}), { reached: false, reason: 'no daemon is running' });
  // A socket file nobody listens on: what a daemon killed with SIGKILL leaves.
  await listenAndDie(path);
  assert.ok(statSync(path).isSocket());
  assert.deepEqual(await askDaemon(path, 'echo', {}), { reached: false, reason: 'no daemon is running (stale control socket)' });
  writeFileSync(join(dir, 'plain'), 'x');
  assert.equal((await askDaemon(join(dir, 'plain'), 'echo', {})).reached, false);
  const server = await ControlServer.listen(path, OPS, quiet);
  t.after(() => server.close());
  assert.deepEqual(await askDaemon(path, 'echo', { ok: 1 }), { reached: true, result: { ok: 1 } });
  await server.close();
  assert.equal((await askDaemon(path, 'echo', {})).reached, false, 'close removes the socket');
});

async function listenAndDie(path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.stdout.write('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
}

test('control socket: a path the kernel cannot take is refused clearly', async () => {
  await assert.rejects(ControlServer.listen(join('/tmp', 'x'.repeat(120), 'daemon.sock'), OPS, quiet), /longer than 107 bytes/);
});
