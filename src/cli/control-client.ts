// The CLI's end of the control socket: one request, one reply. "No daemon" (no socket file, or
// a socket file nobody listens on: a daemon that died) is an answer, not an error: the caller
// then acts on the registry and says so. A daemon that is there but fails, or does not answer in
// time, is an error (acting on the registry behind its back could do the work twice).

import { connect } from 'node:net';
import { ControlError, encode, LineDecoder, parseReply, PROTOCOL_VERSION } from '../daemon/control-protocol.js';
import { UsageError } from '../daemon/repo-spec.js';

export type DaemonAnswer =
  | { reached: true; result: unknown }
  | { reached: false; reason: string };

/** How long a reply may take: status is quick; fetch waits for the network (bounded by the daemon's fetch timeout). */
export const REPLY_TIMEOUT_MS: Readonly<Record<string, number>> = { status: 10_000, fetch: 6 * 60_000 };
export const DEFAULT_REPLY_TIMEOUT_MS = 120_000;

/** Socket errors that mean nobody serves the socket. */
const NO_DAEMON: Readonly<Record<string, string>> = {
  ENOENT: 'no daemon is running',
  ECONNREFUSED: 'no daemon is running (stale control socket)',
  ENOTSOCK: 'no daemon is running (the control socket path is not a socket)',
};

let nextId = 1;

export function askDaemon(socketPath: string, op: string, args: Record<string, unknown>, timeoutMs = REPLY_TIMEOUT_MS[op] ?? DEFAULT_REPLY_TIMEOUT_MS): Promise<DaemonAnswer> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const socket = connect(socketPath);
    const decoder = new LineDecoder();
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`the daemon did not answer '${op}' within ${Math.round(timeoutMs / 1000)} s`))), timeoutMs);
    socket.on('connect', () => socket.write(encode({ v: PROTOCOL_VERSION, id, op, args })));
    socket.on('error', (err: NodeJS.ErrnoException) => settle(() => {
      const none = NO_DAEMON[err.code ?? ''];
      if (none) resolve({ reached: false, reason: none });
      else reject(new Error(`cannot reach the daemon at ${socketPath}: ${err.code ?? err.message}`));
    }));
    socket.on('close', () => settle(() => reject(new Error(`the daemon closed the connection before answering '${op}' (is it stopping?)`))));
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const v of decoder.push(chunk)) {
          if (v instanceof ControlError) throw v;
          const reply = parseReply(v);
          if (reply.id !== id) continue;
          if (reply.ok) settle(() => resolve({ reached: true, result: reply.result }));
          else settle(() => reject(reply.error.code === 'usage' ? new UsageError(reply.error.message) : new ControlError(reply.error.code, reply.error.message)));
        }
      } catch (err) {
        settle(() => reject(err));
      }
    });
  });
}

/** Tells the user the daemon was not there and what was done instead. */
export function noDaemonNote(reason: string, what: string): void {
  process.stderr.write(`artifact-fs: ${reason}; ${what}\n`);
}
