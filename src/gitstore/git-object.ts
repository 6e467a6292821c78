// A git object's identity, shared by the pack reader (ids of what the server sent) and the loose
// object writer (where the object goes): the id is the hash of `<type> <size>\0` + content
// (gitformat-object, "Object storage"). SHA-1 only; SHA-256 repositories are refused by the
// callers before any content reaches here.

import { createHash } from 'node:crypto';
import type { Oid } from '../model/ids.js';

/** The four kinds of object a repository stores (a tree entry's 'commit' is a submodule link). */
export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** The only object format this code computes ids for (`object-format` capability value). */
export const SUPPORTED_OBJECT_FORMAT = 'sha1';

/** Raw bytes of a SHA-1 object id. */
export const SHA1_BYTES = 20;

/** `<type> <size>\0`, the prefix hashed (and, in a loose object, stored) before the content. */
export function objectHeader(type: ObjectType, size: number): Buffer {
  return Buffer.from(`${type} ${size}\0`, 'latin1');
}

/** The SHA-1 object id of `data` stored as `type`. */
export function hashObject(type: ObjectType, data: Buffer): Oid {
  return createHash('sha1').update(objectHeader(type, data.length)).update(data).digest('hex') as Oid;
}
