// Where base file contents come from: the hydrator and its cache (the fs layer's only view of it).

import type { Oid } from '../model/ids.js';

export interface BlobProvider {
  /** Path of a verified local copy of the blob, hydrating it first (top priority) if needed. */
  ensure(oid: Oid, size: number, signal?: AbortSignal): Promise<string>;
  /** Path when already cached (no I/O), else undefined. */
  cachedPath(oid: Oid): string | undefined;
  /** Blobs likely to be read soon (their directory was listed). */
  nudge(oids: Oid[]): void;
  /**
   * Content verified as `oid` that became base in a generation switch (BlobCache.adoptSync):
   * synchronous, and the file is never written again.
   */
  adopt(oid: Oid, size: number, source: { file: string } | { data: Buffer }): void;
}
