// A first read of an unhydrated file in one round trip: a protocol v2 `fetch` for a few blob ids
// spoken from this process (gitprotocol-v2(5) "fetch"), the pack parsed in memory. `git fetch
// --stdin` costs three processes and two HTTP requests for the same blobs (150-300 ms even on
// localhost); this costs one POST once the capabilities are cached on the transport.
//
// Request: command=fetch, capabilities, delim, `no-progress`, `ofs-delta`, `filter blob:none`
// (as git's own lazy fetch sends; a mistaken tree or commit id then cannot pull in every blob
// under it), `want <oid>`…, `done`, flush. No `thin-pack`: every delta base must be in the pack.
// With `done` and no `have` the server skips negotiation and answers with the `packfile`
// section; other sections (acknowledgments, shallow-info, wanted-refs, packfile-uris) are
// skipped if a server sends them anyway. The pack comes side-band-64k framed: the first byte of
// each pkt-line is the band (1 data, 2 progress, 3 fatal error), then a flush ends it.
//
// An id the server does not have kills upload-pack before any section (git 2.39 answers
// `ERR upload-pack: not our ref <oid>` and closes the response): that becomes
// 'object-not-received' naming the id.

import { isOid, type Oid } from '../model/ids.js';
import { redactUrl } from '../util/redact.js';
import { SUPPORTED_OBJECT_FORMAT } from './git-object.js';
import { readPack } from './pack-reader.js';
import { pktText, readPktLines, type PktLine } from './pkt-line.js';
import { encodeCommand, requestCapabilities, type Capabilities, type RemoteTransport } from './remote-protocol.js';

/** Default bound on the pack received: far above a handful of source files, far below RAM. */
export const DEFAULT_MAX_PACK_BYTES = 512 * 2 ** 20;
/** Default bound on what that pack inflates to (zlib and deltas both multiply). */
export const DEFAULT_MAX_INFLATED_BYTES = 2 ** 30;

export type DirectFetchErrorCode =
  /** The server does not offer v2 `fetch`, or uses an object format we cannot hash (sha256). */
  | 'fetch-unsupported'
  /** The server reported an error (ERR packet, band 3) or answered something we cannot use. */
  | 'fetch-failed'
  /** A wanted object is not in the answer, or the server says it has no such object. */
  | 'object-not-received'
  /** A wanted id names a tree, commit or tag, not a blob. */
  | 'object-not-blob';

export class DirectFetchError extends Error {
  readonly code: DirectFetchErrorCode;
  /** The remote's URL without credentials. */
  readonly url: string;
  /** The object concerned, when one is. */
  readonly oid: Oid | undefined;
  constructor(code: DirectFetchErrorCode, url: string, message: string, opts: { oid?: Oid; cause?: unknown } = {}) {
    const safeUrl = redactUrl(url);
    // Server messages may quote URLs with credentials: redacted here, once, for every printer.
    super(`${redactUrl(message)} (${safeUrl})`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DirectFetchError';
    this.code = code;
    this.url = safeUrl;
    this.oid = opts.oid;
  }
}

export interface DirectFetchOptions {
  /** Aborts the request and the wait for the capabilities; the transport adds its own timeout. */
  signal?: AbortSignal;
  /** Largest pack accepted (bytes, default 512 MiB); a larger answer fails 'fetch-failed'. */
  maxPackBytes?: number;
  /** Largest total the pack may inflate to (bytes, default 1 GiB); PackError 'pack-limit-exceeded' beyond. */
  maxInflatedBytes?: number;
}

/**
 * Downloads `oids` (blobs) in one v2 fetch request and returns their contents, each verified to
 * hash to its id. Duplicates are asked once. Errors: DirectFetchError, PackError for a malformed
 * pack, RemoteError from the transport (HTTP status, timeout), the signal's reason on abort.
 */
export async function fetchBlobsDirect(transport: RemoteTransport, oids: readonly Oid[], opts: DirectFetchOptions = {}): Promise<Map<Oid, Buffer>> {
  const wanted = [...new Set(oids)];
  if (wanted.length === 0) return new Map();
  const bad = wanted.find((o) => !isOid(o) || o.length !== 40);
  if (bad !== undefined) throw new TypeError(`not a SHA-1 object id: ${JSON.stringify(String(bad).slice(0, 80))}`);
  const adv = await transport.capabilities({ signal: opts.signal });
  checkFetchOffered(adv, transport.url);
  const body = encodeCommand('fetch', requestCapabilities(adv), fetchArguments(adv, wanted));
  const response = await transport.command(body, { signal: opts.signal });
  const pack = await receivePack(response, transport.url, opts.maxPackBytes ?? DEFAULT_MAX_PACK_BYTES);
  opts.signal?.throwIfAborted();
  const objects = readPack(pack, { maxTotalBytes: opts.maxInflatedBytes ?? DEFAULT_MAX_INFLATED_BYTES });
  const blobs = new Map<Oid, Buffer>();
  for (const oid of wanted) {
    const object = objects.get(oid);
    if (!object) throw new DirectFetchError('object-not-received', transport.url, `the server's pack does not contain ${oid}`, { oid });
    if (object.type !== 'blob') throw new DirectFetchError('object-not-blob', transport.url, `object ${oid} is a ${object.type}, not a blob`, { oid });
    blobs.set(oid, object.data);
  }
  return blobs;
}

/** Whether the advertisement allows this fetch; thrown before anything is sent otherwise. */
function checkFetchOffered(adv: Capabilities, url: string): void {
  if (!adv.capabilities.has('fetch')) {
    throw new DirectFetchError('fetch-unsupported', url, 'server does not offer the protocol v2 fetch command');
  }
  const format = adv.capabilities.get('object-format');
  if (typeof format === 'string' && format !== SUPPORTED_OBJECT_FORMAT) {
    throw new DirectFetchError('fetch-unsupported', url, `repository uses ${format} object ids; only ${SUPPORTED_OBJECT_FORMAT} is supported`);
  }
}

function fetchArguments(adv: Capabilities, wanted: readonly Oid[]): string[] {
  // `fetch=shallow wait-for-done filter`: the features are space-separated in the value.
  const features = adv.capabilities.get('fetch');
  const filter = typeof features === 'string' && features.split(' ').includes('filter');
  return ['no-progress', 'ofs-delta', ...(filter ? ['filter blob:none'] : []), ...wanted.map((o) => `want ${o}`), 'done'];
}

/** Side-band channels of the packfile section. */
const BAND_DATA = 1;
const BAND_PROGRESS = 2;
const BAND_ERROR = 3;

/**
 * Reads the response up to and including the packfile section's flush and returns the pack
 * bytes. Reads on to the end of the body (control packets only) so a keep-alive connection goes
 * back to the pool instead of being destroyed, which would cost the next request a handshake.
 */
async function receivePack(response: AsyncIterable<Buffer>, url: string, maxPackBytes: number): Promise<Buffer> {
  const receiver = new PackReceiver(url, maxPackBytes);
  for await (const pkt of readPktLines(response)) receiver.push(pkt);
  return receiver.end();
}

/**
 * The response as a state machine: sections before the pack (skipped: acknowledgments,
 * shallow-info, wanted-refs, packfile-uris, each ended by a delimiter), the packfile section's
 * side-band packets, then nothing but control packets.
 */
class PackReceiver {
  #state: 'sections' | 'packfile' | 'done' = 'sections';
  #chunks: Buffer[] = [];
  /** Bytes received, skipped sections included: all of it counts against the bound. */
  #bytes = 0;
  #url: string;
  #max: number;

