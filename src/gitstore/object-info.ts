// Blob sizes from the server without downloading blobs (DESIGN decision 3): protocol v2
// `object-info`. No released git client sends it, so we do. Whether a server offers it varies:
// git 2.39.5's upload-pack advertises and serves it unconditionally (it ignores
// transfer.advertiseObjectInfo, measured), newer git only with transfer.advertiseObjectInfo=true,
// and upload-pack dies on a command it did not advertise — so the advertisement is checked first.
//
// Request:  command=object-info, capabilities, delim, `size`, `oid <hex>`…, flush.
// Response: `size` (the attribute list, echoed), then `<oid> <size>` per oid, flush. An object
// the server lacks comes back as `<oid> ` with no size; it is left out of the result.

import { isOid, type Oid } from '../model/ids.js';
import { pktText, readPktLines } from './pkt-line.js';
import {
  RemoteError,
  encodeCommand,
  requestCapabilities,
  type Capabilities,
  type RemoteTransport,
} from './remote-protocol.js';

/** OIDs per request: ~200 KB of request, a response of about the same, well under any limit. */
export const DEFAULT_OBJECT_INFO_BATCH = 4096;
/** Requests in flight at once for one call: enough to hide a WAN round trip, not a flood. */
export const DEFAULT_OBJECT_INFO_CONCURRENCY = 3;

export interface ObjectSizeOptions {
  /** OIDs per request (default 4096). */
  batchSize?: number;
  /** Requests in flight at once (default 3). */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Whether the remote advertises `object-info` (false, not an error, for a v0-only server). */
export async function probeObjectInfo(remote: RemoteTransport, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
  try {
    const adv = await remote.capabilities(opts);
    return adv.capabilities.has('object-info');
  } catch (err) {
    if (err instanceof RemoteError && err.code === 'protocol-error') return false;
    throw err;
  }
}

/**
 * Sizes in bytes of `oids` as the server reports them. Duplicates are asked once; objects the
 * server does not have are absent from the map. Rejects RemoteError('object-info-unsupported')
 * before sending anything when the server does not advertise the command.
 */
export async function fetchObjectSizes(remote: RemoteTransport, oids: Iterable<Oid>, opts: ObjectSizeOptions = {}): Promise<Map<Oid, number>> {
  const unique = [...new Set(oids)];
  const sizes = new Map<Oid, number>();
  if (unique.length === 0) return sizes;
  const adv = await remote.capabilities({ signal: opts.signal });
  if (!adv.capabilities.has('object-info')) {
    throw new RemoteError('object-info-unsupported', remote.url, 'server does not offer object-info (transfer.advertiseObjectInfo)');
  }
  const batchSize = Math.max(1, opts.batchSize ?? DEFAULT_OBJECT_INFO_BATCH);
  const batches: Oid[][] = [];
  for (let i = 0; i < unique.length; i += batchSize) batches.push(unique.slice(i, i + batchSize));

  // One failed batch cancels its siblings: the caller gets the first error, not a pile of them.
  const local = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, local.signal]) : local.signal;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      await requestSizes(remote, adv, batch, sizes, signal);
    }
  };
  const workers = Math.min(batches.length, Math.max(1, opts.concurrency ?? DEFAULT_OBJECT_INFO_CONCURRENCY));
  try {
    await Promise.all(Array.from({ length: workers }, () => worker().catch((err: unknown) => {
      local.abort(err);
      throw err;
    })));
  } catch (err) {
    throw opts.signal?.aborted ? opts.signal.reason : err;
  }
  return sizes;
}

async function requestSizes(remote: RemoteTransport, adv: Capabilities, batch: readonly Oid[], out: Map<Oid, number>, signal: AbortSignal): Promise<void> {
  const body = encodeCommand('object-info', requestCapabilities(adv), ['size', ...batch.map((o) => `oid ${o}`)]);
  const response = await remote.command(body, { signal });
  const wanted = new Set<string>(batch);
  let sawAttributes = false;
  for await (const pkt of readPktLines(response)) {
    if (pkt.type === 'flush') return;
    const line = pktText(pkt);
    if (line === undefined) throw new RemoteError('protocol-error', remote.url, `unexpected ${pkt.type} packet in object-info response`);
    if (line.startsWith('ERR ')) throw new RemoteError('remote-error', remote.url, `server error: ${line.slice(4)}`);
    if (!sawAttributes) {
      if (line !== 'size') throw new RemoteError('protocol-error', remote.url, `object-info answered attributes ${JSON.stringify(line.slice(0, 80))}`);
      sawAttributes = true;
      continue;
    }
    parseSizeLine(line, wanted, out, remote.url);
  }
  throw new RemoteError('protocol-error', remote.url, 'object-info response ended without a flush');
}

/** `<oid> <size>`, or `<oid> ` for an object the server does not have. */
function parseSizeLine(line: string, wanted: ReadonlySet<string>, out: Map<Oid, number>, url: string): void {
  const sp = line.indexOf(' ');
  const oid = sp < 0 ? line : line.slice(0, sp);
  const size = sp < 0 ? '' : line.slice(sp + 1);
  if (!isOid(oid) || !wanted.has(oid)) {
    throw new RemoteError('protocol-error', url, `object-info answered for an object not asked: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (size === '') return;
  if (!/^\d{1,15}$/.test(size)) throw new RemoteError('protocol-error', url, `bad size in object-info line ${JSON.stringify(line.slice(0, 120))}`);
  out.set(oid, Number(size));
}
