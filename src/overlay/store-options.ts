// Options, named numbers and the fault-injection seam of OverlayStore.

import type { Db } from '../registry/db.js';
import type { Log } from '../util/log.js';

/** Inode numbers are reserved in the database this many at a time (one write per chunk). */
export const INO_RESERVE_CHUNK = 1024;
/** Released backing files are deleted this long after release, behind one durable point. */
export const RELEASE_DELAY_MS = 50;

/** Test seam: the crash-ordering points, in order of a file's life (overlay-store.ts). */
export const FAULT_POINTS = {
  'backing-created': 'newBackingFile() created the file; nothing references it',
  'backing-copied': 'copyUp() finished the copy (flushed unless opted out); nothing references it',
  'row-committed': 'a put/putMany/delete committed; memory not yet updated, no file deleted yet',
  'file-synced': 'sync(): the backing file is flushed, the row not yet durable',
  durable: 'a durable point completed: upper dir and WAL flushed',
  'before-unlink': 'released files are about to be deleted (their rows are durable)',
  unlinked: 'one released file was deleted',
} as const;
export type FaultPoint = keyof typeof FAULT_POINTS;

export interface OverlayStoreOptions {
  /** The registry database (openDb: WAL, synchronous=NORMAL), with the overlay migration applied. */
  db: Db;
  /** Repo name: a row of `repos` (overlay rows cascade away with it). */
  repo: string;
  /** `<state>/repos/<name>/overlay`; backing files live in its `upper/`. Created if missing. */
  dir: string;
  /** Lowest inode number the base snapshot does not use; allocIno() never goes below it. */
  firstFreeIno: number;
  /** Orphans collected (info), files found missing (error), failed deletions (warn). */
  log?: Log;
  /** Delay (ms) before released files are deleted; default RELEASE_DELAY_MS. */
  releaseDelayMs?: number;
  /** Called at each FAULT_POINTS step; tests kill the process there. */
  fault?: (point: FaultPoint) => void;
}
