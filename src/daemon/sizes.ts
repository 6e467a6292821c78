// Blob sizes for a new snapshot, from the server (object-info) without downloading any blob.

import { fetchObjectSizes, probeObjectInfo } from '../gitstore/object-info.js';
import { openRemoteTransport, type RemoteTransport } from '../gitstore/remote-transport.js';
import type { Oid } from '../model/ids.js';
import type { RemoteAccess } from './remote-access.js';

export interface SizeSource {
  transport: RemoteTransport;
  /** The server advertises object-info. */
  supported: boolean;
}

/** Opens the remote and reads its capabilities (one round trip; can overlap the clone). */
export async function probeSizes(access: RemoteAccess, signal?: AbortSignal): Promise<SizeSource> {
  const transport = openRemoteTransport(access.url, { authorization: access.authorization, config: access.gitConfig });
  try {
    return { transport, supported: await probeObjectInfo(transport, { signal }) };
  } catch (err) {
    transport.close();
    throw err;
  }
}

/**
 * Sizes of `oids` by object id, or undefined when the server does not offer object-info (sizes
 * then stay unknown and are learned by hydrating on first stat). Closes the transport.
 */
export async function learnSizes(src: SizeSource, oids: readonly Oid[], signal?: AbortSignal): Promise<Map<Oid, number> | undefined> {
  try {
    if (!src.supported) return undefined;
    return oids.length ? await fetchObjectSizes(src.transport, oids, { signal }) : new Map();
  } finally {
    src.transport.close();
  }
}
