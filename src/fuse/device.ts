// Device I/O: how kernel requests reach the event loop and replies go back.
//
// Why this design (measured on this project's machines, 2 vCPUs, a stat of an uncached file =
// one LOOKUP round trip; see bench/ for the harness):
//   - threadpool reads (fs.read on the fd, main thread):      ~170-180 µs per round trip
//   - a worker thread in a blocking readSync loop:             ~160 µs cross-CPU, ~26 µs same-CPU
//   - libuv poll on the fd in the main loop (this file):       ~150-170 µs cross-CPU, ~27 µs same-CPU
// The cross-CPU numbers are dominated by the VM's wake-up latency, not by our code: pinned to one
// CPU both real options cost the same ~26 µs. What decides is everything else:
//   - A blocking read() on /dev/fuse holds a libuv threadpool thread for as long as no request
//     comes — forever when idle. With threadpool reads, a few mounts (or one mount with a few
//     readers) starve fs.promises, zlib, crypto and DNS for the whole process.
//   - A worker that blocks in read() cannot run its own event loop, so either it answers only
//     synchronous metadata from shared memory, or it hands each request to the main thread with
//     postMessage (~120-640 µs more per request).
//   - Opening /dev/fuse non-blocking and letting libuv's epoll tell us when a request is
//     readable costs one read() syscall per request on the main thread, no thread at all, and
//     keeps async handlers (network fetches, disk I/O) on the same loop as the protocol.
// So we wrap the fd in a libuv pipe handle (epoll-driven reads). The cost: libuv reads at most
// 64 KiB per call, so we negotiate max_write below that (MAX_WRITE); READ replies are unaffected
// (we write them, up to max_pages). Replies are written synchronously with writev: a reply to
// /dev/fuse never blocks (the kernel copies it into the waiting request). Notifications are the
// exception — the kernel may block them on an inode lock held by a request we have not answered
// yet — so they go through the threadpool (fs.writev) and never stall the loop.

import { closeSync, openSync, writev, writevSync, constants as fsc } from 'node:fs';
import { errno } from './errno.js';

/** A channel carrying one kernel message per read and one reply per write. */
export interface FuseDevice {
  /** Largest message one read can return (bounds max_write). */
  readonly maxMessageSize: number;
  /** Starts delivering messages; onEnd fires once when the connection ends (unmount/abort). */
  start(onMessage: (msg: Buffer) => void, onEnd: (err?: Error) => void): void;
  /** Writes one reply atomically. Returns 0 or a positive errno (ENOENT: request was interrupted). */
  writeReply(chunks: readonly Buffer[]): number;
  /** Writes one notification without blocking the event loop. Resolves to 0 or a positive errno. */
  writeNotify(chunks: readonly Buffer[]): Promise<number>;
  /** Stops reading and closes the channel. Idempotent. */
  close(): void;
}

/** libuv reads at most 64 KiB from a stream per call (uv__read's fixed allocation size). */
const LIBUV_READ_SIZE = 64 * 1024;
/** Room for fuse_in_header + fuse_write_in before the data, rounded to a page. */
const HEADER_ROOM = 4096;
/** Largest WRITE payload the kernel may send us: 60 KiB, page aligned. */
export const MAX_WRITE = LIBUV_READ_SIZE - HEADER_ROOM;

interface PipeHandle {
  open(fd: number): number;
  readStart(): number;
  readStop(): number;
  close(cb?: () => void): void;
  onread: (buf: ArrayBuffer | undefined) => void;
}

interface StreamBinding {
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

/** Node's own libuv pipe wrapper, the only built-in way to get epoll-driven reads of an fd. */
function loadPipeBinding(): { Pipe: new (type: number) => PipeHandle; SOCKET: number; stream: StreamBinding } {
  const binding = (process as unknown as { binding(name: string): any }).binding;
  const pw = binding('pipe_wrap');
  const sw = binding('stream_wrap') as StreamBinding;
  return { Pipe: pw.Pipe, SOCKET: pw.constants.SOCKET, stream: sw };
}

/** Opens /dev/fuse for a new connection (before mounting). */
export function openFuseDevice(path = '/dev/fuse'): number {
  return openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK /* libuv adds O_CLOEXEC */);
}

function errnoOf(err: unknown): number {
  const code = (err as { code?: string }).code;
  return (code && (errno as Record<string, number>)[code]) || errno.EIO;
}

export class DevFuseDevice implements FuseDevice {
  readonly maxMessageSize = LIBUV_READ_SIZE;
  readonly #fd: number;
  #handle: PipeHandle | undefined;
  #closed = false;

  /** Takes ownership of `fd` (an open /dev/fuse connection). */
  constructor(fd: number) {
    this.#fd = fd;
  }

  start(onMessage: (msg: Buffer) => void, onEnd: (err?: Error) => void): void {
    const { Pipe, SOCKET, stream } = loadPipeBinding();
    const h = new Pipe(SOCKET);
    const rc = h.open(this.#fd);
    if (rc !== 0) throw new Error(`cannot watch /dev/fuse: libuv error ${rc}`);
    this.#handle = h;
    const state = stream.streamBaseState;
    h.onread = (ab) => {
      const n = state[stream.kReadBytesOrError]!;
      if (n > 0 && ab) {
        onMessage(Buffer.from(ab, state[stream.kArrayBufferOffset]!, n));
        return;
      }
      // EINTR/EAGAIN are retried inside libuv. ENOENT means the request we were about to read
      // was interrupted away; carry on. ENODEV (or EOF) means the filesystem was unmounted.
      if (n === -errno.ENOENT) return;
      const ended = n === -errno.ENODEV || n === -4095 /* UV_EOF */;
      this.close();
      onEnd(ended ? undefined : new Error(`read from /dev/fuse failed: errno ${-n}`));
    };
    h.readStart();
  }

  writeReply(chunks: readonly Buffer[]): number {
    if (this.#closed) return errno.EBADF;
    try {
      writevSync(this.#fd, chunks as Buffer[]);
      return 0;
    } catch (err) {
      return errnoOf(err);
    }
  }

  writeNotify(chunks: readonly Buffer[]): Promise<number> {
    if (this.#closed) return Promise.resolve(errno.EBADF);
    return new Promise((resolve) => {
      writev(this.#fd, chunks as Buffer[], (err) => resolve(err ? errnoOf(err) : 0));
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const h = this.#handle;
    if (h) {
      h.onread = () => {};
      h.readStop();
      h.close(); // closes the fd
    } else {
      closeSync(this.#fd);
    }
  }
}
