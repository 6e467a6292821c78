// Blob sizes for a new snapshot, from the server (object-info) without downloading any blob.

import { fetchObjectSizes, probeObjectInfo } from '../gitstore/object-info.js';
import { openRemoteTransport } from '../gitstore/remote-transport.js';
import type { Oid } from '../model/ids.js';
import type { RemoteAccess } from './remote-access.js';

/**
 * Sizes of `oids` by object id, or undefined when the server does not offer object-info (sizes
 * then stay unknown and are learned by hydrating on first stat).
 */
export async function learnSizes(access: RemoteAccess, oids: readonly Oid[], signal?: AbortSignal): Promise<Map<Oid, number> | undefined> {
  const transport = openRemoteTransport(access.url, { authorization: access.authorization, config: access.gitConfig });
  try {
    if (!(await probeObjectInfo(transport, { signal }))) return undefined;
    return oids.length ? await fetchObjectSizes(transport, oids, { signal }) : new Map();
  } finally {
    transport.close();
  }
}
