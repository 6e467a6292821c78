// A FUSE session: reads kernel requests from a device, dispatches them through the opcode table
// to a handler, writes replies, and sends invalidation notifications. Knows nothing about what
// the filesystem contains.
//
// Lifecycle: 'new' → start() → 'running' (INIT agreed: `ready` resolves) → 'ended' when the
// device reports the connection gone (unmount) or destroy() is called. `closed` resolves then.
// In-flight async requests get their signal aborted at the end; their late replies are dropped.

import { fuse_in_header, fuse_interrupt_in, fuse_notify_code, fuse_notify_delete_out,
  fuse_notify_inval_entry_out, fuse_notify_inval_inode_out, fuse_opcode, fuse_out_header,
  FUSE_EXPIRE_ONLY, FUSE_HAS_EXPIRE_ONLY, FUSE_SETXATTR_EXT } from './abi.js';
import { DecodeError, InvalidNameError, Reader, decodeInHeader, encodeOutHeader, writeI64, writeU64 } from './codec.js';
import type { FuseDevice } from './device.js';
import { MAX_WRITE } from './device.js';
import { errno, toErrno } from './errno.js';
import type { FuseHandler, RequestContext } from './handler.js';
import { decodeInitIn, negotiateInit, type InitOptions } from './init.js';
import { OPCODE_NAMES, OPS_BY_OPCODE, type Negotiated, type OpRow, type Payload } from './opcodes.js';
import type { ConnectionInfo } from './types.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

export interface SessionOptions {
  init?: InitOptions;
  /** One line per event; defaults to warn/error on stderr. */
  log?: Logger;
}

export type SessionState = 'new' | 'running' | 'ended';

const defaultLog: Logger = (level, message) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`fuse ${level}: ${message}\n`);
};

class Context implements RequestContext {
  #controller: AbortController | undefined;
  #aborted = false;
  constructor(
    readonly unique: bigint,
    readonly uid: number,
    readonly gid: number,
    readonly pid: number,
  ) {}
  /** Created on first use: most requests never look at their signal. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }
  abort(): void {
    this.#aborted = true;
    this.#controller?.abort();
  }
}

export class Session {
  readonly #device: FuseDevice;
  readonly #handler: FuseHandler;
  readonly #log: Logger;
  readonly #initOptions: InitOptions;
  #state: SessionState = 'new';
  #info: ConnectionInfo | undefined;
  #neg: Negotiated = { minor: 0, setxattrExt: false };
  /** Requests whose handler is still working, by unique; INTERRUPT looks here. */
  readonly #inflight = new Map<bigint, Context>();
  /** Requests served per opcode name (cheap counters for tests and status). */
  readonly counts = new Map<string, number>();
  #resolveReady!: (info: ConnectionInfo) => void;
  #rejectReady!: (err: Error) => void;
  #resolveClosed!: () => void;
  readonly ready: Promise<ConnectionInfo>;
  readonly closed: Promise<void>;
  #endError: Error | undefined;

