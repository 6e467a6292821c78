// Putting an object into a repository's object store without git: a loose object
// (gitformat-loose(5)) is `objects/<2 hex>/<38 hex>`, the zlib stream of `<type> <size>\0` +
// content. Once a blob fetched directly (direct-fetch.ts) is stored this way, git commands in a
// partial clone find it locally and never lazily fetch it again.
//
// Written the way git writes one (finalize_object_file): a temp file in the fan-out directory,
// then link() to the final name, so a reader never sees half an object and an object already
// there is never replaced (EEXIST: keep it, its content is the same by definition of its name).
// Where hard links are not allowed, rename() instead. Temp names start with `tmp_obj_` so that
// `git gc`/`git prune` removes any left behind by a crash.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflate, constants as zlibConstants } from 'node:zlib';
import type { Oid } from '../model/ids.js';
import { hashObject, objectHeader, type ObjectType } from './git-object.js';

const deflateAsync = promisify(deflate);

/** git's default for loose objects (core.looseCompression): the fastest level. */
const LOOSE_COMPRESSION = zlibConstants.Z_BEST_SPEED;
/** Objects are immutable: git makes them read-only too. */
const OBJECT_MODE = 0o444;

export interface WriteLooseOptions {
  /**
   * fsync the object before it gets its name (default false). git does not by default either
   * (core.fsync leaves loose objects out); the cost is a torn object after a power loss, which
   * git then reports as corrupt rather than fetching again.
   */
  fsync?: boolean;
}

/** Path of an object's loose file under a git dir. */
export function looseObjectPath(gitDir: string, oid: Oid): string {
  return join(gitDir, 'objects', oid.slice(0, 2), oid.slice(2));
}

/**
 * Stores `data` as a loose `type` object in `gitDir` (the `.git` directory or a bare
 * repository) and returns its id. Idempotent: an object already stored loose is left as it is.
 * Deflating runs on the thread pool, so a large blob does not block the event loop.
 */
export async function writeLooseObject(gitDir: string, type: ObjectType, data: Buffer, opts: WriteLooseOptions = {}): Promise<Oid> {
  const oid = hashObject(type, data);
  const target = looseObjectPath(gitDir, oid);
  if (await exists(target)) return oid;
  const dir = join(gitDir, 'objects', oid.slice(0, 2));
  await mkdir(dir, { recursive: true });
  const header = objectHeader(type, data.length);
  const compressed = await deflateAsync(Buffer.concat([header, data]), { level: LOOSE_COMPRESSION });
  const temp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
  try {
    await writeFileExclusive(temp, compressed, opts.fsync ?? false);
    await publish(temp, target);
  } finally {
    await unlink(temp).catch(() => {}); // gone already when rename() published it
  }
  return oid;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function writeFileExclusive(path: string, bytes: Buffer, sync: boolean): Promise<void> {
  const file = await open(path, 'wx', OBJECT_MODE);
  try {
    await file.writeFile(bytes);
    if (sync) await file.datasync();
  } finally {
    await file.close();
  }
}

/** Gives the temp file its final name without ever replacing an object already there. */
async function publish(temp: string, target: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // a concurrent writer (or git) stored it first
    // Some filesystems refuse hard links (EPERM, ENOTSUP on FAT, some FUSE mounts): git renames.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'EMLINK') {
      await rename(temp, target);
      return;
    }
    throw err;
  }
}
