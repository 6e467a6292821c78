// Running `git http-backend` as a CGI script behind node:http: the request becomes the CGI
// environment and stdin, the script's stdout is a header block (`Status:`, other headers, blank
// line) followed by the body, which is streamed to the client as it comes.

import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** A header block larger than this is not git's: answer 502 rather than buffer without bound. */
const MAX_CGI_HEADER = 64 * 1024;
const STDERR_TAIL = 4096;

export interface CgiRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request body as it should reach the script (the server counts and peeks at it). */
  body: Readable;
  env: NodeJS.ProcessEnv;
  /** Called with each chunk of response body sent to the client. */
  onBytesOut: (n: number) => void;
  /** Kills the script when the server closes. */
  signal: AbortSignal;
  /** Rewrites the response body on its way out (incremental: chunks in, bytes out). */
  filter?: BodyFilter;
}

export interface BodyFilter {
  push(chunk: Buffer): Buffer;
}

/** The CGI meta-variables http-backend reads (RFC 3875 plus git's own). */
export function cgiEnv(req: IncomingMessage, pathInfo: string, query: string, remoteUser: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    GATEWAY_INTERFACE: 'CGI/1.1',
  };
  const length = req.headers['content-length'];
  if (length !== undefined) env.CONTENT_LENGTH = length;
  // http-backend inflates a gzip'ed request body itself when told so.
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined) env.HTTP_CONTENT_ENCODING = encoding;
  // Protocol v2 is negotiated by this header; http-backend passes GIT_PROTOCOL to upload-pack.
  const protocol = req.headers['git-protocol'];
  if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;
  if (remoteUser !== undefined) env.REMOTE_USER = remoteUser;
  return env;
}

/** Runs the script for one request; resolves when the response is finished or abandoned. */
export function runCgi(r: CgiRequest): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('git', ['http-backend'], { env: r.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-STDERR_TAIL); });
    const kill = (): void => { if (child.exitCode === null) child.kill('SIGKILL'); };
    r.signal.addEventListener('abort', kill, { once: true });
    r.res.on('close', kill); // client went away, or the response is done (then this is a no-op)
    child.stdin.on('error', () => {}); // the script may answer (e.g. 404) without reading the body
    r.body.pipe(child.stdin);

    const parser = new CgiHeaderParser();
    child.stdout.on('data', (chunk: Buffer) => {
      if (r.res.writableEnded) return;
      if (!parser.done) {
        const head = parser.push(chunk);
        if (head === 'too-large') return fail(r.res, 502, 'CGI header block too large', kill);
        if (head === undefined) return;
        r.res.writeHead(head.status, head.headers);
        chunk = head.rest;
      }
      if (r.filter) chunk = r.filter.push(chunk);
      if (chunk.length === 0) return;
      r.onBytesOut(chunk.length);
      if (!r.res.write(chunk)) {
        child.stdout.pause();
        r.res.once('drain', () => child.stdout.resume());
      }
    });
    child.on('close', (code) => {
      r.signal.removeEventListener('abort', kill);
      if (!r.res.headersSent) fail(r.res, 502, `http-backend exited ${code}: ${stderr.trim().split('\n').pop() ?? ''}`);
      else if (!r.res.writableEnded) r.res.end();
      resolve();
    });
    child.on('error', () => {}); // spawn failure also ends in 'close'
  });
}

function fail(res: ServerResponse, status: number, message: string, then?: () => void): void {
  if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${message}\n`);
  then?.();
}

interface CgiHead {
  status: number;
  headers: Record<string, string>;
  rest: Buffer;
}

/** Incremental: the blank line ending the header block may arrive in any chunk. */
export class CgiHeaderParser {
  #buf = Buffer.alloc(0);
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  push(chunk: Buffer): CgiHead | 'too-large' | undefined {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    const crlf = this.#buf.indexOf('\r\n\r\n');
    const lf = this.#buf.indexOf('\n\n');
    const candidates = [crlf < 0 ? -1 : crlf + 4, lf < 0 ? -1 : lf + 2].filter((n) => n >= 0);
    if (candidates.length === 0) return this.#buf.length > MAX_CGI_HEADER ? 'too-large' : undefined;
    const end = Math.min(...candidates);
    this.#done = true;
    const head = parseHeaderBlock(this.#buf.toString('latin1', 0, end));
    const rest = this.#buf.subarray(end);
    this.#buf = Buffer.alloc(0);
    return { ...head, rest };
  }
}

function parseHeaderBlock(text: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}
