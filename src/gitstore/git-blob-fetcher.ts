// The hydrator's BlobFetcher for one repository: which of the batch is already in git's object
// store (no network), one `git fetch` for the rest (many blobs per request; the pack lands in the
// object store, so git commands in the mount never fetch them again), then each blob streamed
// from one long-lived `cat-file --batch` to the hydrator without holding it whole in memory.

import type { BlobFetcher } from '../hydrator/ports.js';
import type { Log } from '../util/log.js';
import { CatFileBatch, fetchMissingBlobs, missingAmong } from './blob-fetch.js';

export interface GitBlobFetcher extends BlobFetcher {
  close(): Promise<void>;
}

export interface GitBlobFetcherOptions {
  /** Git config for talking to the remote (credentials as http.extraHeader), via the environment. */
  gitConfig: Record<string, string>;
  /** Where cat-file's object views go (under the state root, cleaned at daemon start). */
  scratchDir?: string;
  log: Log;
}

export function createGitBlobFetcher(gitDir: string, o: GitBlobFetcherOptions): GitBlobFetcher {
  const cat = new CatFileBatch(gitDir, { scratchDir: o.scratchDir });
  return {
    async fetch(oids, deliver, signal) {
      if (!oids.length) return;
      const t0 = Date.now();
      const missing = await missingAmong(gitDir, oids, { signal, scratchDir: o.scratchDir });
      if (missing.length) await fetchMissingBlobs(gitDir, missing, { signal, config: o.gitConfig });
      o.log('debug', 'hydration batch fetched', { blobs: oids.length, fetched: missing.length, ms: Date.now() - t0 });
      for (const oid of oids) {
        const obj = await cat.read(oid, { signal });
        if (obj.type !== 'blob') {
          obj.stream.destroy();
          throw new Error(`object ${oid} is a ${obj.type}, not a blob`);
        }
        try {
          await deliver(oid, obj.size, obj.stream);
        } finally {
          if (!obj.stream.readableEnded) obj.stream.destroy(); // never leave cat-file blocked
        }
      }
    },
    close: () => cat.close(),
  };
}
