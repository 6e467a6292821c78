// Serves WorkTreeFs over a fixture tree in this child process (tests must never touch a mount
// from the process that serves it). No git, no network: blob ids are sha1("blob <size>\0" +
// content) and the BlobProvider writes the content to a temp file on ensure() and counts calls.
//
//   node worktree-child.js <mountpoint> <stateDir>
//
// After opening the store it prints `invariants ok` (or `invariants FAILED <why>`), `lost <n>`
// (rows whose backing file was missing) and `orphans <n>` (backing files no row names); then
// `ready <mountpoint>` once mounted. SIGUSR2 writes `<stateDir>/ensure-count` (the number
// of ensure() calls so far) and then prints `stats <count>`. SIGTERM: clean unmount, store
// closed, exit 0. The same stateDir reopens the same database and overlay (restart test).

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobProvider } from '../../src/fs/blob-provider.js';
import { WorkTreeFs } from '../../src/fs/worktree-fs.js';
import { mountFilesystem } from '../../src/fuse/index.js';
import { OverlayStore } from '../../src/overlay/index.js';
import { fixtureAt, REPO } from '../../src/overlay/testing/fixture.js';
import { buildSnapshot, fixtureBlobs } from './worktree-fixture.js';

async function main(): Promise<void> {
  const [mountpoint, stateDir] = process.argv.slice(2);
  if (!mountpoint || !stateDir) throw new Error('usage: worktree-child <mountpoint> <stateDir>');
  const blobDir = join(stateDir, 'blobs');
  mkdirSync(blobDir, { recursive: true });
  const byOid = new Map([...fixtureBlobs().values()].map((b) => [b.oid as string, b.data]));
  let ensures = 0;
  const blobs: BlobProvider = {
    ensure: async (oid) => {
      ensures++;
      const data = byOid.get(oid);
      if (!data) throw Object.assign(new Error(`no blob ${oid}`), { code: 'EIO' });
      const path = join(blobDir, oid);
      writeFileSync(path, data);
      return path;
    },
    cachedPath: () => undefined,
    nudge: () => {},
    adopt: (oid, _size, source) => { byOid.set(oid, 'data' in source ? source.data : readFileSync(source.file)); },
  };
  const snapshot = buildSnapshot();
  const fx = fixtureAt(stateDir);
  const store = await OverlayStore.open({ db: fx.db, repo: REPO, dir: fx.overlayDir, firstFreeIno: snapshot.nodeCount + 10 });
  // Crash tests read these two lines: the store reopened after a SIGKILL must be consistent.
  try {
    store.checkInvariants();
    process.stdout.write('invariants ok\n');
  } catch (err) {
    process.stdout.write(`invariants FAILED ${(err as Error).message}\n`);
  }
  process.stdout.write(`lost ${store.lostRows().length}\n`);
  const named = new Set([...store.rows()].flatMap((r) => (r.content.kind === 'upper' ? [r.content.file] : [])));
  const onDisk = existsSync(fx.upperDir) ? readdirSync(fx.upperDir).map((n) => join(fx.upperDir, n)) : [];
  process.stdout.write(`orphans ${onDisk.filter((f) => !named.has(f)).length}\n`);
  const fs = new WorkTreeFs({ snapshot, store, blobs, gitDir: join(stateDir, 'git'), statfsPath: stateDir });
  const mounted = await mountFilesystem(fs, { mountpoint, fsname: 'worktree', subtype: 'worktree' });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await mounted.close();
      await fs.closeAll();
      await store.close();
      fx.dispose();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGUSR2', () => {
    writeFileSync(join(stateDir, 'ensure-count'), String(ensures));
    process.stdout.write(`stats ${ensures}\n`);
  });
  mounted.closed.then(() => stop(), () => stop());
  process.stdout.write(`ready ${mounted.mountpoint}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`worktree: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