  constructor(device: FuseDevice, handler: FuseHandler, options: SessionOptions = {}) {
    this.#device = device;
    this.#handler = handler;
    this.#log = options.log ?? defaultLog;
    this.#initOptions = options.init ?? {};
    this.ready = new Promise((res, rej) => { this.#resolveReady = res; this.#rejectReady = rej; });
    this.ready.catch(() => {}); // observed through closed/ready by callers that care
    this.closed = new Promise((res) => { this.#resolveClosed = res; });
  }

  get state(): SessionState { return this.#state; }
  get info(): ConnectionInfo | undefined { return this.#info; }
  /** Why the session ended, when it was not a clean unmount. */
  get endError(): Error | undefined { return this.#endError; }

  start(): void {
    if (this.#state !== 'new') throw new Error(`session already ${this.#state}`);
    this.#state = 'running';
    this.#device.start((msg) => this.#onMessage(msg), (err) => this.#end(err));
  }

  /** Ends the session now: aborts in-flight requests and closes the device. Idempotent. */
  destroy(err?: Error): void {
    this.#end(err);
  }

  #end(err?: Error): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endError = err;
    for (const ctx of this.#inflight.values()) ctx.abort();
    this.#inflight.clear();
    this.#device.close();
    this.#rejectReady(err ?? new Error('FUSE connection ended before INIT'));
    if (err) this.#log('error', `session ended: ${err.message}`);
    this.#resolveClosed();
  }

  #onMessage(msg: Buffer): void {
    let h;
    try {
      h = decodeInHeader(msg);
    } catch (err) {
      // Without a trustworthy header there is no unique to answer; drop it.
      this.#log('warn', `dropped malformed request: ${(err as Error).message}`);
      if (msg.length >= fuse_in_header.size) this.#replyError(msg.readBigUInt64LE(fuse_in_header.o.unique), errno.EIO);
      return;
    }
    const body = new Reader(msg, fuse_in_header.size, Math.max(fuse_in_header.size, msg.length - h.extlen));
    const ctx = new Context(h.unique, h.uid, h.gid, h.pid);
    switch (h.opcode) {
      case fuse_opcode.FUSE_INIT: return this.#onInit(h.unique, body);
      case fuse_opcode.FUSE_INTERRUPT: return this.#onInterrupt(body);
      case fuse_opcode.FUSE_DESTROY: return void this.#onDestroy(h.unique);
    }
    const row = OPS_BY_OPCODE.get(h.opcode);
    if (!row || !this.#info) {
      if (!row) this.#log('debug', `unsupported opcode ${OPCODE_NAMES.get(h.opcode) ?? h.opcode}`);
      this.#replyError(h.unique, row ? errno.EIO : errno.ENOSYS);
      return;
    }
    this.counts.set(row.name, (this.counts.get(row.name) ?? 0) + 1);
    this.#dispatch(row, ctx, h.nodeid, body);
  }

  #dispatch(row: OpRow, ctx: Context, nodeid: number, body: Reader): void {
    let args: unknown;
    let result: unknown;
    try {
      args = row.decode(body, this.#neg);
      result = row.call(this.#handler, ctx, nodeid, args);
    } catch (err) {
      this.#fail(row, ctx.unique, err);
      return;
    }
    if (isPromiseLike(result)) {
      this.#inflight.set(ctx.unique, ctx);
      result.then(
        (value) => { if (this.#inflight.delete(ctx.unique)) this.#finish(row, ctx.unique, value, args); },
        (err) => { if (this.#inflight.delete(ctx.unique)) this.#fail(row, ctx.unique, err); },
      );
      return;
    }
    this.#finish(row, ctx.unique, result, args);
  }

  #finish(row: OpRow, unique: bigint, result: unknown, args: unknown): void {
    let payload: Payload;
    try {
      payload = row.encode(result, args, this.#neg);
    } catch (err) {
      this.#fail(row, unique, err);
      return;
    }
    if (payload === null) return;
    const rc = this.#reply(unique, payload);
    if (rc === errno.ENOENT && row.references) {
      // The kernel dropped the request (interrupted): it never took these references.
      const refs = row.references(result, args);
      if (refs.length) this.#handler.forget(refs.map((nodeid) => ({ nodeid, nlookup: 1 })));
    }
  }

  #fail(row: OpRow, unique: bigint, err: unknown): void {
    if (row.opcode === fuse_opcode.FUSE_FORGET || row.opcode === fuse_opcode.FUSE_BATCH_FORGET) {
      this.#log('error', `${row.name} failed: ${describe(err)}`);
      return; // never answered
    }
    let code: number;
    if (err instanceof DecodeError) {
      this.#log('warn', `${row.name}: malformed request: ${err.message}`);
      code = errno.EINVAL;
    } else if (err instanceof InvalidNameError) {
      code = errno.EILSEQ;
    } else {
      code = toErrno(err, (e) => this.#log('error', `${row.name} failed: ${describe(e)}`));
    }
    this.#replyError(unique, code);
  }

  #onInit(unique: bigint, body: Reader): void {
    try {
      const outcome = negotiateInit(decodeInitIn(body), this.#initOptions, MAX_WRITE);
      this.#reply(unique, outcome.payload);
      if (!outcome.info) return; // kernel will retry with our major
      const info = outcome.info;
      this.#info = info;
      this.#neg = { minor: info.minor, setxattrExt: (info.flags & FUSE_SETXATTR_EXT) !== 0n };
      this.#handler.init?.(info);
      this.#resolveReady(info);
    } catch (err) {
      this.#log('error', `INIT failed: ${describe(err)}`);
      this.#replyError(unique, errno.EPROTO);
      this.#end(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The kernel wants request `unique` abandoned: fire its signal; the handler decides (EINTR). */
  #onInterrupt(body: Reader): void {
    try {
      const target = body.buf.readBigUInt64LE(body.struct(fuse_interrupt_in) + fuse_interrupt_in.o.unique);
      // Unknown target: the request already finished; nothing to do, and no reply is expected.
      this.#inflight.get(target)?.abort();
    } catch (err) {
      this.#log('warn', `malformed INTERRUPT: ${describe(err)}`);
    }
  }

  async #onDestroy(unique: bigint): Promise<void> {
    try {
      await this.#handler.destroy?.();
    } catch (err) {
      this.#log('error', `destroy failed: ${describe(err)}`);
    }
    this.#reply(unique, null);
  }

  #reply(unique: bigint, payload: Payload): number {
    const parts: Buffer[] = [Buffer.allocUnsafe(fuse_out_header.size)];
    let len = fuse_out_header.size;
    if (payload) {
      if (Buffer.isBuffer(payload)) { parts.push(payload); len += payload.length; }
      else for (const p of payload) { parts.push(p); len += p.length; }
    }
    encodeOutHeader(parts[0]!, len, 0, unique);
    return this.#write(parts);
  }

  #replyError(unique: bigint, code: number): void {
    const b = Buffer.allocUnsafe(fuse_out_header.size);
    encodeOutHeader(b, fuse_out_header.size, -code, unique);
    this.#write([b]);
  }

  #write(parts: Buffer[]): number {
    if (this.#state !== 'running') return errno.ENOTCONN;
    const rc = this.#device.writeReply(parts);
    // ENOENT: the request was interrupted and is gone. Anything else is our bug or a dead device.
    if (rc !== 0 && rc !== errno.ENOENT) this.#log('error', `reply write failed: errno ${rc}`);
    return rc;
  }

  // ---- notifications ------------------------------------------------------------------------

  /** Drops cached attributes of `ino` and, unless len is 0, cached data in [off, off+len) (len -1: to the end). */
  notifyInvalInode(ino: number, off = 0, len = -1): Promise<number> {
    const L = fuse_notify_inval_inode_out;
    const b = Buffer.alloc(L.size);
    writeU64(b, L.o.ino, ino);
    writeI64(b, L.o.off, off);
    writeI64(b, L.o.len, len);
    return this.#notify(fuse_notify_code.FUSE_NOTIFY_INVAL_INODE, [b]);
  }

  /**
   * Drops the cached name `name` in directory `parent`. With expireOnly (when the kernel offers
   * FUSE_HAS_EXPIRE_ONLY) the entry is only marked stale, so open files keep their dentry.
   */
  notifyInvalEntry(parent: number, name: string, opts: { expireOnly?: boolean } = {}): Promise<number> {
    const L = fuse_notify_inval_entry_out;
    const nameBuf = Buffer.from(name + '\0');
    const b = Buffer.alloc(L.size);
    writeU64(b, L.o.parent, parent);
    b.writeUInt32LE(nameBuf.length - 1, L.o.namelen);
    const canExpire = ((this.#info?.flags ?? 0n) & FUSE_HAS_EXPIRE_ONLY) !== 0n;
    b.writeUInt32LE(opts.expireOnly && canExpire ? FUSE_EXPIRE_ONLY : 0, L.o.flags);
    return this.#notify(fuse_notify_code.FUSE_NOTIFY_INVAL_ENTRY, [b, nameBuf]);
  }

  /** Tells the kernel `name` in `parent` (node `child`) is gone, like a local unlink would. */
  notifyDelete(parent: number, child: number, name: string): Promise<number> {
    const L = fuse_notify_delete_out;
    const nameBuf = Buffer.from(name + '\0');
    const b = Buffer.alloc(L.size);
    writeU64(b, L.o.parent, parent);
    writeU64(b, L.o.child, child);
    b.writeUInt32LE(nameBuf.length - 1, L.o.namelen);
    return this.#notify(fuse_notify_code.FUSE_NOTIFY_DELETE, [b, nameBuf]);
  }

  /**
   * Resolves 0 when the kernel took the notification, or a positive errno. ENOENT is normal
   * (nothing cached under that name or inode), so callers usually ignore it.
   */
  async #notify(code: number, body: Buffer[]): Promise<number> {
    if (this.#state !== 'running' || !this.#info) return errno.ENOTCONN;
    const hdr = Buffer.alloc(fuse_out_header.size);
    const len = body.reduce((n, b) => n + b.length, hdr.length);
    // Notifications travel as replies with unique 0 and the notify code in `error`.
    encodeOutHeader(hdr, len, code, 0n);
    return this.#device.writeNotify([hdr, ...body]);
  }
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack?.split('\n').slice(0, 2).join(' | ') ?? err.message;
  return String(err);
}
