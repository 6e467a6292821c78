// Looking inside the pkt-line traffic the test server relays, without disturbing it: which v2
// command a request carries (for the counters), and removing one capability from an
// advertisement (to serve a repository as if object-info were not offered).

import { createGunzip } from 'node:zlib';
import { DELIM_PKT, FLUSH_PKT, PktLineDecoder, RESPONSE_END_PKT, encodePktLine, pktText, type PktLine } from '../../src/gitstore/pkt-line.js';
import type { BodyFilter } from './cgi.js';

/** Bytes of a request body looked at to find its v2 command. */
const PEEK_LIMIT = 64 * 1024;

/**
 * Finds `command=<name>` in the first pkt-lines of an upload-pack request (inflating a gzip'ed
 * body on the side), or 'fetch' for a v0 request that starts with `want`. Looks no further than
 * PEEK_LIMIT bytes and reports at most once.
 */
export class CommandPeek {
  /** The command, once known; undefined when the body ended (or the peek gave up) without one. */
  readonly command: Promise<string | undefined>;
  #decoder = new PktLineDecoder();
  #gunzip: ReturnType<typeof createGunzip> | undefined;
  #seen = 0;
  #done = false;
  #report: (cmd: string) => void;
  #settle!: (cmd: string | undefined) => void;

  constructor(gzip: boolean, report: (cmd: string) => void) {
    this.command = new Promise((resolve) => { this.#settle = resolve; });
    this.#report = (cmd) => {
      report(cmd);
      this.#settle(cmd);
    };
    if (gzip) {
      this.#gunzip = createGunzip();
      this.#gunzip.on('data', (d: Buffer) => this.#inspect(d));
      this.#gunzip.on('error', () => { this.#finish(); });
    }
  }

  push(chunk: Buffer): void {
    if (this.#done) return;
    if (this.#gunzip) this.#gunzip.write(chunk);
    else this.#inspect(chunk);
  }

  /** The request body ended: whatever is still inflating decides, then nothing will. */
  end(): void {
    if (this.#done) return;
    if (!this.#gunzip) return this.#finish();
    this.#gunzip.once('end', () => this.#finish());
    this.#gunzip.end();
  }

  #inspect(chunk: Buffer): void {
    if (this.#done) return;
    this.#seen += chunk.length;
    try {
      for (const pkt of this.#decoder.push(chunk)) {
        const text = pktText(pkt);
        if (text === undefined) continue;
        if (text.startsWith('command=')) this.#report(text.slice('command='.length));
        else if (text.startsWith('want ')) this.#report('fetch');
        else continue;
        return this.#finish();
      }
    } catch {
      return this.#finish(); // not pkt-lines: nothing to classify
    }
    if (this.#seen > PEEK_LIMIT) this.#finish();
  }

  #finish(): void {
    this.#settle(undefined); // no-op when a command was reported
    this.#done = true;
    this.#gunzip?.destroy();
    this.#gunzip = undefined;
  }
}

/** Drops one capability line from a v2 advertisement, passing every other packet unchanged. */
export class CapabilityFilter implements BodyFilter {
  #decoder = new PktLineDecoder();
  #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  push(chunk: Buffer): Buffer {
    const out = this.#decoder.push(chunk).filter((pkt) => {
      const text = pktText(pkt);
      return text !== this.#name && !text?.startsWith(`${this.#name}=`);
    });
    return Buffer.concat(out.map(encodePacket));
  }
}

function encodePacket(pkt: PktLine): Buffer {
  switch (pkt.type) {
    case 'data': return encodePktLine(pkt.payload);
    case 'flush': return FLUSH_PKT;
    case 'delim': return DELIM_PKT;
    case 'response-end': return RESPONSE_END_PKT;
  }
}
