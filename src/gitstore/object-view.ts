// A read-only view of a partial clone's objects in which a missing object is just missing.
//
// Why: in a partial clone (extensions.partialClone), git 2.39 answers a missing object by
// fetching it lazily, one process and two HTTP requests per object — cat-file --batch-check
// included. GIT_NO_LAZY_FETCH=1 stops the fetch but then git *dies* ("fatal: could not fetch
// <oid> from promisor remote", exit 128) at the first missing object that a promisor pack
// refers to, instead of printing `<oid> missing`; finding out that an object is a promisor
// object also means scanning every promisor pack. Neither is usable for "which blobs are local?"
// or for a long-lived cat-file process.
//
// The view is a tiny bare repository in a scratch directory with no config of its own beyond the
// object format and one line in objects/info/alternates pointing at the real object store. Git
// sees the same objects, but no promisor remote, so it never fetches and never dies: it prints
// `<oid> missing`. Packs fetched into the real store later are found too (git rescans packs on a
// miss before answering `missing`). GIT_NO_LAZY_FETCH=1 is still set on every process run
// against a view, so nothing can fetch even if the view were misconfigured.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { runGit } from './git-run.js';

export interface ObjectView {
  /** The view's git dir: pass as `--git-dir`. Read-only use only (nothing may be written). */
  readonly gitDir: string;
  /** Environment for processes run against the view. */
  readonly env: Record<string, string>;
  /** Removes the view (never the real repository). Idempotent. */
  dispose(): Promise<void>;
}

export interface ObjectViewOptions {
  /** Where the view's directory is made. Default: the OS temp directory. */
  scratchDir?: string;
  signal?: AbortSignal;
}

/** Environment for every process reading through a view. */
export const VIEW_ENV: Readonly<Record<string, string>> = { GIT_NO_LAZY_FETCH: '1' };

/** Creates a view of `gitDir`'s object store (one `git rev-parse`, then four small files). */
export async function createObjectView(gitDir: string, opts: ObjectViewOptions = {}): Promise<ObjectView> {
  const real = resolve(gitDir);
  const out = await runGit(['--git-dir', real, 'rev-parse', '--show-object-format', '--git-path', 'objects'], { signal: opts.signal });
  const [format, objectsPath] = out.trim().split('\n');
  if (!format || !objectsPath) throw new Error(`unexpected rev-parse output for ${real}`);
  // --git-path answers relative to the current directory unless it is already absolute.
  const objects = isAbsolute(objectsPath) ? objectsPath : resolve(objectsPath);

  const dir = await mkdtemp(join(opts.scratchDir ?? tmpdir(), 'afs-objview-'));
  try {
    await mkdir(join(dir, 'objects', 'info'), { recursive: true });
    await mkdir(join(dir, 'refs'), { recursive: true });
    await writeFile(join(dir, 'HEAD'), 'ref: refs/heads/main\n');
    await writeFile(join(dir, 'objects', 'info', 'alternates'), `${objects}\n`);
    await writeFile(join(dir, 'config'), viewConfig(format));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let disposed: Promise<void> | undefined;
  return {
    gitDir: dir,
    env: { ...VIEW_ENV },
    dispose: () => (disposed ??= rm(dir, { recursive: true, force: true })),
  };
}

/** A SHA-256 store needs the matching repository format; SHA-1 is the default. */
function viewConfig(format: string): string {
  if (format === 'sha1') return '[core]\n\trepositoryformatversion = 0\n\tbare = true\n';
  return `[core]\n\trepositoryformatversion = 1\n\tbare = true\n[extensions]\n\tobjectformat = ${format}\n`;
}
