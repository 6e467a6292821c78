// The FUSE library against the real kernel: mounting, errors, interrupts, stale-mount recovery.
// Filesystem access from this process must be asynchronous (or from a child process): the
// session answering it runs on this same event loop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DefaultHandler, FOPEN_DIRECT_IO, FuseError, MountError, fail, listMounts, mountFilesystem, probeMount, type RequestContext, type Entry, type DirentList } from '../src/fuse/index.js';
import { defer, fuseTest, tempDir } from './support/fuse-env.js';

const now = Math.floor(Date.now() / 1000);
const attr = (ino: number, mode: number, size: number) => ({ ino, size, mode, nlink: 1, uid: 0, gid: 0, atimeSec: now, atimeNsec: 0, mtimeSec: now, mtimeNsec: 0, ctimeSec: now, ctimeNsec: 0 });
const DATA = Buffer.from('hello from fuse\n');

/** Root with two files: `hello` (readable) and `slow` (a read that waits until interrupted). */
class TwoFiles extends DefaultHandler {
  interrupted = 0;
  readonly #files = new Map([['hello', 2], ['slow', 3]]);
  override lookup(_c: RequestContext, parent: number, name: string): Entry {
    const ino = parent === 1 ? this.#files.get(name) : undefined;
    if (!ino) return fail('ENOENT');
    return { nodeid: ino, entryTimeout: 1, attrTimeout: 1, attr: attr(ino, 0o100644, DATA.length) };
  }
  override getattr(_c: RequestContext, n: number) {
    return { attr: n === 1 ? attr(1, 0o40755, 0) : attr(n, 0o100644, DATA.length), attrTimeout: 1 };
  }
  override opendir() { return { fh: 1 }; }
  override releasedir() {}
  override readdir(_c: RequestContext, _n: number, _fh: number, off: number, list: DirentList) {
    const names = [...this.#files.keys()];
    for (let i = off; i < names.length; i++) if (!list.add({ name: names[i]!, ino: i + 2, off: i + 1, type: 8 })) break;
  }
  // `slow` is direct I/O so the read runs in the caller's context: buffered reads are sent as
  // background requests (FUSE_ASYNC_READ), which the kernel never interrupts.
  override open(_c: RequestContext, n: number) { return { fh: 1, openFlags: n === 3 ? FOPEN_DIRECT_IO : 0 }; }
  override release() {}
  override read(ctx: RequestContext, n: number, _fh: number, off: number, size: number): Buffer | Promise<Buffer> {
    if (n === 2) return DATA.subarray(off, off + size);
    return new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => { this.interrupted++; rej(new FuseError('EINTR')); }));
  }
}

function runChild(cmd: string, args: string[], opts: { killAfterMs?: number; signal?: NodeJS.Signals } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    if (opts.killAfterMs) setTimeout(() => child.kill(opts.signal ?? 'SIGINT'), opts.killAfterMs);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('mount, read, list, unmount', fuseTest, async (t) => {
  const mnt = await tempDir(t);
  const fs = await mountFilesystem(new TwoFiles(), { mountpoint: mnt, fsname: 'twofiles', subtype: 'test' });
  defer(t, () => fs.close());
  assert.deepEqual((await readdir(mnt)).sort(), ['hello', 'slow']);
  assert.equal(await readFile(join(mnt, 'hello'), 'utf8'), DATA.toString());
  assert.equal((await stat(join(mnt, 'hello'))).size, DATA.length);
  const entry = (await listMounts()).find((m) => m.mountpoint === mnt);
  assert.equal(entry?.fstype, 'fuse.test');
  assert.equal(entry?.source, 'twofiles');
  await fs.close();
  await fs.closed;
  assert.equal((await probeMount(mnt)).state, 'none');
  await fs.close(); // idempotent
});

test('an interrupted blocking read reaches the handler as an aborted signal', fuseTest, async (t) => {
  const mnt = await tempDir(t);
  const handler = new TwoFiles();
  const fs = await mountFilesystem(handler, { mountpoint: mnt, subtype: 'test' });
  defer(t, () => fs.close());
  const started = Date.now();
  const r = await runChild('cat', [join(mnt, 'slow')], { killAfterMs: 300, signal: 'SIGINT' });
  assert.equal(r.signal, 'SIGINT');
  assert.equal(handler.interrupted, 1);
  assert.ok(Date.now() - started < 5000);
  assert.equal(await readFile(join(mnt, 'hello'), 'utf8'), DATA.toString(), 'session still serves');
});

test('mount errors are one clear line with a stable code', fuseTest, async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  const cases: Array<[string, Parameters<typeof mountFilesystem>[1], string]> = [
    ['missing mount point', { mountpoint: join(dir, 'nope') }, 'mountpoint-missing'],
    ['mount point is a file', { mountpoint: file }, 'not-a-directory'],
    ['no fuse device', { mountpoint: dir, devicePath: join(dir, 'no-such-device') }, 'no-fuse-device'],
  ];
  for (const [what, opts, code] of cases) {
    await assert.rejects(mountFilesystem(new TwoFiles(), opts), (err: unknown) => {
      assert.ok(err instanceof MountError, what);
      assert.equal(err.code, code, what);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
  const mnt = join(dir, 'm');
  await mkdir(mnt);
  const first = await mountFilesystem(new TwoFiles(), { mountpoint: mnt, subtype: 'test' });
  defer(t, () => first.close());
  await assert.rejects(mountFilesystem(new TwoFiles(), { mountpoint: mnt }), (err: unknown) => err instanceof MountError && err.code === 'busy');
});

test('mounting without root fails with a clear error', fuseTest, async (t) => {
  const dir = await tempDir(t);
  const script = `import('${new URL('../src/fuse/index.js', import.meta.url).href}').then(async (f) => {
    try { await f.mountFilesystem(new f.DefaultHandler(), { mountpoint: '${dir}' }); console.log('mounted?!'); }
    catch (e) { console.log(e.code + ': ' + e.message); }
  })`;
  const r = await runChild('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script]);
  assert.match(r.stdout.trim(), /^not-root: mounting needs root/);
});

test('a mount left by a killed process is detected and replaced', fuseTest, async (t) => {
  const mnt = await tempDir(t);
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    const f = await import('${new URL('../src/fuse/index.js', import.meta.url).href}');
    await f.mountFilesystem(new f.DefaultHandler(), { mountpoint: '${mnt}', subtype: 'test' });
    console.log('ready');`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    child.on('exit', () => reject(new Error('child exited before mounting')));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  assert.equal((await probeMount(mnt)).state, 'stale');
  await assert.rejects(stat(join(mnt, 'x')), /ENOTCONN/);
  const fs = await mountFilesystem(new TwoFiles(), { mountpoint: mnt, subtype: 'test' });
  defer(t, () => fs.close());
  assert.equal(await readFile(join(mnt, 'hello'), 'utf8'), DATA.toString());
  assert.equal((await listMounts()).filter((m) => m.mountpoint === mnt).length, 1, 'no stacked mounts');
});
