// Git blob ids: sha1 (40 hex) or sha256 (64 hex) of the header `blob <size>\0` followed by the
// content. The header needs the size up front, so a blob of unknown size is hashed after it was
// written, from the file (see BlobCache.write).

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Oid } from '../model/ids.js';

/** Hash algorithm by id length: one row per object format git supports. */
const ALGORITHM_BY_HEX_LENGTH: ReadonlyMap<number, 'sha1' | 'sha256'> = new Map([
  [40, 'sha1'],
  [64, 'sha256'],
]);

/** Starts a git blob hash for `oid`'s object format, header already fed. */
export function startBlobHash(oid: Oid, size: number): Hash {
  const algorithm = ALGORITHM_BY_HEX_LENGTH.get(oid.length);
  if (algorithm === undefined) throw new Error(`unsupported object id length ${oid.length}`);
  return createHash(algorithm).update(`blob ${size}\0`);
}

/** Hashes a file's content as a git blob in `oid`'s object format. */
export async function hashBlobFile(oid: Oid, path: string, size: number, signal?: AbortSignal): Promise<string> {
  const hash = startBlobHash(oid, size);
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
