// The CLI ↔ daemon control protocol: JSON lines over the Unix socket `<state root>/daemon.sock`.
//
//   request  {"v":1,"id":7,"op":"status","args":{"name":"demo"}}\n
//   reply    {"v":1,"id":7,"ok":true,"result":{...}}\n
//         or {"v":1,"id":7,"ok":false,"error":{"code":"not-found","message":"no repo named 'demo'"}}\n
//
// One JSON value per line (JSON.stringify never emits a raw newline), replies carry the id of
// their request, a connection may send several requests and replies may come out of order. The
// decoder is incremental (a chunk is not a message) and bounded (MAX_LINE_BYTES).

export const PROTOCOL_VERSION = 1;

/** A line longer than this is refused and the connection closed: nothing legitimate is near it. */
export const MAX_LINE_BYTES = 1 << 20;

/** Stable error codes carried in replies (checks go by code, never by message). */
export type ControlErrorCode =
  | 'usage'        // bad arguments: the CLI exits 2
  | 'not-found'    // no such repo
  | 'unknown-op'   // the daemon has no such operation (an older daemon)
  | 'bad-request'  // malformed line or envelope
  | 'failed';      // the operation ran and failed (message says why)

export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode, message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface ControlRequest {
  v: number;
  id: number;
  op: string;
  args: Record<string, unknown>;
}

export type ControlReply =
  | { v: number; id: number; ok: true; result: unknown }
  | { v: number; id: number; ok: false; error: { code: ControlErrorCode; message: string } };

export function encode(msg: ControlRequest | ControlReply): string {
  return JSON.stringify(msg) + '\n';
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Validates a decoded request envelope (not the op's arguments: the op does that). */
export function parseRequest(value: unknown): ControlRequest {
  if (!isObject(value)) throw new ControlError('bad-request', 'a request is a JSON object');
  const { v, id, op, args = {} } = value;
  if (v !== PROTOCOL_VERSION) throw new ControlError('bad-request', `unsupported protocol version ${JSON.stringify(v)} (this daemon speaks ${PROTOCOL_VERSION})`);
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new ControlError('bad-request', 'request id must be an integer');
  if (typeof op !== 'string' || op === '') throw new ControlError('bad-request', 'request op must be a non-empty string');
  if (!isObject(args)) throw new ControlError('bad-request', 'request args must be an object');
  return { v, id, op, args };
}

export function parseReply(value: unknown): ControlReply {
  if (!isObject(value) || typeof value.id !== 'number' || typeof value.ok !== 'boolean') throw new ControlError('bad-request', 'malformed reply from the daemon');
  if (value.ok) return value as ControlReply;
  const e = value.error;
  if (!isObject(e) || typeof e.code !== 'string' || typeof e.message !== 'string') throw new ControlError('bad-request', 'malformed error reply from the daemon');
  return value as ControlReply;
}

/**
 * Splits a byte stream into JSON values, one per line. push() returns the values completed by
 * this chunk; a malformed line yields a ControlError in its place (the stream stays usable); a
 * line over MAX_LINE_BYTES throws (the peer is not speaking this protocol: drop it).
 */
export class LineDecoder {
  #parts: Buffer[] = [];
  #size = 0;

  push(chunk: Buffer): Array<unknown | ControlError> {
    const out: Array<unknown | ControlError> = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.#append(chunk.subarray(start, nl));
      out.push(this.#take());
      start = nl + 1;
    }
    if (start < chunk.length) this.#append(chunk.subarray(start));
    return out;
  }

  /** Bytes of an unfinished line (a peer that closes mid-line sent a truncated message). */
  get pending(): number {
    return this.#size;
  }

  #append(b: Buffer): void {
    this.#size += b.length;
    if (this.#size > MAX_LINE_BYTES) throw new ControlError('bad-request', `line longer than ${MAX_LINE_BYTES} bytes`);
    if (b.length) this.#parts.push(b);
  }

  #take(): unknown | ControlError {
    const text = Buffer.concat(this.#parts, this.#size).toString('utf8');
    this.#parts = [];
    this.#size = 0;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return new ControlError('bad-request', 'a line is not valid JSON');
    }
  }
}
