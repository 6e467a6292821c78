// Protocol v2 over a stateless transport, independent of how bytes travel (gitprotocol-v2(5)):
// the transport interface, its errors, request encoding and advertisement parsing. The two
// transports (http-transport.ts, local-transport.ts) and the factory (remote-transport.ts) build
// on this file; it imports none of them.

import { DELIM_PKT, FLUSH_PKT, encodePktLine, pktText, readPktLines } from './pkt-line.js';
import { redactUrl } from '../util/redact.js';

export type RemoteErrorCode =
  /** The server answered with an HTTP error, or upload-pack exited non-zero / sent ERR. */
  | 'remote-error'
  /** The answer was not the protocol v2 we asked for (dumb server, v0 only, garbage). */
  | 'protocol-error'
  /** Our per-request timeout fired (the caller's own abort stays an AbortError). */
  | 'remote-timeout'
  /** A URL scheme we cannot speak without git (ssh://, git://). */
  | 'transport-unsupported'
  /** The server does not advertise `object-info` (non-git servers; newer git unless transfer.advertiseObjectInfo). */
  | 'object-info-unsupported';

export class RemoteError extends Error {
  readonly code: RemoteErrorCode;
  /** The URL with credentials removed: safe to print. */
  readonly url: string;
  /** HTTP status when the server answered with one. */
  readonly status: number | undefined;
  constructor(code: RemoteErrorCode, url: string, message: string, status?: number) {
    const safeUrl = redactUrl(url);
    super(`${redactUrl(message)} (${safeUrl})`);
    this.name = 'RemoteError';
    this.code = code;
    this.url = safeUrl;
    this.status = status;
  }
}

/** The v2 capability advertisement: `object-info` → true, `fetch` → 'shallow wait-for-done filter'. */
export interface Capabilities {
  readonly capabilities: ReadonlyMap<string, string | true>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** A stateless protocol v2 connection to one remote repository's upload-pack. */
export interface RemoteTransport {
  /** The remote's URL without credentials. */
  readonly url: string;
  /** The capability advertisement; fetched once, then cached (a failure is not cached). */
  capabilities(opts?: RequestOptions): Promise<Capabilities>;
  /**
   * Sends one encoded v2 command (see encodeCommand) and resolves when the response starts;
   * the body is a stream of raw bytes for a pkt-line decoder. The caller must consume it or
   * abort its signal. A failure found at the end (upload-pack exit status) is thrown by the
   * iterator.
   */
  command(body: Buffer, opts?: RequestOptions): Promise<AsyncIterable<Buffer>>;
  /** Releases pooled connections. Idempotent. */
  close(): void;
}

export interface RemoteTransportOptions {
  /** HTTP Authorization header value (`Basic …`, `Bearer …`). Never logged. */
  authorization?: string;
  /** Bound for each exchange, request and whole response (ms). Default 120 000. */
  timeoutMs?: number;
  /** Local transport only: extra environment for `git upload-pack` (e.g. GIT_CONFIG_*). */
  env?: Record<string, string>;
  /** Local transport only: git config for upload-pack, passed through GIT_CONFIG_* env. */
  config?: Record<string, string>;
}

export const DEFAULT_REMOTE_TIMEOUT_MS = 120_000;

/**
 * One v2 request: `command=<name>`, capability lines, delimiter, arguments, flush
 * (gitprotocol-v2(5) "Command Request").
 */
export function encodeCommand(command: string, caps: readonly string[], args: readonly string[]): Buffer {
  const parts: Buffer[] = [encodePktLine(`command=${command}\n`)];
  for (const c of caps) parts.push(encodePktLine(`${c}\n`));
  parts.push(DELIM_PKT);
  for (const a of args) parts.push(encodePktLine(`${a}\n`));
  parts.push(FLUSH_PKT);
  return Buffer.concat(parts);
}

/**
 * Parses a v2 advertisement: `version 2`, then `key[=value]` lines up to a flush. A smart-HTTP
 * server may first send `# service=git-upload-pack` and a flush (git http-backend does not for v2,
 * other servers do); that preamble is skipped.
 */
export async function parseAdvertisement(body: AsyncIterable<Buffer>, url: string): Promise<Capabilities> {
  const capabilities = new Map<string, string | true>();
  let sawVersion = false;
  let inPreamble = false;
  for await (const pkt of readPktLines(body)) {
    const text = pktText(pkt);
    if (!sawVersion) {
      if (text?.startsWith('# service=')) { inPreamble = true; continue; }
      if (pkt.type === 'flush' && inPreamble) { inPreamble = false; continue; }
      if (text !== 'version 2') {
        throw new RemoteError('protocol-error', url, 'server does not speak git protocol v2');
      }
      sawVersion = true;
      continue;
    }
    if (pkt.type === 'flush') return { capabilities };
    if (text === undefined) throw new RemoteError('protocol-error', url, `unexpected ${pkt.type} packet in capabilities`);
    const eq = text.indexOf('=');
    if (eq < 0) capabilities.set(text, true);
    else capabilities.set(text.slice(0, eq), text.slice(eq + 1));
  }
  throw new RemoteError('protocol-error', url, 'capability advertisement ended without a flush');
}

/**
 * The capability lines a request carries: the object format the server uses (a SHA-256
 * repository rejects requests without it) and who we are.
 */
export function requestCapabilities(adv: Capabilities): string[] {
  const caps = ['agent=artifact-fs'];
  const format = adv.capabilities.get('object-format');
  if (typeof format === 'string') caps.push(`object-format=${format}`);
  return caps;
}
