// Git's pkt-line framing (gitprotocol-common(5)): four hex digits of length (the length counts
// itself) then the payload; `0000` flush, `0001` delimiter and `0002` response-end are bare
// control packets. Lengths 0004..65520 carry data; 0003 and below (other than the three
// controls) are invalid. The decoder is incremental: a chunk from a socket or a pipe is not a
// packet, so it keeps whatever is left of a packet until the next chunk arrives.

/** Largest packet git accepts, header included (LARGE_PACKET_MAX). */
export const PKT_MAX_LENGTH = 65520;
/** Largest payload of one data packet. */
export const PKT_MAX_PAYLOAD = PKT_MAX_LENGTH - 4;

export const FLUSH_PKT = Buffer.from('0000', 'latin1');
export const DELIM_PKT = Buffer.from('0001', 'latin1');
export const RESPONSE_END_PKT = Buffer.from('0002', 'latin1');

export type PktLine =
  | { readonly type: 'data'; readonly payload: Buffer }
  | { readonly type: 'flush' }
  | { readonly type: 'delim' }
  | { readonly type: 'response-end' };

/** Control packets by their length value; one table for the decoder and for tests. */
const CONTROL_PACKETS: ReadonlyMap<number, PktLine> = new Map<number, PktLine>([
  [0, { type: 'flush' }],
  [1, { type: 'delim' }],
  [2, { type: 'response-end' }],
]);

export class PktLineError extends Error {
  readonly code = 'pkt-line-invalid';
  constructor(message: string) {
    super(message);
    this.name = 'PktLineError';
  }
}

/** One data packet; a string payload is written as UTF-8 (callers add the `\n` git expects). */
export function encodePktLine(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > PKT_MAX_PAYLOAD) {
    throw new PktLineError(`pkt-line payload of ${body.length} bytes exceeds ${PKT_MAX_PAYLOAD}`);
  }
  const header = Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'latin1');
  return Buffer.concat([header, body]);
}

/** A data packet's payload as text without its trailing newline (git's text packets end in LF). */
export function pktText(line: PktLine): string | undefined {
  if (line.type !== 'data') return undefined;
  const p = line.payload;
  const end = p.length > 0 && p[p.length - 1] === 0x0a ? p.length - 1 : p.length;
  return p.toString('utf8', 0, end);
}

const HEX_DIGIT = /^[0-9a-fA-F]{4}$/;

/**
 * Incremental decoder. `push()` returns every packet completed by the chunk; `end()` throws if
 * the stream stopped in the middle of one. Invalid input throws PktLineError and leaves the
 * decoder unusable (a framing error cannot be resynchronised).
 */
export class PktLineDecoder {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes the buffered partial packet needs before decoding is worth trying again. */
  #need = 4;
  #failed = false;

  push(chunk: Buffer): PktLine[] {
    if (this.#failed) throw new PktLineError('pkt-line decoder used after a framing error');
    if (chunk.length === 0) return [];
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    // Many small chunks of one large packet: gather them without re-concatenating each time.
    if (this.#pendingBytes < this.#need) return [];
    const buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
    const out: PktLine[] = [];
    let pos = 0;
    try {
      pos = this.#decodeFrom(buf, out);
    } catch (err) {
      this.#failed = true;
      throw err;
    }
    const rest = buf.subarray(pos);
    // Copy the tail so a large chunk is not kept alive by a few leftover bytes.
    this.#pending = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.#pendingBytes = rest.length;
    this.#need = rest.length >= 4 ? parseInt(rest.toString('latin1', 0, 4), 16) : 4;
    return out;
  }

  /** True when no partial packet is buffered. */
  get idle(): boolean {
    return this.#pendingBytes === 0;
  }

  end(): void {
    if (this.#pendingBytes > 0) {
      throw new PktLineError(`stream ended inside a pkt-line (${this.#pendingBytes} bytes left)`);
    }
  }

  #decodeFrom(buf: Buffer, out: PktLine[]): number {
    let pos = 0;
    while (buf.length - pos >= 4) {
      const header = buf.toString('latin1', pos, pos + 4);
      if (!HEX_DIGIT.test(header)) throw new PktLineError(`bad pkt-line length ${JSON.stringify(header)}`);
      const len = parseInt(header, 16);
      const control = CONTROL_PACKETS.get(len);
      if (control) {
        out.push(control);
        pos += 4;
        continue;
      }
      if (len < 4 || len > PKT_MAX_LENGTH) throw new PktLineError(`bad pkt-line length ${len}`);
      if (buf.length - pos < len) break;
      // subarray, not copy: the payload shares the chunk, which is not reused by the producer.
      out.push({ type: 'data', payload: buf.subarray(pos + 4, pos + len) });
      pos += len;
    }
    return pos;
  }
}

/** Decodes a whole byte stream (an HTTP body, a child's stdout) into packets as they complete. */
export async function* readPktLines(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<PktLine> {
  const decoder = new PktLineDecoder();
  for await (const chunk of source) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    yield* decoder.push(buf);
  }
  decoder.end();
}
