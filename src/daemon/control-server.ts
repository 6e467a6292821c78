// The daemon's end of the control socket: accepts connections on `<state root>/daemon.sock`
// (mode 0600: only the state root's owner may drive the daemon), decodes requests
// (control-protocol.ts), runs the op from the table it was given and writes the reply.

import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Log } from '../util/log.js';
import { redactUrl } from '../util/redact.js';
import { ControlError, encode, LineDecoder, parseRequest, PROTOCOL_VERSION, type ControlReply } from './control-protocol.js';

/** An operation: validates its own arguments, resolves its result (JSON-serialisable). */
export type ControlOp = (args: Record<string, unknown>) => Promise<unknown>;

/** Longest socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** A connection silent for this long is closed (longer than any op, fetch included). */
export const IDLE_TIMEOUT_MS = 10 * 60_000;

/** Connections served at once; more wait in the kernel's backlog. */
export const MAX_CONNECTIONS = 64;

export class ControlServer {
  readonly #server: Server;
  readonly #path: string;
  readonly #sockets = new Set<Socket>();
  #closing: Promise<void> | undefined;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.#path = path;
  }

  /**
   * Listens on `path`, replacing a socket file left by a daemon that died (the caller holds the
   * state root's daemon lock, so no live daemon owns it).
   */
  static async listen(path: string, ops: Readonly<Record<string, ControlOp>>, log: Log): Promise<ControlServer> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(`control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (use a shorter ARTIFACT_FS_ROOT)`);
    }
    await rm(path, { force: true });
    const server = createServer();
    server.maxConnections = MAX_CONNECTIONS;
    const self = new ControlServer(server, path);
    server.on('connection', (socket) => self.#serve(socket, ops, log));
    // The socket file is created by bind() inside listen(): a umask makes it 0600 from the start
    // (chmod afterwards would leave a window), the chmod is belt and braces.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => { server.off('error', reject); resolve(); });
      });
    } finally {
      process.umask(umask);
    }
    await chmod(path, 0o600);
    server.on('error', (err) => log('error', `control socket: ${err.message}`));
    return self;
  }

  #serve(socket: Socket, ops: Readonly<Record<string, ControlOp>>, log: Log): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {}); // a client that went away: nothing to answer
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const decoder = new LineDecoder();
    const reply = (r: ControlReply): void => { if (!socket.destroyed) socket.write(encode(r)); };
    socket.on('data', (chunk: Buffer) => {
      let values: unknown[];
      try {
        values = decoder.push(chunk);
      } catch (err) {
        reply(failure(0, err));
        socket.end();
        return;
      }
      for (const v of values) void this.#answer(v, ops, log).then(reply);
    });
  }

  async #answer(value: unknown, ops: Readonly<Record<string, ControlOp>>, log: Log): Promise<ControlReply> {
    const id = typeof (value as { id?: unknown } | null)?.id === 'number' ? (value as { id: number }).id : 0;
    try {
      if (value instanceof ControlError) throw value;
      const req = parseRequest(value);
      const op = Object.hasOwn(ops, req.op) ? ops[req.op] : undefined;
      if (!op) throw new ControlError('unknown-op', `unknown operation '${req.op}' (this daemon knows: ${Object.keys(ops).join(', ')})`);
      const t0 = performance.now();
      const result = await op(req.args);
      log('debug', 'control request', { op: req.op, ms: Math.round((performance.now() - t0) * 10) / 10 });
      return { v: PROTOCOL_VERSION, id, ok: true, result };
    } catch (err) {
      return failure(id, err);
    }
  }

  /** Stops accepting, drops open connections (their clients see the daemon go) and removes the socket file. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const s of this.#sockets) s.destroy();
      await closed;
      await rm(this.#path, { force: true });
    })());
  }
}

/** Errors become replies with a stable code; the message is one line, credentials redacted. */
function failure(id: number, err: unknown): ControlReply {
  const e = err as { code?: unknown; message?: unknown };
  const code = err instanceof ControlError ? err.code : e.code === 'usage' ? 'usage' : 'failed';
  const message = redactUrl(String(e.message ?? err)).replace(/\s*\n\s*/g, ' ');
  return { v: PROTOCOL_VERSION, id, ok: false, error: { code, message } };
}
