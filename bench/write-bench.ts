// Write-path rows: the repo mount (daemon + overlay) against a native directory on the same disk.
//  - creating 10,000 small files (an `npm install`-like tree)
//  - writing and reading back 1 GiB
//  - mv and rm -rf of a tracked directory of 5,000 files: time and blobs fetched

import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afs, startDaemon } from '../test/support/cli.js';
import { makeRepo } from '../test/support/git-fixtures.js';
import { startGitServer } from '../test/support/git-server.js';
import type { Row } from './report.js';

const SMALL_FILES = 10_000;
const BIG = 1 << 30;
const TRACKED = 5_000;

function ms(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function createTree(dir: string): void {
  const body = Buffer.alloc(1024, 0x61);
  for (let d = 0; d < SMALL_FILES / 100; d++) {
    const sub = join(dir, 'node_modules', `pkg${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f${f}.js`), body);
  }
}

/** MiB/s writing then reading back BIG bytes in 1 MiB calls (fsync before reading). */
function bigIo(path: string): { write: number; read: number } {
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  let fd = openSync(path, 'w');
  const w = ms(() => { for (let off = 0; off < BIG; off += chunk.length) writeSync(fd, chunk); fsyncSync(fd); });
  closeSync(fd);
  fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  const r = ms(() => { while (readSync(fd, buf, 0, buf.length, null) > 0); });
  closeSync(fd);
  const mib = BIG / (1 << 20);
  return { write: mib / (w / 1000), read: mib / (r / 1000) };
}

export async function writeRows(): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'afs-bench-write-'));
  const files: Record<string, string> = { 'README.md': '# w\n' };
  for (let i = 0; i < TRACKED; i++) files[`tracked/d${i % 50}/f${i}.txt`] = `file ${i}\n`;
  await makeRepo(join(dir, 'remote'), files, { name: 'w' });
  const server = await startGitServer({ root: join(dir, 'remote') });
  const state = join(dir, 'state');
  const mnt = join(dir, 'mnt');
  const daemon = startDaemon(state, ['--hydration-concurrency', '0']);
  try {
    const add = await afs(state, ['add-repo', '--name', 'w', '--remote', server.url('w'), '--mount-root', mnt]);
    if (add.code !== 0) throw new Error(add.stderr);
    const root = join(mnt, 'w');
    await daemon.waitMounted(root);
    const native = join(dir, 'native');
    mkdirSync(native);
    const createMount = ms(() => createTree(join(root, 'gen')));
    const createNative = ms(() => createTree(join(native, 'gen')));
    const ioMount = bigIo(join(root, 'big.bin'));
    const ioNative = bigIo(join(native, 'big.bin'));
    server.resetStats();
    const mv = ms(() => renameSync(join(root, 'tracked'), join(root, 'moved')));
    const rmrf = ms(() => rmSync(join(root, 'moved'), { recursive: true }));
    const fetched = server.stats.fetchRequests;
    return [
      { group: 'write path', what: `create ${SMALL_FILES} files of 1 KiB in 100 dirs`, subject: createMount, baseline: createNative, unit: 'ms', goal: '≤ 3x', note: 'mount vs ext4 dir' },
      { group: 'write path', what: 'sequential write of 1 GiB (+fsync)', subject: ioMount.write, baseline: ioNative.write, unit: 'MiB/s', goal: '≥ 0.3x' },
      { group: 'write path', what: 'read back the 1 GiB file', subject: ioMount.read, baseline: ioNative.read, unit: 'MiB/s' },
      { group: 'write path', what: `mv of a tracked dir of ${TRACKED} files`, subject: mv, baseline: 1000, unit: 'ms', goal: '< 1 s, 0 fetches', note: `${fetched} fetch requests (mv + rm)` },
      { group: 'write path', what: `rm -rf of that tracked dir`, subject: rmrf, baseline: 1000, unit: 'ms', goal: '< 1 s, 0 fetches', note: 'baseline: the 1 s goal' },
    ];
  } finally {
    await daemon.stop();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
