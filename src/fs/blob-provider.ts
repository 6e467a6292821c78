// Where base file contents come from: the hydrator and its cache (the fs layer's only view of it).

import type { Oid } from '../model/ids.js';

export interface BlobProvider {
  /** Path of a verified local copy of the blob, hydrating it first (top priority) if needed. */
  ensure(oid: Oid, size: number, signal?: AbortSignal): Promise<string>;
  /** Path when already cached (no I/O), else undefined. */
  cachedPath(oid: Oid): string | undefined;
  /** Blobs likely to be read soon (their directory was listed). */
  nudge(oids: Oid[]): void;
}
