// Test fixtures for the hydrator: a temp cache, a hydrator with small timings and a mock
// fetcher per source, all torn down after the test.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Oid } from '../../model/ids.js';
import { BlobCache } from '../blob-cache.js';
import { Hydrator, type HydratorOptions } from '../hydrator.js';
import type { Source } from '../source.js';
import { MockFetcher } from './mock-fetcher.js';

export interface Kit {
  root: string;
  cache: BlobCache;
  hydrator: Hydrator;
  fetcher: MockFetcher;
  source: Source;
  /** Log lines at warn and above. */
  warnings: string[];
}

export type KitOptions = Omit<Partial<HydratorOptions>, 'cache'> & { root?: string };

/** Fast retry timings so failure tests take milliseconds. */
export const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

export async function makeKit(t: TestContext, options: KitOptions = {}): Promise<Kit> {
  const { root: given, ...rest } = options;
  const root = given ?? (await mkdtemp(join(tmpdir(), 'afs-hydrator-')));
  const cache = await BlobCache.open({ root });
  const warnings: string[] = [];
  const hydrator = new Hydrator({
    cache, retry: FAST_RETRY, readDeadlineMs: 5000,
    log: (level, message) => { if (level === 'warn' || level === 'error') warnings.push(message); },
    ...rest,
  });
  const fetcher = new MockFetcher();
  const source = hydrator.addSource('repo', fetcher);
  t.after(async () => {
    await hydrator.destroy();
    if (given === undefined) await rm(root, { recursive: true, force: true });
  });
  return { root, cache, hydrator, fetcher, source, warnings };
}

/** Adds `n` blobs named by `name(i)` to the fetcher; returns enqueue items. */
export function addFiles(fetcher: MockFetcher, paths: readonly string[]): Array<{ oid: Oid; size: number; path: string }> {
  return paths.map((path) => {
    const content = `content of ${path}\n`.repeat(3);
    const oid = fetcher.add(content);
    return { oid, size: Buffer.byteLength(content), path };
  });
}

/** Every file under the cache directory (blobs and temp files). */
export async function cacheFiles(cache: BlobCache): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(cache.dir)) for (const f of await readdir(join(cache.dir, sub))) out.push(f);
  return out;
}

export async function readBlob(path: string): Promise<string> {
  return (await readFile(path)).toString();
}

/** Polls `cond` every few ms; fails after `ms`. */
export async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('until: condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
