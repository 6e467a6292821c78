// A real smart-HTTP git server for tests and benchmarks: `git http-backend` (CGI) behind node:http
// on 127.0.0.1:0, with the knobs the daemon's behaviour is measured against: added latency per
// request (a WAN round trip), basic auth, a gate that holds requests until released, pushes
// (receive-pack), and counters of requests, bytes and protocol v2 commands. Upload-pack config is
// passed through GIT_CONFIG_* env, so one repository can be served with and without object-info at
// once.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { cgiEnv, runCgi } from './cgi.js';
import { CapabilityFilter, CommandPeek } from './pkt-inspect.js';

export interface GitServerOptions {
  /** Directory holding bare repositories, served as `/<name>.git` (or `/<name>`). */
  root: string;
  /**
   * Offer protocol v2 `object-info`. Default true. Sets transfer.advertiseObjectInfo, which newer
   * git reads; git 2.39 ignores it and always advertises object-info, so with `false` this server
   * also removes it from the advertisement and refuses the command itself.
   */
  objectInfo?: boolean;
  /** Delay added before answering each request (ms). Default 0. */
  latencyMs?: number;
  /** Require these basic-auth credentials (401 + WWW-Authenticate otherwise). */
  basicAuth?: { user: string; password: string };
  /**
   * Accept pushes: http-backend serves receive-pack only when `http.receivepack` is true (without
   * it, only to authenticated users). Default true.
   */
  receivePack?: boolean;
  /** More upload-pack config for this server only. */
  config?: Record<string, string>;
}

export interface GitServerStats {
  requests: number;
  /** Response body bytes sent (after the CGI header block). */
  bytesOut: number;
  /** Request body bytes received, as sent (compressed when the client gzip'ed). */
  bytesIn: number;
  /** 'GET info/refs', 'POST git-upload-pack', … → count. */
  byPath: Map<string, number>;
  /** Protocol v2 commands by name ('fetch', 'ls-refs', 'object-info'); v0 fetches count as 'fetch'. */
  byCommand: Map<string, number>;
  objectInfoRequests: number;
  fetchRequests: number;
  /** Pushes: POST git-receive-pack requests (a push's ref advertisement is a GET, not counted). */
  pushRequests: number;
}

export interface GitServer {
  readonly port: number;
  readonly stats: GitServerStats;
  /** `http://127.0.0.1:PORT/<name>.git` (a name already ending in .git is kept). */
  url(name: string): string;
  /** From now on, requests wait (after being counted) until release(). */
  hold(): void;
  release(): void;
  /** Requests currently waiting at the gate. */
  readonly heldCount: number;
  /** Resolves once at least `n` requests wait at the gate; rejects after `timeoutMs`. */
  waitForHeld(n: number, timeoutMs?: number): Promise<void>;
  setLatency(ms: number): void;
  /** From now on every request is answered with this HTTP status (a broken server); undefined heals it. */
  failWith(status: number | undefined): void;
  resetStats(): void;
  /** Stops listening, kills running CGI processes, fails held requests. Idempotent. */
  close(): Promise<void>;
}

/** Config every served repository gets: what a partial clone and the hydrator need. */
const BASE_CONFIG: Readonly<Record<string, string>> = {
  'uploadpack.allowFilter': 'true',
  'uploadpack.allowAnySHA1InWant': 'true',
  'uploadpack.allowReachableSHA1InWant': 'true',
};

function emptyStats(): GitServerStats {
  return { requests: 0, bytesOut: 0, bytesIn: 0, byPath: new Map(), byCommand: new Map(), objectInfoRequests: 0, fetchRequests: 0, pushRequests: 0 };
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const server = new TestGitServer(opts);
  await server.listen();
  return server;
}

class TestGitServer implements GitServer {
  stats = emptyStats();
  #opts: GitServerOptions;
  #latencyMs: number;
  #http: Server;
  #closing = new AbortController();
  #closed: Promise<void> | undefined;
  #gate: { promise: Promise<void>; open: () => void } | undefined;
  #held = 0;
  #failStatus: number | undefined;
  #heldWaiters = new Set<() => void>();
  #env: NodeJS.ProcessEnv;

