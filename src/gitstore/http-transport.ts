// Protocol v2 over smart HTTP (gitprotocol-http(5)): the advertisement is
// `GET <url>/info/refs?service=git-upload-pack`, each command one
// `POST <url>/git-upload-pack`; `Git-Protocol: version=2` on both selects v2.
// Connections are pooled (keep-alive) because batched object-info requests follow each other.

import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import {
  DEFAULT_REMOTE_TIMEOUT_MS,
  RemoteError,
  parseAdvertisement,
  type Capabilities,
  type RemoteTransport,
  type RemoteTransportOptions,
  type RequestOptions,
} from './remote-protocol.js';
import { raceSignal, withTimeout, type Exchange } from './signals.js';
import { ambientAuthorization } from './credential-helper.js';

const ADVERTISEMENT_TYPE = 'application/x-git-upload-pack-advertisement';
const REQUEST_TYPE = 'application/x-git-upload-pack-request';
const RESULT_TYPE = 'application/x-git-upload-pack-result';
/** Sockets per remote: object-info batches run a few in parallel, never more than this. */
const MAX_SOCKETS = 8;

/** `baseUrl` has no credentials and no trailing slash; `opts.authorization` carries them. */
export function createHttpTransport(baseUrl: string, opts: RemoteTransportOptions): RemoteTransport {
  return new HttpTransport(baseUrl, opts);
}

class HttpTransport implements RemoteTransport {
  readonly url: string;
  #authorization: string | undefined;
  /** No credentials were given: after a 401, ask git's ambient credential helpers once. */
  #ambient: Promise<string | undefined> | undefined;
  readonly #mayUseAmbient: boolean;
  #timeoutMs: number;
  #agent: http.Agent;
  #caps: Promise<Capabilities> | undefined;
  #closed = false;

  constructor(baseUrl: string, opts: RemoteTransportOptions) {
    this.url = baseUrl;
    this.#authorization = opts.authorization;
    this.#mayUseAmbient = opts.authorization === undefined;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
    const AgentClass = baseUrl.startsWith('https:') ? https.Agent : http.Agent;
    this.#agent = new AgentClass({ keepAlive: true, maxSockets: MAX_SOCKETS });
  }

  capabilities(opts: RequestOptions = {}): Promise<Capabilities> {
    // Shared by concurrent callers, so it runs under our timeout only; each caller still stops
    // waiting when its own signal aborts. A failure is forgotten so the next call retries.
    this.#caps ??= this.#advertise().catch((err: unknown) => {
      this.#caps = undefined;
      throw err;
    });
    return raceSignal(this.#caps, opts.signal);
  }

  async command(body: Buffer, opts: RequestOptions = {}): Promise<AsyncIterable<Buffer>> {
    const ex = withTimeout(this.#timeoutMs, opts.signal);
    const res = await this.#send('POST', `${this.url}/git-upload-pack`, ex, body, {
      'Content-Type': REQUEST_TYPE,
      Accept: RESULT_TYPE,
      'Content-Length': String(body.length),
    });
    this.#expectType(res, RESULT_TYPE);
    return guardBody(res, this.url, ex);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent.destroy();
  }

  async #advertise(): Promise<Capabilities> {
    const ex = withTimeout(this.#timeoutMs);
    const res = await this.#send('GET', `${this.url}/info/refs?service=git-upload-pack`, ex, undefined, {
      Accept: '*/*',
      Pragma: 'no-cache',
    });
    this.#expectType(res, ADVERTISEMENT_TYPE);
    return parseAdvertisement(guardBody(res, this.url, ex), this.url);
  }

  async #send(method: 'GET' | 'POST', target: string, ex: Exchange, body: Buffer | undefined, headers: Record<string, string>): Promise<IncomingMessage> {
    try {
      return await this.#sendOnce(method, target, ex, body, headers);
    } catch (err) {
      if (!(err instanceof RemoteError) || err.status !== 401 || !this.#mayUseAmbient) throw err;
      // What git would do: ask the configured credential helpers (never a prompt), once.
      this.#ambient ??= ambientAuthorization(this.url);
      const auth = await this.#ambient;
      if (auth === undefined) throw err;
      this.#authorization = auth;
      return this.#sendOnce(method, target, ex, body, headers);
    }
  }

  #sendOnce(method: 'GET' | 'POST', target: string, ex: Exchange, body: Buffer | undefined, headers: Record<string, string>): Promise<IncomingMessage> {
    if (this.#closed) return Promise.reject(new RemoteError('remote-error', this.url, 'transport is closed'));
    const all: Record<string, string> = { 'Git-Protocol': 'version=2', 'User-Agent': 'git/artifact-fs', ...headers };
    if (this.#authorization !== undefined) all.Authorization = this.#authorization;
    const mod = target.startsWith('https:') ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(target, { method, headers: all, agent: this.#agent, signal: ex.signal });
      req.on('error', (err) => reject(wrapError(err, this.url, ex)));
      req.on('response', (res) => {
        if (res.statusCode === 200) return resolve(res);
        res.resume(); // drain so the socket goes back to the pool
        const status = res.statusCode ?? 0;
        const path = new URL(target).pathname;
        reject(new RemoteError('remote-error', this.url, `HTTP ${status} ${res.statusMessage ?? ''} for ${method} ${path}`.trim(), status));
      });
      req.end(body);
    });
  }

  /** A dumb HTTP server or a proxy's HTML page answers 200 too; only git's types are accepted. */
  #expectType(res: IncomingMessage, expected: string): void {
    const type = res.headers['content-type'] ?? '';
    if (type.split(';')[0]?.trim() === expected) return;
    res.destroy();
    throw new RemoteError('protocol-error', this.url, `expected ${expected}, got ${JSON.stringify(type)} (not a smart HTTP git server?)`);
  }
}

/** Maps transport failures to RemoteError; the caller's own abort stays an AbortError. */
function wrapError(err: unknown, url: string, ex: Exchange): unknown {
  if (err instanceof RemoteError) return err;
  if (ex.timedOut()) return new RemoteError('remote-timeout', url, 'remote did not answer in time');
  if (ex.signal.aborted) return ex.signal.reason ?? err;
  const code = (err as { code?: unknown }).code;
  return new RemoteError('remote-error', url, `request failed: ${typeof code === 'string' ? code : (err as Error).message}`);
}

async function* guardBody(res: IncomingMessage, url: string, ex: Exchange): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of res) yield chunk as Buffer;
  } catch (err) {
    throw wrapError(err, url, ex);
  } finally {
    // A consumer that stops early must not leave a half-read response on a pooled socket.
    if (!res.complete) res.destroy();
  }
}
