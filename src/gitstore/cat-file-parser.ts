// Incremental parser for `git cat-file --batch` output: per request either
//   `<oid> SP <type> SP <size> LF <size bytes of content> LF`
// or `<name> SP missing LF` / `<name> SP ambiguous LF`. A chunk from the pipe is not a record: a
// header may be split anywhere, a large blob spans many chunks, and one chunk may hold the tail
// of one object and the header of the next. Content is handed on as slices of the chunks it
// arrived in, never gathered, so a 1 GB blob costs no more memory than a 1 KB one.

/** A header longer than this is not cat-file's (oid + type + size is under 100 bytes). */
const MAX_HEADER = 1024;

export class CatFileProtocolError extends Error {
  readonly code = 'cat-file-protocol';
  constructor(message: string) {
    super(message);
    this.name = 'CatFileProtocolError';
  }
}

export interface ObjectHeader {
  oid: string;
  type: string;
  size: number;
}

/** Receives each record in order. For an object: header, body* (only when size > 0), end. */
export interface CatFileSink {
  header(h: ObjectHeader): void;
  /** `reason` is what cat-file printed after the name. */
  missing(name: string, reason: 'missing' | 'ambiguous'): void;
  body(chunk: Buffer): void;
  end(): void;
}

type State = 'header' | 'body' | 'trailer';

export class CatFileParser {
  #sink: CatFileSink;
  #state: State = 'header';
  #header: Buffer[] = [];
  #headerBytes = 0;
  #remaining = 0;

  constructor(sink: CatFileSink) {
    this.#sink = sink;
  }

  /** True between records (nothing partial buffered). */
  get idle(): boolean {
    return this.#state === 'header' && this.#headerBytes === 0;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#state === 'header') pos = this.#readHeader(chunk, pos);
      else if (this.#state === 'body') pos = this.#readBody(chunk, pos);
      else pos = this.#readTrailer(chunk, pos);
    }
  }

  #readHeader(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(0x0a, pos);
    const end = lf < 0 ? chunk.length : lf;
    this.#headerBytes += end - pos;
    if (this.#headerBytes > MAX_HEADER) throw new CatFileProtocolError('cat-file header too long');
    this.#header.push(chunk.subarray(pos, end));
    if (lf < 0) return chunk.length;
    const line = Buffer.concat(this.#header).toString('utf8');
    this.#header = [];
    this.#headerBytes = 0;
    this.#onHeaderLine(line);
    return lf + 1;
  }

  #onHeaderLine(line: string): void {
    const last = line.lastIndexOf(' ');
    const tail = line.slice(last + 1);
    if (last > 0 && (tail === 'missing' || tail === 'ambiguous')) {
      this.#sink.missing(line.slice(0, last), tail);
      return;
    }
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) ([a-z]+) (\d{1,15})$/.exec(line);
    if (!m) throw new CatFileProtocolError(`unexpected cat-file header ${JSON.stringify(line.slice(0, 120))}`);
    const size = Number(m[3]);
    this.#sink.header({ oid: m[1]!, type: m[2]!, size });
    if (size === 0) {
      this.#sink.end();
      this.#state = 'trailer';
    } else {
      this.#remaining = size;
      this.#state = 'body';
    }
  }

  #readBody(chunk: Buffer, pos: number): number {
    const n = Math.min(this.#remaining, chunk.length - pos);
    this.#remaining -= n;
    this.#sink.body(chunk.subarray(pos, pos + n));
    if (this.#remaining === 0) {
      this.#state = 'trailer';
      this.#sink.end();
    }
    return pos + n;
  }

  #readTrailer(chunk: Buffer, pos: number): number {
    if (chunk[pos] !== 0x0a) throw new CatFileProtocolError('cat-file content not followed by a newline');
    this.#state = 'header';
    return pos + 1;
  }
}