  constructor(opts: GitServerOptions) {
    this.#opts = opts;
    this.#latencyMs = opts.latencyMs ?? 0;
    this.#env = serverEnv(opts);
    this.#http = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`${(err as Error).message}\n`);
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(0, '127.0.0.1', () => resolve());
    });
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.port}/${name.endsWith('.git') ? name : `${name}.git`}`;
  }

  hold(): void {
    if (this.#gate) return;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => { open = resolve; });
    this.#gate = { promise, open };
  }

  release(): void {
    this.#gate?.open();
    this.#gate = undefined;
  }

  get heldCount(): number {
    return this.#held;
  }

  waitForHeld(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.#held >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#heldWaiters.delete(check);
        reject(new Error(`timed out waiting for ${n} held requests (have ${this.#held})`));
      }, timeoutMs);
      const check = (): void => {
        if (this.#held < n) return;
        clearTimeout(timer);
        this.#heldWaiters.delete(check);
        resolve();
      };
      this.#heldWaiters.add(check);
    });
  }

  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  failWith(status: number | undefined): void {
    this.#failStatus = status;
  }

  resetStats(): void {
    this.stats = emptyStats();
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#closing.abort(new Error('git server closed'));
      this.#http.close(() => resolve());
      this.#http.closeAllConnections();
    });
    return this.#closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const pathInfo = decodeURIComponent(url.pathname);
    this.#count(req, pathInfo);
    if (this.#failStatus !== undefined) {
      req.resume();
      res.writeHead(this.#failStatus, { 'Content-Type': 'text/plain' });
      res.end('server failure injected by the test\n');
      return;
    }
    const user = this.#authenticate(req);
    if (user === false) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const { body, command } = this.#tapBody(req);
    await this.#waitAtGate();
    if (this.#latencyMs > 0) await delay(this.#latencyMs, undefined, { signal: this.#closing.signal });
    if (this.#opts.objectInfo === false && req.method === 'POST' && (await command) === 'object-info') {
      // What newer git does for an unadvertised command: upload-pack dies, no answer.
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end("upload-pack: invalid command 'object-info'\n");
      return;
    }
    const env = { ...this.#env, ...cgiEnv(req, pathInfo, url.search.slice(1), user) };
    const filter = this.#opts.objectInfo === false && pathInfo.endsWith('/info/refs') ? new CapabilityFilter('object-info') : undefined;
    await runCgi({ req, res, body, env, filter, signal: this.#closing.signal, onBytesOut: (n) => { this.stats.bytesOut += n; } });
  }

  #count(req: IncomingMessage, pathInfo: string): void {
    this.stats.requests++;
    // '/repo.git/info/refs' → 'info/refs'; the repository name is not part of the key.
    const service = /\/(info\/refs|git-upload-pack|git-receive-pack|HEAD|objects\/.*)$/.exec(pathInfo)?.[1] ?? pathInfo;
    const key = `${req.method ?? 'GET'} ${service}`;
    this.stats.byPath.set(key, (this.stats.byPath.get(key) ?? 0) + 1);
    if (key === 'POST git-receive-pack') this.stats.pushRequests++;
  }

  /** The user name when the request may proceed; false for a 401. */
  #authenticate(req: IncomingMessage): string | undefined | false {
    const auth = this.#opts.basicAuth;
    if (!auth) return undefined;
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(\S+)$/i.exec(header);
    if (!m) return false;
    const given = Buffer.from(m[1]!, 'base64');
    const expected = Buffer.from(`${auth.user}:${auth.password}`);
    return given.length === expected.length && timingSafeEqual(given, expected) ? auth.user : false;
  }

  /** Counts the body's bytes and classifies its v2 command, passing it on unchanged. */
  #tapBody(req: IncomingMessage): { body: PassThrough; command: Promise<string | undefined> } {
    const body = new PassThrough();
    const peek = new CommandPeek(req.headers['content-encoding'] === 'gzip', (cmd) => this.#countCommand(cmd));
    req.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
      peek.push(chunk);
    });
    req.on('end', () => peek.end());
    req.on('close', () => peek.end());
    req.pipe(body);
    return { body, command: peek.command };
  }

  #countCommand(cmd: string): void {
    this.stats.byCommand.set(cmd, (this.stats.byCommand.get(cmd) ?? 0) + 1);
    if (cmd === 'object-info') this.stats.objectInfoRequests++;
    if (cmd === 'fetch') this.stats.fetchRequests++;
  }

  async #waitAtGate(): Promise<void> {
    const gate = this.#gate;
    if (!gate) return;
    this.#held++;
    for (const check of [...this.#heldWaiters]) check();
    const closing = this.#closing.signal;
    let onClose: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        if (closing.aborted) return reject(closing.reason);
        onClose = () => reject(closing.reason);
        closing.addEventListener('abort', onClose, { once: true });
        gate.promise.then(resolve, reject);
      });
    } finally {
      this.#held--;
      if (onClose) closing.removeEventListener('abort', onClose);
    }
  }
}

/** A clean environment for http-backend: no user or system config, the server's config as env. */
function serverEnv(opts: GitServerOptions): NodeJS.ProcessEnv {
  const config: Record<string, string> = {
    ...BASE_CONFIG,
    'transfer.advertiseObjectInfo': String(opts.objectInfo ?? true),
    'http.receivepack': String(opts.receivePack ?? true),
    ...opts.config,
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: opts.root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_COUNT: String(Object.keys(config).length),
  };
  Object.entries(config).forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}
