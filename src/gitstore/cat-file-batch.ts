// One long-lived `git cat-file --batch` per git dir: reading a local object costs a line on a
// pipe, not a process. Requests are pipelined (every oid is written at once; cat-file answers in
// order) and each object's content is streamed to its reader with backpressure: a slow reader
// pauses the pipe, so nothing is buffered beyond one chunk. The cost is head-of-line blocking: a
// reader that never consumes its stream stalls the reads behind it (until close()'s timeout).
//
// The process reads through an object view (object-view.ts): a missing object is answered
// `<oid> missing` and becomes ObjectMissingError; it is never fetched lazily and never kills the
// process. The view is made once, at the first read.
//
// If the process dies anyway (killed, crashed, garbled output), the request at the head of the
// queue fails (it may be the cause) and the others are sent again to a new process; after
// MAX_CONSECUTIVE_DEATHS deaths without a single answer in between, everything queued fails.

import type { ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import type { Oid } from '../model/ids.js';
import { CatFileParser, type CatFileSink, type ObjectHeader } from './cat-file-parser.js';
import { lastLine, spawnGit } from './git-run.js';
import { createObjectView, type ObjectView } from './object-view.js';
import { raceSignal, withTimeout } from './signals.js';

const MAX_CONSECUTIVE_DEATHS = 3;
/** Default bound for close() to drain before it kills. */
const CLOSE_TIMEOUT_MS = 10_000;
/** Bound for making the object view (one rev-parse). */
const VIEW_TIMEOUT_MS = 30_000;
const STDERR_TAIL = 4096;

/** The object is not in the local object store (a partial clone has not fetched it yet). */
export class ObjectMissingError extends Error {
  readonly code = 'object-missing';
  constructor(readonly oid: Oid) {
    // An expected, frequent outcome: skip the stack capture.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`object ${oid} is not in the local object store`);
    Error.stackTraceLimit = limit;
    this.name = 'ObjectMissingError';
  }
}

export type CatFileErrorCode = 'cat-file-failed' | 'cat-file-closed';

export class CatFileError extends Error {
  constructor(readonly code: CatFileErrorCode, message: string) {
    super(message);
    this.name = 'CatFileError';
  }
}

export interface ObjectContent {
  oid: Oid;
  type: string;
  /** Bytes the stream will deliver. */
  size: number;
  /** The content; must be consumed or destroyed (an abandoned stream blocks later reads). */
  stream: Readable;
}

export interface CatFileBatchOptions {
  /** Extra environment for git (merged over git-run's safe defaults). */
  env?: Record<string, string>;
  /** Where the object view is made (default: OS temp dir). */
  scratchDir?: string;
}

export type CatFileBatchState = 'open' | 'closing' | 'closed';

interface Death {
  proc: BatchProcess;
  /** Requests written to the process and not answered, in order. */
  pending: Pending[];
  error: Error;
}

interface Pending {
  oid: Oid;
  /** The header arrived (or the caller gave up): the promise is settled. */
  settled: boolean;
  /** Nobody wants the content any more: discard it. */
  cancelled: boolean;
  stream: ObjectStream | undefined;
  resolve: (c: ObjectContent) => void;
  reject: (err: unknown) => void;
  done: () => void;
}

export class CatFileBatch {
  readonly gitDir: string;
  #opts: CatFileBatchOptions;
  #state: CatFileBatchState = 'open';
  #view: Promise<ObjectView> | undefined;
  #proc: BatchProcess | undefined;
  #deaths = 0;
  #spawns = 0;
  #closed: Promise<void> | undefined;

  constructor(gitDir: string, opts: CatFileBatchOptions = {}) {
    this.gitDir = gitDir;
    this.#opts = opts;
  }

  get state(): CatFileBatchState {
    return this.#state;
  }

  /** Processes started so far (1 in the normal case; more after deaths). */
  get spawnCount(): number {
    return this.#spawns;
  }

  /** The running process' pid, for diagnostics and tests. */
  get pid(): number | undefined {
    return this.#proc?.child.pid;
  }

  /**
   * Resolves when the object's header arrives, with a stream of its content; rejects
   * ObjectMissingError when it is not local. Aborting the signal rejects (before the header) or
   * destroys the stream (after).
   */
  async read(oid: Oid, opts: { signal?: AbortSignal } = {}): Promise<ObjectContent> {
    this.#checkOpen();
    opts.signal?.throwIfAborted();
    let settle!: Pick<Pending, 'resolve' | 'reject'>;
    const result = new Promise<ObjectContent>((resolve, reject) => { settle = { resolve, reject }; });
    const p = makePending(oid, settle, opts.signal);
    await this.#send(p).catch((err: unknown) => fail(p, err));
    return result;
  }

  /** The whole content in memory: for small objects (trees, small blobs) only. */
  async readAll(oid: Oid, opts: { signal?: AbortSignal } = {}): Promise<{ type: string; data: Buffer }> {
    const c = await this.read(oid, opts);
    const parts: Buffer[] = [];
    for await (const chunk of c.stream) parts.push(chunk as Buffer);
    return { type: c.type, data: Buffer.concat(parts, c.size) };
  }

  /** Lets queued reads finish (bounded by `timeoutMs`, then kills), then removes the view. */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#drainAndStop(opts.timeoutMs ?? CLOSE_TIMEOUT_MS);
    return this.#closed;
  }

  /** Kills the process now; every pending read fails with `err`. */
  destroy(err: Error = new CatFileError('cat-file-closed', 'cat-file batch destroyed')): void {
    if (this.#state !== 'closed') this.#state = 'closed';
    const proc = this.#proc;
    this.#proc = undefined;
    proc?.stop(err);
    this.#closed ??= this.#disposeView();
  }

  async #drainAndStop(timeoutMs: number): Promise<void> {
    this.#state = 'closing';
    const proc = this.#proc;
    if (proc) {
      const drained = await proc.endInput(timeoutMs);
      if (!drained) proc.stop(new CatFileError('cat-file-closed', `cat-file did not drain within ${timeoutMs} ms`));
    }
    this.#state = 'closed';
    await this.#disposeView();
  }

  async #disposeView(): Promise<void> {
    const view = await this.#view?.catch(() => undefined);
    await view?.dispose();
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw new CatFileError('cat-file-closed', `cat-file batch for ${this.gitDir} is ${this.#state}`);
  }

  async #send(p: Pending): Promise<void> {
    for (;;) {
      const proc = this.#proc ?? (await this.#spawn());
      if (p.settled && p.cancelled) return; // aborted while the process was starting
      if (this.#state === 'closed') throw new CatFileError('cat-file-closed', 'cat-file batch closed');
      if (proc.alive) return proc.send(p);
    }
  }

  async #spawn(): Promise<BatchProcess> {
    if (!this.#view) {
      this.#view = createObjectView(this.gitDir, { scratchDir: this.#opts.scratchDir, signal: withTimeout(VIEW_TIMEOUT_MS).signal });
      this.#view.catch(() => { this.#view = undefined; }); // let the next read retry
    }
    const view = await this.#view;
    if (this.#proc) return this.#proc; // another read spawned it meanwhile
    if (this.#state === 'closed') throw new CatFileError('cat-file-closed', 'cat-file batch closed');
    const child = spawnGit(['--git-dir', view.gitDir, 'cat-file', '--batch'], { env: { ...this.#opts.env, ...view.env } });
    this.#spawns++;
    const proc = new BatchProcess(child, (dead) => this.#onDeath(dead), () => { this.#deaths = 0; });
    this.#proc = proc;
    return proc;
  }

  /**
   * Death policy: the head fails, the rest retry, unless the process keeps dying or the batch is
   * closing (a retry would start a process nobody stops).
   */
  #onDeath(dead: Death): void {
    if (this.#proc === dead.proc) this.#proc = undefined;
    const [head, ...rest] = dead.pending;
    if (!head) return; // exited idle (closed, or killed between requests): start afresh next time
    fail(head, dead.error);
    this.#deaths++;
    const giveUp = this.#deaths >= MAX_CONSECUTIVE_DEATHS || this.#state !== 'open';
    for (const p of rest) {
      if (p.cancelled) continue;
      if (giveUp) fail(p, dead.error);
      else this.#send(p).catch((err: unknown) => fail(p, err));
    }
  }
}

function makePending(oid: Oid, settle: Pick<Pending, 'resolve' | 'reject'>, signal: AbortSignal | undefined): Pending {
  const onAbort = (): void => {
    if (!p.settled) fail(p, signal!.reason);
    else p.stream?.destroy(signal!.reason as Error);
  };
  const p: Pending = {
    oid,
    settled: false,
    cancelled: false,
    stream: undefined,
    resolve: settle.resolve,
    reject: settle.reject,
    done: () => signal?.removeEventListener('abort', onAbort),
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return p;
}

/** Fails a request wherever it is: rejects before its header, destroys its stream after. */
function fail(p: Pending, err: unknown): void {
  p.cancelled = true;
  if (!p.settled) {
    p.settled = true;
    p.reject(err);
  } else if (p.stream && !p.stream.readableEnded) {
    p.stream.destroy(err as Error);
  }
  p.done();
}

/** A content stream fed by the process; reading resumes the pipe, destroying discards the rest. */
class ObjectStream extends Readable {
  #onRead: () => void;
  #onDestroy: () => void;
  constructor(onRead: () => void, onDestroy: () => void) {
    super();
    this.#onRead = onRead;
    this.#onDestroy = onDestroy;
  }
  override _read(): void {
    this.#onRead();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#onDestroy();
    cb(err);
  }
}

/**
 * One cat-file process and the requests written to it, in order.
 * INVARIANT: `#inflight[i]` is the request whose answer is the i-th record still to come.
 */
class BatchProcess implements CatFileSink {
  readonly child: ChildProcess;
  #inflight: Pending[] = [];
  #head = 0;
  #parser = new CatFileParser(this);
  #stderr = '';
  #alive = true;
  #stopError: Error | undefined;
  #exited: Promise<void>;
  #onAnswer: () => void;

  constructor(child: ChildProcess, onDeath: (d: Death) => void, onAnswer: () => void) {
    this.child = child;
    this.#onAnswer = onAnswer;
    child.stdout!.on('data', (chunk: Buffer) => this.#onData(chunk));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.#stderr = (this.#stderr + d).slice(-STDERR_TAIL); });
    child.stdin!.on('error', () => {}); // EPIPE when it died: reported by 'close'
    child.on('error', () => {}); // spawn failure: also ends in 'close'
    this.#exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.#alive = false;
        const pending = this.#inflight.slice(this.#head);
        this.#inflight = [];
        this.#head = 0;
        const error = this.#stopError ?? new CatFileError('cat-file-failed', `git cat-file exited (${code ?? signal}): ${lastLine(this.#stderr) || 'no message'}`);
        onDeath({ proc: this, pending, error });
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  send(p: Pending): void {
    this.#inflight.push(p);
    this.child.stdin!.write(`${p.oid}\n`);
  }

  /** Ends stdin so cat-file exits after answering; false when it did not within the bound. */
  async endInput(timeoutMs: number): Promise<boolean> {
    this.child.stdin!.end();
    const timer = withTimeout(timeoutMs);
    try {
      await raceSignal(this.#exited, timer.signal);
      return true;
    } catch {
      return false;
    }
  }

  stop(err: Error): void {
    this.#stopError = err;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  #onData(chunk: Buffer): void {
    if (this.#stopError) return; // out of step or being stopped: nothing more it says is trusted
    try {
      this.#parser.push(chunk);
    } catch (err) {
      // Output we cannot frame: the process and its queue are out of step. Treat as a death.
      this.stop(new CatFileError('cat-file-failed', (err as Error).message));
    }
  }

  #current(): Pending {
    const p = this.#inflight[this.#head];
    if (!p) throw new Error('cat-file answered a request that was not made');
    return p;
  }

  #shift(): void {
    this.#head++;
    // Compact now and then so the array does not grow with every request ever made.
    if (this.#head > 1024 && this.#head * 2 > this.#inflight.length) {
      this.#inflight = this.#inflight.slice(this.#head);
      this.#head = 0;
    }
    this.#onAnswer();
  }

  header(h: ObjectHeader): void {
    const p = this.#current();
    if (h.oid !== p.oid) throw new Error(`cat-file answered ${h.oid} for ${p.oid}`);
    if (p.cancelled) return;
    const stdout = this.child.stdout!;
    const stream = new ObjectStream(
      () => { if (this.#inflight[this.#head] === p) stdout.resume(); },
      () => { p.cancelled = true; if (this.#inflight[this.#head] === p) stdout.resume(); },
    );
    p.stream = stream;
    p.settled = true;
    p.resolve({ oid: p.oid, type: h.type, size: h.size, stream });
  }

  missing(name: string): void {
    const p = this.#current();
    if (name !== p.oid) throw new Error(`cat-file answered ${name} for ${p.oid}`);
    this.#shift();
    fail(p, new ObjectMissingError(p.oid));
  }

  body(chunk: Buffer): void {
    const p = this.#current();
    if (p.cancelled || !p.stream) return;
    // push() false: the reader is full. Stop the pipe until its _read asks for more.
    if (!p.stream.push(chunk)) this.child.stdout!.pause();
  }

  end(): void {
    const p = this.#current();
    this.#shift();
    if (!p.cancelled) p.stream?.push(null);
    p.done();
    this.child.stdout!.resume(); // the next object's reader has not asked yet, but the pipe must flow
  }
}
