// An in-memory BlobFetcher for tests: serves blobs from a map, records every call, and can be
// told to be slow, to fail, to lose blobs or to deliver corrupt content.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Oid } from '../../model/ids.js';
import type { BlobFetcher } from '../ports.js';

/** The git blob id of `content` (sha1, or sha256 for a SHA-256 repository). */
export function blobOid(content: Buffer | string, algorithm: 'sha1' | 'sha256' = 'sha1'): Oid {
  const buf = Buffer.from(content);
  return createHash(algorithm).update(`blob ${buf.length}\0`).update(buf).digest('hex') as Oid;
}

/** Yields `buf` in chunks of `size` bytes, asynchronously. */
export async function* chunks(buf: Buffer, size = 7): AsyncIterable<Buffer> {
  for (let i = 0; i < buf.length; i += size) {
    await Promise.resolve();
    yield buf.subarray(i, i + size);
  }
  if (buf.length === 0) await Promise.resolve();
}

export class MockFetcher implements BlobFetcher {
  readonly blobs = new Map<Oid, Buffer>();
  /** The oid list of every fetch() call, in call order. */
  readonly calls: Oid[][] = [];
  /** performance.now() at the start of every call. */
  readonly times: number[] = [];
  /** Oids in the order they were delivered. */
  readonly delivered: Oid[] = [];
  /** Delay before the first delivery of each call, in ms. */
  latencyMs = 0;
  /** Latency per call, overriding latencyMs, chosen from the call's oids. */
  latencyFor: ((oids: readonly Oid[]) => number) | undefined;
  /** The next N calls reject after their latency, delivering nothing. */
  failNext = 0;
  /** A call carrying any of these rejects before delivering (like an object the server lacks). */
  readonly missing = new Set<Oid>();
  /** Oid → how many more times its content is delivered corrupted (same size, one byte flipped). */
  readonly corrupt = new Map<Oid, number>();
  /** Calls running now, and the most seen at once. */
  running = 0;
  maxRunning = 0;

  /** Adds a blob and returns its oid. */
  add(content: Buffer | string): Oid {
    const oid = blobOid(content);
    this.blobs.set(oid, Buffer.from(content));
    return oid;
  }

  /** Total blobs requested over all calls. */
  get requested(): number {
    return this.calls.reduce((n, c) => n + c.length, 0);
  }

  async fetch(oids: readonly Oid[], deliver: (oid: Oid, size: number, content: AsyncIterable<Buffer>) => Promise<void>,
    signal: AbortSignal): Promise<void> {
    this.calls.push([...oids]);
    this.times.push(performance.now());
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      const latency = this.latencyFor?.(oids) ?? this.latencyMs;
      if (latency > 0) await sleep(latency, undefined, { signal });
      if (this.failNext > 0) {
        this.failNext--;
        throw new Error('mock: connection reset');
      }
      const lacking = oids.find((o) => this.missing.has(o) || !this.blobs.has(o));
      if (lacking !== undefined) throw new Error(`mock: not our ref ${lacking}`);
      for (const oid of oids) await this.#deliverOne(oid, deliver);
    } finally {
      this.running--;
    }
  }

  async #deliverOne(oid: Oid, deliver: (oid: Oid, size: number, content: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
    let content = this.blobs.get(oid)!;
    const bad = this.corrupt.get(oid) ?? 0;
    if (bad > 0) {
      this.corrupt.set(oid, bad - 1);
      content = Buffer.from(content);
      if (content.length > 0) content[0] = content[0]! ^ 0xff;
    }
    await deliver(oid, content.length, chunks(content));
    this.delivered.push(oid);
  }
}
