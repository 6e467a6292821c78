// What changed between two commits' trees: `git diff-tree -r -t -z --raw`, trees included, no
// rename detection (a rename is a delete and an add). Reads trees only, so it never makes a
// partial clone fetch a blob.

import { asOid, type Oid } from '../model/ids.js';
import { runGitBytes } from './git-run.js';

export interface TreeChange {
  path: string;
  /** The entry after the change; undefined when the path was deleted. */
  after?: { mode: number; oid: Oid };
  /** The entry before the change; undefined when the path was added. */
  before?: { mode: number; oid: Oid };
}

/** Parses raw `-z` records: `:<old mode> <new mode> <old oid> <new oid> <status>\0<path>\0`. */
export function parseRawDiff(out: Buffer): TreeChange[] {
  const changes: TreeChange[] = [];
  let pos = 0;
  while (pos < out.length) {
    const headEnd = out.indexOf(0, pos);
    const pathEnd = headEnd < 0 ? -1 : out.indexOf(0, headEnd + 1);
    if (pathEnd < 0 || out[pos] !== 0x3a) throw new Error('malformed diff-tree record');
    const [oldMode, newMode, oldOid, newOid] = out.toString('latin1', pos + 1, headEnd).split(' ');
    const path = out.toString('utf8', headEnd + 1, pathEnd);
    const before = parseInt(oldMode!, 8) === 0 ? undefined : { mode: parseInt(oldMode!, 8), oid: asOid(oldOid!) };
    const after = parseInt(newMode!, 8) === 0 ? undefined : { mode: parseInt(newMode!, 8), oid: asOid(newOid!) };
    changes.push({ path, ...(before ? { before } : {}), ...(after ? { after } : {}) });
    pos = pathEnd + 1;
  }
  return changes;
}

/** Every path (trees included) whose entry differs between `from` and `to`. */
export async function diffTrees(gitDir: string, from: Oid, to: Oid, signal?: AbortSignal): Promise<TreeChange[]> {
  const out = await runGitBytes(['--git-dir', gitDir, 'diff-tree', '-r', '-t', '-z', '--raw', '--no-renames', '--no-commit-id', from, to], { signal });
  return parseRawDiff(out);
}
