// The hydrator's only view of the network: a port implemented by gitstore/ (L2). The hydrator
// never spawns git nor speaks a wire protocol; tests use an in-memory fetcher.

import type { Oid } from '../model/ids.js';

export interface FetchHints {
  urgent?: boolean;
}

export interface BlobFetcher {
  /**
   * Makes the blobs available: fetches the missing ones from the remote in as few network
   * requests as possible (the whole list is one batch), then calls `deliver` once per blob
   * with its content stream, one at a time. Resolves when all were delivered; rejects if the
   * fetch or a delivery failed (blobs not yet delivered are retried by the caller).
   * `hints.urgent`: someone is blocked reading these (a foreground batch): favour latency.
   */
  fetch(oids: readonly Oid[], deliver: (oid: Oid, size: number, content: AsyncIterable<Buffer>) => Promise<void>, signal: AbortSignal, hints?: FetchHints): Promise<void>;
}
