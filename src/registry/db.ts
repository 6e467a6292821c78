// The registry database: SQLite in WAL mode, the source of truth for repo configuration and
// snapshots, shared by the CLI and the daemon (each opens it; writes are short transactions).

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

/** Schema migrations, applied in order; PRAGMA user_version records how many ran. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE repos (
     name TEXT PRIMARY KEY,
     remote TEXT NOT NULL,              -- never contains credentials
     branch TEXT,
     ref TEXT,
     mount_root TEXT,
     refresh TEXT NOT NULL,             -- '30s', '5m', 'never'
     depth INTEGER,
     git_dir TEXT NOT NULL,
     has_credentials INTEGER NOT NULL,
     object_info INTEGER NOT NULL,      -- the remote served blob sizes (object-info)
     generation INTEGER NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE snapshots (
     repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
     generation INTEGER NOT NULL,
     commit_oid TEXT NOT NULL,
     commit_time INTEGER NOT NULL,
     PRIMARY KEY (repo, generation)
   );
   CREATE TABLE entries (
     repo TEXT NOT NULL,
     generation INTEGER NOT NULL,
     path TEXT NOT NULL,
     mode INTEGER NOT NULL,
     type TEXT NOT NULL,
     oid TEXT NOT NULL,
     size INTEGER NOT NULL,             -- -1: unknown
     ino INTEGER NOT NULL,
     PRIMARY KEY (repo, generation, path),
     FOREIGN KEY (repo, generation) REFERENCES snapshots(repo, generation) ON DELETE CASCADE
   ) WITHOUT ROWID;
   CREATE TABLE runtime (
     repo TEXT PRIMARY KEY REFERENCES repos(name) ON DELETE CASCADE,
     pid INTEGER NOT NULL,
     state TEXT NOT NULL,
     mountpoint TEXT NOT NULL,
     heartbeat INTEGER NOT NULL,        -- ms since epoch
     hydrated_blobs INTEGER NOT NULL,
     hydrated_bytes INTEGER NOT NULL,
     queued INTEGER NOT NULL,
     failed INTEGER NOT NULL
   );`,
  // Writable overlay (src/overlay/, docs/overlay-design.md): one row per inode that differs from
  // the base snapshot or is new, plus the per-repo inode high-water mark.
  `CREATE TABLE overlay_nodes (
     repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
     ino INTEGER NOT NULL,
     parent INTEGER NOT NULL,           -- 0: unlinked but still open; the root names itself
     name TEXT NOT NULL,
     kind TEXT NOT NULL,                -- file, dir, symlink, fifo, socket, chardev, blockdev
     mode INTEGER NOT NULL,             -- st_mode including the S_IFMT bits
     uid INTEGER NOT NULL,
     gid INTEGER NOT NULL,
     rdev INTEGER NOT NULL,
     size INTEGER NOT NULL,             -- -1: unknown (base content only)
     nlink INTEGER NOT NULL,
     atime_ns INTEGER NOT NULL,         -- nanoseconds since the epoch
     mtime_ns INTEGER NOT NULL,
     ctime_ns INTEGER NOT NULL,
     content_kind TEXT NOT NULL,        -- base, upper, symlink, none
     content_ref,                       -- base: oid; upper: backing file name <ino>.<seq>; symlink: target bytes
     state TEXT NOT NULL,               -- present, whiteout
     created INTEGER NOT NULL,          -- 1: exists only in the overlay
     xattrs TEXT,                       -- JSON {name: base64 value}; NULL: none
     PRIMARY KEY (repo, ino)
   ) WITHOUT ROWID;
   CREATE TABLE overlay_meta (
     repo TEXT PRIMARY KEY REFERENCES repos(name) ON DELETE CASCADE,
     next_ino INTEGER NOT NULL          -- no overlay inode >= this has been handed out
   );`,
  // Generations after the first (HEAD moved): nodes that became base from the work tree keep the
  // time stamps git recorded for them (docs/overlay-design.md, "Generations").
  `CREATE TABLE entry_times (
     repo TEXT NOT NULL,
     generation INTEGER NOT NULL,
     ino INTEGER NOT NULL,
     atime_ns INTEGER NOT NULL,
     mtime_ns INTEGER NOT NULL,
     ctime_ns INTEGER NOT NULL,
     PRIMARY KEY (repo, generation, ino),
     FOREIGN KEY (repo, generation) REFERENCES snapshots(repo, generation) ON DELETE CASCADE
   ) WITHOUT ROWID;`,
  // Control channel and remote refresh (docs/control-and-refresh.md): `unmount` is remembered until
  // `remount`; the outcome of the last fetch of each repo.
  `ALTER TABLE repos ADD COLUMN unmounted INTEGER NOT NULL DEFAULT 0; -- 1: stays unmounted until remount
   CREATE TABLE fetch_state (
     repo TEXT PRIMARY KEY REFERENCES repos(name) ON DELETE CASCADE,
     last_fetch TEXT NOT NULL,          -- ISO time the last fetch attempt ended
     result TEXT NOT NULL,              -- 'ok' or one redacted line saying why it failed
     failures INTEGER NOT NULL          -- consecutive failures; 0 after a success
   );`,
  // Repo sources (docs/sources-and-credentials.md): a verified commit the base is pinned to, and a
  // prepared git dir our copy was made from with the ref fetched into it.
  `ALTER TABLE repos ADD COLUMN require_commit TEXT;   -- the base never moves from this commit
   ALTER TABLE repos ADD COLUMN source_git_dir TEXT;   -- --prepared-gitdir --git-dir (copied, never written)
   ALTER TABLE repos ADD COLUMN fetch_ref TEXT;        -- full ref fetched into the copy`,
  // Async add-repo (docs/async-add-repo.md): registered at once, prepared by the daemon. Until
  // prepare_state is 'ready' the repo has no snapshot (generation 0) and no git dir.
  `ALTER TABLE repos ADD COLUMN prepare_state TEXT NOT NULL DEFAULT 'ready'; -- ready, queued, preparing, failed
   ALTER TABLE repos ADD COLUMN prepare_error TEXT;   -- failed: one redacted line saying why
   ALTER TABLE repos ADD COLUMN prepare_spec TEXT;    -- until ready: the add-repo spec as JSON (remote without credentials)`,
];

export function openDb(path: string): Db {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('busy_timeout = 5000'); // first: switching to WAL may have to wait for another opener
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // The daemon and a CLI command may open a new registry at the same moment: migrations run in an
  // IMMEDIATE transaction (one writer at a time) that reads the version inside it.
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
  return db;
}
