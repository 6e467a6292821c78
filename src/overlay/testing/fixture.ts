// Test fixtures for the overlay store: a registry database file with one repo in a temp state
// root, row builders, and the on-disk facts tests assert on. Shared by the unit tests and the
// crash child process.

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Oid } from '../../model/ids.js';
import { openDb, type Db } from '../../registry/db.js';
import { insertRepo } from '../../registry/repos.js';
import { ROOT_INO } from '../../snapshot/snapshot.js';
import type { Log } from '../../util/log.js';
import { OverlayStore, type OverlayStoreOptions } from '../overlay-store.js';
import type { OverlayContent, OverlayKind, OverlayRow } from '../types.js';

export const REPO = 'demo';
/** The base snapshot of the fixtures uses inodes below this. */
export const FIRST_FREE_INO = 100;

export interface LogLine { level: string; msg: string; fields?: Record<string, unknown> }

export interface Fixture {
  stateDir: string;
  dbPath: string;
  overlayDir: string;
  upperDir: string;
  db: Db;
  logs: LogLine[];
  log: Log;
  open(extra?: Partial<OverlayStoreOptions>): Promise<OverlayStore>;
  /** Closes the database handle and opens a new one (a daemon restart). */
  reopenDb(): void;
  dispose(): void;
}

/** Opens (or creates) the fixture state under `stateDir`; registers the repo when new. */
export function fixtureAt(stateDir: string): Fixture {
  const dbPath = join(stateDir, 'registry.db');
  const overlayDir = join(stateDir, 'repos', REPO, 'overlay');
  const logs: LogLine[] = [];
  const log: Log = (level, msg, fields) => void logs.push({ level, msg, ...(fields ? { fields } : {}) });
  const connect = (): Db => {
    const db = openDb(dbPath);
    if (!db.prepare('SELECT 1 FROM repos WHERE name = ?').get(REPO)) {
      insertRepo(db, {
        name: REPO, remote: 'http://127.0.0.1/demo.git', branch: 'main', ref: null, mountRoot: null, refresh: 'never',
        depth: null, gitDir: join(stateDir, 'repos', REPO, 'work', '.git'), hasCredentials: false, objectInfo: true,
        generation: 1, createdAt: new Date(0).toISOString(),
      });
    }
    return db;
  };
  const fx: Fixture = {
    stateDir, dbPath, overlayDir, upperDir: join(overlayDir, 'upper'), db: connect(), logs, log,
    open: (extra = {}) => OverlayStore.open({ db: fx.db, repo: REPO, dir: overlayDir, firstFreeIno: FIRST_FREE_INO, log, ...extra }),
    reopenDb: () => {
      fx.db.close();
      fx.db = connect();
    },
    dispose: () => {
      if (fx.db.open) fx.db.close();
    },
  };
  return fx;
}

/** A fixture in a fresh temp dir, removed by dispose(). */
export function tempFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'afs-overlay-'));
  const fx = fixtureAt(dir);
  const dispose = fx.dispose;
  fx.dispose = () => {
    dispose();
    rmSync(dir, { recursive: true, force: true });
  };
  return fx;
}

export function upperFiles(fx: Fixture): string[] {
  return readdirSync(fx.upperDir).sort();
}

export const oid = (n: number): Oid => n.toString(16).padStart(40, '0') as Oid;

const IFMT: Record<OverlayKind, number> = {
  file: 0o100000, dir: 0o040000, symlink: 0o120000, fifo: 0o010000, socket: 0o140000, chardev: 0o020000, blockdev: 0o060000,
};

/** A present row with plausible defaults; override anything. */
export function row(ino: number, kind: OverlayKind, content: OverlayContent, extra: Partial<OverlayRow> = {}): OverlayRow {
  const t = 1_700_000_000_123_456_789n;
  const size = content.kind === 'symlink' ? content.target.length : 0;
  return {
    ino, parent: ROOT_INO, name: `n${ino}`, kind, mode: IFMT[kind] | (kind === 'dir' ? 0o755 : 0o644),
    uid: 1000, gid: 1000, rdev: 0, size, nlink: kind === 'dir' ? 2 : 1,
    atimeNs: t, mtimeNs: t + 1n, ctimeNs: t + 2n, content, state: 'present', created: true, ...extra,
  };
}

export function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
