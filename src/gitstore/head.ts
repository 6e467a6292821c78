// Where HEAD points, read from the git dir's files (no process start: the HEAD watcher asks on
// every change under the git dir). Follows symbolic refs through loose refs and packed-refs.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isOid, type Oid } from '../model/ids.js';

export interface HeadState {
  /** The branch ref HEAD names (`refs/heads/main`); undefined when HEAD is detached. */
  ref?: string;
  /** The commit; undefined on an unborn branch. */
  commit?: Oid;
}

const MAX_SYMREF_DEPTH = 5;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The packed-refs line for `ref` (`<oid> <ref>`), or undefined. */
function packedRef(packed: string | undefined, ref: string): Oid | undefined {
  if (!packed) return undefined;
  for (const line of packed.split('\n')) {
    if (line.length > 41 && line.charCodeAt(40) === 32 && line.slice(41) === ref) {
      const oid = line.slice(0, 40);
      return isOid(oid) ? (oid as Oid) : undefined;
    }
  }
  return undefined;
}

export async function readHead(gitDir: string): Promise<HeadState> {
  const headFile = await readOptional(join(gitDir, 'HEAD'));
  if (headFile === undefined) throw new Error(`no HEAD in ${gitDir}`);
  let content: string = headFile.trim();
  let ref: string | undefined;
  let packed: string | undefined | null = null;
  for (let depth = 0; content.startsWith('ref: '); depth++) {
    if (depth >= MAX_SYMREF_DEPTH) throw new Error('HEAD: symbolic ref loop');
    ref = content.slice(5).trim();
    if (!ref.startsWith('refs/') || ref.split('/').some((c) => c === '..' || c === '')) throw new Error(`HEAD names a bad ref: ${ref}`);
    const loose: string | undefined = (await readOptional(join(gitDir, ref)))?.trim();
    if (loose !== undefined) {
      content = loose;
      continue;
    }
    if (packed === null) packed = await readOptional(join(gitDir, 'packed-refs'));
    const oid = packedRef(packed, ref);
    return oid ? { ref, commit: oid } : { ref };
  }
  if (!isOid(content)) throw new Error(`HEAD is not a commit id: ${content.slice(0, 80)}`);
  return { ...(ref ? { ref } : {}), commit: content as Oid };
}
