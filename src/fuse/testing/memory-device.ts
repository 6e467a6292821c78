// An in-memory FuseDevice for session tests: the test plays the kernel, pushing request
// messages and reading back the replies and notifications the session wrote.

import { fuse_in_header, fuse_out_header, fuse_init_in, fuse_opcode, FUSE_KERNEL_VERSION } from '../abi.js';
import type { FuseDevice } from '../device.js';
import { errno } from '../errno.js';

export interface Reply {
  unique: bigint;
  /** Negative errno, 0 for success; for notifications, the notify code. */
  error: number;
  payload: Buffer;
}

export class MemoryDevice implements FuseDevice {
  readonly maxMessageSize = 64 * 1024;
  readonly replies: Reply[] = [];
  readonly notifications: Reply[] = [];
  #onMessage: ((msg: Buffer) => void) | undefined;
  #onEnd: ((err?: Error) => void) | undefined;
  #closed = false;
  #waiters: Array<() => void> = [];
  /** Unique ids the "kernel" considers gone (interrupted): writes to them fail with ENOENT. */
  readonly gone = new Set<bigint>();

  start(onMessage: (msg: Buffer) => void, onEnd: (err?: Error) => void): void {
    this.#onMessage = onMessage;
    this.#onEnd = onEnd;
  }
  writeReply(chunks: readonly Buffer[]): number {
    if (this.#closed) return errno.EBADF;
    const msg = Buffer.concat(chunks as Buffer[]);
    const r = parseOut(msg);
    if (this.gone.has(r.unique)) return errno.ENOENT;
    this.replies.push(r);
    for (const w of this.#waiters.splice(0)) w();
    return 0;
  }
  async writeNotify(chunks: readonly Buffer[]): Promise<number> {
    this.notifications.push(parseOut(Buffer.concat(chunks as Buffer[])));
    return 0;
  }
  close(): void {
    this.#closed = true;
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** Delivers one raw message as if read from /dev/fuse. */
  push(msg: Buffer): void {
    if (!this.#onMessage) throw new Error('device not started');
    this.#onMessage(msg);
  }
  /** Simulates unmount (the kernel's ENODEV). */
  end(err?: Error): void {
    this.#onEnd?.(err);
  }
  /** Resolves when a reply for `unique` has been written. */
  async replyFor(unique: bigint, timeoutMs = 2000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.replies.find((x) => x.unique === unique);
      if (r) return r;
      if (Date.now() > deadline) throw new Error(`no reply for ${unique}`);
      await new Promise<void>((res) => { this.#waiters.push(res); setTimeout(res, 20); });
    }
  }
}

function parseOut(msg: Buffer): Reply {
  const len = msg.readUInt32LE(fuse_out_header.o.len);
  if (len !== msg.length) throw new Error(`reply length field ${len} != ${msg.length}`);
  return {
    unique: msg.readBigUInt64LE(fuse_out_header.o.unique),
    error: msg.readInt32LE(fuse_out_header.o.error),
    payload: msg.subarray(fuse_out_header.size),
  };
}

let nextUnique = 2n;

/** Builds a kernel request message: header + body parts. Returns the message and its unique. */
export function request(opcode: number, nodeid: number, body: Buffer[] = [], opts: { unique?: bigint; uid?: number; gid?: number; pid?: number } = {}): { msg: Buffer; unique: bigint } {
  const unique = opts.unique ?? (nextUnique += 2n);
  const b = Buffer.concat(body);
  const h = Buffer.alloc(fuse_in_header.size);
  const o = fuse_in_header.o;
  h.writeUInt32LE(h.length + b.length, o.len);
  h.writeUInt32LE(opcode, o.opcode);
  h.writeBigUInt64LE(unique, o.unique);
  h.writeBigUInt64LE(BigInt(nodeid), o.nodeid);
  h.writeUInt32LE(opts.uid ?? 0, o.uid);
  h.writeUInt32LE(opts.gid ?? 0, o.gid);
  h.writeUInt32LE(opts.pid ?? 1234, o.pid);
  return { msg: Buffer.concat([h, b]), unique };
}

/** A NUL-terminated name, as the kernel sends it. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0');
}

/** The INIT request a kernel of protocol 7.`minor` would send, offering `flags`. */
export function initRequest(minor: number, flags: bigint, maxReadahead = 128 * 1024, major = FUSE_KERNEL_VERSION): { msg: Buffer; unique: bigint } {
  const L = fuse_init_in;
  const b = Buffer.alloc(minor >= 36 ? L.size : 16);
  b.writeUInt32LE(major, L.o.major);
  b.writeUInt32LE(minor, L.o.minor);
  b.writeUInt32LE(maxReadahead, L.o.max_readahead);
  b.writeUInt32LE(Number(flags & 0xffffffffn), L.o.flags);
  if (minor >= 36) b.writeUInt32LE(Number(flags >> 32n), L.o.flags2);
  return request(fuse_opcode.FUSE_INIT, 0, [b]);
}
