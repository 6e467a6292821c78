// Shared vocabulary of the POSIX case table: what a case is, what it may record, and the helpers
// that turn filesystem results into observations that are equal on every correct filesystem.
//
// Rules every helper here follows, because the table is compared between a native directory and
// FUSE mounts:
// - Only async node:fs/promises calls. The filesystem under test may be served by this same
//   process's event loop; a synchronous call would block the loop that has to answer it.
// - Never record what legitimately differs between filesystems: st_dev, st_ino values,
//   st_blksize, st_blocks, absolute timestamps, directory sizes. Record relations instead
//   (same inode, time advanced) as booleans.
// - Errors are recorded by `code` ('ENOENT'), never by message.

import { createHash } from 'node:crypto';
import { mkdir, lstat, stat, readdir, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Plain JSON: what a case saw. Deep-equal observations mean the filesystems behaved alike. */
export type Observation =
  | null
  | boolean
  | number
  | string
  | readonly Observation[]
  | { readonly [key: string]: Observation };

export type ObservationRecord = { readonly [key: string]: Observation };

export interface PosixCase {
  /** Unique, kebab-case; also the name of the case's private subdirectory. */
  readonly name: string;
  /** `dir` is the root under test; the case works only inside its own fresh subdirectory. */
  run(dir: string): Promise<Observation>;
  /**
   * What Linux is known to answer for some top-level keys of the observation. The native test
   * checks these so a mistake in a case (a setup that never reaches the edge it claims to test)
   * shows up as a failure instead of being recorded identically on both sides.
   */
  readonly expect?: ObservationRecord;
}

/**
 * Longer than the coarsest timestamp clock a Linux filesystem uses (one jiffy: 10 ms at
 * HZ=100; ext4 and tmpfs stamp with the coarse clock), so a strict "time advanced" comparison is
 * robust. Sleeping less would make `>` flaky; comparing with `>=` would prove nothing.
 */
export const CLOCK_TICK_MS = 25;

export function tick(): Promise<void> {
  return sleep(CLOCK_TICK_MS);
}

/**
 * Defines a row: the body receives a freshly created private directory named after the case,
 * so cases never see each other's files and can run in any order.
 */
export function posixCase(
  name: string,
  body: (dir: string) => Promise<Observation>,
  expect?: ObservationRecord,
): PosixCase {
  return {
    name,
    ...(expect === undefined ? {} : { expect }),
    async run(root: string) {
      const dir = join(root, name);
      await mkdir(dir, { mode: 0o755 });
      return body(dir);
    },
  };
}

/** The errno code of a thrown value, or its message when it has no code (a bug, not a result). */
export function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return String(err);
}

/** 'ok' when the operation succeeds, else its errno code: the usual cell of an errno row. */
export async function outcome(op: Promise<unknown>): Promise<string> {
  try {
    await op;
    return 'ok';
  } catch (err) {
    return codeOf(err);
  }
}

/** File types by S_IFMT value; one table read by normStat and the d_type rows. */
const FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [0o100000, 'file'],
  [0o040000, 'dir'],
  [0o120000, 'symlink'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o020000, 'char'],
  [0o060000, 'block'],
]);
const S_IFMT = 0o170000;

export function typeOf(mode: number): string {
  return FILE_TYPES.get(mode & S_IFMT) ?? `unknown(${(mode & S_IFMT).toString(8)})`;
}

/**
 * The filesystem-independent part of a stat: type, permission bits, and size/nlink where they
 * mean the same everywhere. Directory size is omitted (ext4 says 4096, tmpfs counts entries) and
 * so is directory nlink (btrfs always says 1); the `dir-nlink` row tests that one on its own.
 */
export function normStat(st: BigIntStats): ObservationRecord {
  const mode = Number(st.mode);
  const type = typeOf(mode);
  const base = { type, mode: permissions(mode) };
  if (type === 'dir') return base;
  return { ...base, size: Number(st.size), nlink: Number(st.nlink) };
}

/** Permission bits (with setuid/setgid/sticky) as '0o755': readable in a diff. */
export function permissions(mode: number): string {
  return '0o' + (mode & 0o7777).toString(8);
}

/** The permission bits of `path`, following symlinks. */
export async function modeOf(path: string): Promise<string> {
  return permissions((await stat(path)).mode);
}

export async function statOf(path: string): Promise<ObservationRecord> {
  try {
    return normStat(await stat(path, { bigint: true }));
  } catch (err) {
    return { err: codeOf(err) };
  }
}

export async function lstatOf(path: string): Promise<ObservationRecord> {
  try {
    return normStat(await lstat(path, { bigint: true }));
  } catch (err) {
    return { err: codeOf(err) };
  }
}

/** Raw bigint stats for relations (ino identity, time ordering) that are recorded as booleans. */
export function bigStat(path: string): Promise<BigIntStats> {
  return lstat(path, { bigint: true });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Names in a directory, sorted: readdir order is not specified by POSIX. */
export async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Reads `length` bytes at `position`; returns what came back, which may be short. */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/** Runs `fn` with an open handle and always closes it, so a failing case leaks no descriptor. */
export async function withHandle<T>(
  open: Promise<FileHandle>,
  fn: (fh: FileHandle) => Promise<T>,
): Promise<T> {
  const fh = await open;
  try {
    return await fn(fh);
  } finally {
    await fh.close();
  }
}
