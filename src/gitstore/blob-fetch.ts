// Getting blobs into a partial clone many at a time, and learning which ones are already there
// (DESIGN decision 5). Reading them back is git-blob-fetcher.ts's job (one bulk cat-file per
// batch through an object view).
//
// Fetching: one `git fetch --stdin` with the raw object ids for the whole batch — what git's own
// lazy fetch runs for one object, here for thousands: on git 2.39 that is two HTTP requests (the
// v2 advertisement and one `fetch` command) whatever the batch size, and objects already local
// are not asked for (a batch that is all local makes no request at all). One unknown id fails
// the whole batch ("not our ref"); the error names it so the caller can drop it and retry.

import { Readable } from 'node:stream';
import { isOid, type Oid } from '../model/ids.js';
import { GitError, lastLine, runGit, spawnGit } from './git-run.js';
import { createObjectView } from './object-view.js';
import { withTimeout } from './signals.js';


/** Default bound for one fetch batch when the caller gives no tighter one. */
export const DEFAULT_FETCH_TIMEOUT_MS = 10 * 60_000;

export type BlobFetchErrorCode = 'blob-fetch-failed' | 'blob-fetch-timeout' | 'blob-unknown-to-remote';

export class BlobFetchError extends Error {
  constructor(
    readonly code: BlobFetchErrorCode,
    message: string,
    /** For 'blob-unknown-to-remote': the id the server refused. */
    readonly oid?: Oid,
  ) {
    super(message);
    this.name = 'BlobFetchError';
  }
}

export interface FetchBlobsOptions {
  signal?: AbortSignal;
  /** Bound for the whole fetch (ms). Default 10 minutes. */
  timeoutMs?: number;
  /** Extra environment (merged over git-run's non-interactive defaults). */
  env?: Record<string, string>;
  /** Git config for this fetch only (credentials: `http.<url>.extraHeader`), via GIT_CONFIG_* env. */
  config?: Record<string, string>;
  /** Remote name. Default 'origin' (the promisor remote of a blobless clone). */
  remote?: string;
  /**
   * Let git run `maintenance run --auto` after the fetch (default false). Hydration fetches in
   * many batches; an automatic repack in the middle of it costs more than it saves, and one
   * process per batch for nothing. Pack consolidation is the owner's call (gc).
   */
  autoMaintenance?: boolean;
}

/**
 * Fetches `oids` (blobs, usually) from the promisor remote into `gitDir` in one `git fetch`.
 * Duplicates are sent once. Resolves when the pack is indexed and the objects readable.
 */
export async function fetchMissingBlobs(gitDir: string, oids: Iterable<Oid>, opts: FetchBlobsOptions = {}): Promise<void> {
  const unique = [...new Set(oids)];
  if (unique.length === 0) return;
  // Each stdin line is a refspec to git: anything but an object id could fetch refs instead.
  const bad = unique.find((o) => !isOid(o));
  if (bad !== undefined) throw new TypeError(`not an object id: ${JSON.stringify(String(bad).slice(0, 80))}`);
  const bound = withTimeout(opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS, opts.signal);
  const args = [
    '--git-dir', gitDir,
    // noop negotiation: no "have" lines; we want exactly these objects, not a ref update.
    '-c', 'fetch.negotiationAlgorithm=noop',
    'fetch', opts.remote ?? 'origin',
    '--no-tags', '--no-write-fetch-head', '--recurse-submodules=no', '--filter=blob:none',
    opts.autoMaintenance ? '--auto-maintenance' : '--no-auto-maintenance',
    '--stdin',
  ];
  try {
    await runGit(args, { env: opts.env ?? {}, config: opts.config ?? {}, signal: bound.signal, input: `${unique.join('\n')}\n` });
  } catch (err) {
    if (bound.timedOut()) throw new BlobFetchError('blob-fetch-timeout', `fetch of ${unique.length} blobs timed out`);
    if (err instanceof GitError) throw classifyFetchError(err, unique.length);
    throw err;
  }
}

function classifyFetchError(err: GitError, count: number): BlobFetchError {
  const refused = /not our ref ([0-9a-f]{40,64})/.exec(err.stderr)?.[1];
  if (refused && isOid(refused)) {
    return new BlobFetchError('blob-unknown-to-remote', `remote does not have object ${refused}`, refused);
  }
  return new BlobFetchError('blob-fetch-failed', `fetch of ${count} blobs failed: ${lastLine(err.stderr) || `exit ${err.exitCode}`}`);
}

export interface LocalCheckOptions {
  signal?: AbortSignal;
  env?: Record<string, string>;
  /** Where the temporary object view is made (default: OS temp dir). */
  scratchDir?: string;
}

/**
 * The ids among `oids` whose objects are not in `gitDir`'s object store, in input order,
 * without duplicates. Never fetches: reads through an object view (see object-view.ts).
 */
export async function missingAmong(gitDir: string, oids: Iterable<Oid>, opts: LocalCheckOptions = {}): Promise<Oid[]> {
  const unique = [...new Set(oids)];
  if (unique.length === 0) return [];
  const view = await createObjectView(gitDir, { scratchDir: opts.scratchDir, signal: opts.signal });
  try {
    return await batchCheck(view.gitDir, unique, { ...opts.env, ...view.env }, opts.signal);
  } finally {
    await view.dispose();
  }
}

/** Whether one object is in the local object store (never fetches). */
export async function exists(gitDir: string, oid: Oid, opts: LocalCheckOptions = {}): Promise<boolean> {
  return (await missingAmong(gitDir, [oid], opts)).length === 0;
}

/** `cat-file --batch-check` over stdin/stdout streams, for lists of any length. */
function batchCheck(viewDir: string, oids: readonly Oid[], env: Record<string, string>, signal?: AbortSignal): Promise<Oid[]> {
  return new Promise((resolve, reject) => {
    // %(objectname) alone: a present object prints its id, a missing one `<id> missing`.
    const child = spawnGit(['--git-dir', viewDir, 'cat-file', '--batch-check=%(objectname)', '--buffer'], { env, signal });
    const missing: Oid[] = [];
    let partial = '';
    let stderr = '';
    child.stdout!.setEncoding('latin1').on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.endsWith(' missing')) missing.push(line.slice(0, -' missing'.length) as Oid);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4096); });
    child.on('error', (err) => reject(err));
    child.on('close', (code) => {
      if (code === 0 && partial === '') resolve(missing);
      else if (!signal?.aborted) reject(new GitError(['cat-file'], code, stderr || 'output ended mid-line'));
    });
    child.stdin!.on('error', () => {});
    // Streamed with backpressure: a million ids are not one string in memory.
    Readable.from(lines(oids)).pipe(child.stdin!);
  });
}

function* lines(oids: readonly Oid[]): Generator<string> {
  const per = 1024;
  for (let i = 0; i < oids.length; i += per) yield `${oids.slice(i, i + per).join('\n')}\n`;
}