  constructor(url: string, maxPackBytes: number) {
    this.#url = url;
    this.#max = maxPackBytes;
  }

  push(pkt: PktLine): void {
    if (pkt.type === 'data') {
      this.#bytes += pkt.payload.length;
      if (this.#bytes > this.#max) throw this.#fail(`pack is larger than ${this.#max} bytes`);
    }
    if (this.#state === 'sections') this.#beforePack(pkt);
    else if (this.#state === 'packfile') this.#inPack(pkt);
    else if (pkt.type === 'data') throw this.#fail('data after the end of the packfile section');
  }

  end(): Buffer {
    if (this.#state !== 'done') throw this.#fail('response ended before the pack was complete');
    return Buffer.concat(this.#chunks);
  }

  #beforePack(pkt: PktLine): void {
    const text = pktText(pkt);
    if (text === 'packfile') this.#state = 'packfile';
    else if (text?.startsWith('ERR ')) throw serverError(text.slice(4), this.#url);
    else if (pkt.type === 'flush') throw this.#fail('server ended the response without a pack');
    else if (pkt.type === 'response-end') throw this.#fail('unexpected response-end packet before the pack');
    // Otherwise a section header, one of its lines (NAK, ready, shallow <oid>…) or a delimiter.
  }

  #inPack(pkt: PktLine): void {
    if (pkt.type === 'flush') {
      this.#state = 'done';
      return;
    }
    if (pkt.type !== 'data') throw this.#fail(`unexpected ${pkt.type} packet in the packfile section`);
    const band = pkt.payload[0];
    const payload = pkt.payload.subarray(1);
    if (band === BAND_DATA) this.#chunks.push(payload);
    else if (band === BAND_ERROR) throw this.#fail(`server error: ${payload.toString('utf8').trim()}`);
    else if (band !== BAND_PROGRESS) throw this.#fail(`unknown side-band channel ${band ?? '(empty packet)'}`);
  }

  #fail(message: string): DirectFetchError {
    return new DirectFetchError('fetch-failed', this.#url, message);
  }
}

function serverError(message: string, url: string): DirectFetchError {
  const missing = /not our ref ([0-9a-f]{40})\b/.exec(message)?.[1];
  if (missing !== undefined && isOid(missing)) {
    return new DirectFetchError('object-not-received', url, `server does not have object ${missing}`, { oid: missing });
  }
  return new DirectFetchError('fetch-failed', url, `server error: ${message}`);
}
