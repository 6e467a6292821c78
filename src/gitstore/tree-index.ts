// Streaming index of a commit's tree: `git ls-tree -r -t -z` parsed incrementally (a chunk is not
// a record), NUL-separated so any byte in a path survives. No `-l`: asking for sizes would make
// a partial clone fetch every blob, one request each (DESIGN decision 4).

import { asOid } from '../model/ids.js';
import type { GitObjectType, TreeEntry } from '../model/tree.js';
import { GitError, spawnGit } from './git-run.js';

/** Parses `<mode> SP <type> SP <oid> TAB <path> NUL` records; returns bytes consumed. */
export function parseLsTreeRecords(buf: Buffer, start: number, out: TreeEntry[]): number {
  let pos = start;
  for (;;) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0) return pos;
    const tab = buf.indexOf(9, pos);
    if (tab < 0 || tab > nul) throw new Error('malformed ls-tree record');
    const [mode, type, oid] = buf.toString('latin1', pos, tab).split(' ');
    out.push({
      mode: parseInt(mode!, 8),
      type: type as GitObjectType,
      oid: asOid(oid!),
      path: buf.toString('utf8', tab + 1, nul),
    });
    pos = nul + 1;
  }
}

/** Every entry (blobs, trees, gitlinks) of `treeish`, in git's tree order. */
export function listTree(gitDir: string, treeish: string, signal?: AbortSignal): Promise<TreeEntry[]> {
  return new Promise((resolve, reject) => {
    const child = spawnGit(['--git-dir', gitDir, 'ls-tree', '-r', '-t', '-z', '--full-tree', treeish], { signal, env: { GIT_NO_LAZY_FETCH: '1' } });
    const entries: TreeEntry[] = [];
    let rest = Buffer.alloc(0);
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      try {
        const used = parseLsTreeRecords(buf, 0, entries);
        rest = Buffer.from(buf.subarray(used));
      } catch (err) {
        child.kill();
        reject(err);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new GitError(['ls-tree'], code, stderr));
      if (rest.length) return reject(new Error('ls-tree output ended mid-record'));
      resolve(entries);
    });
    child.stdin!.end();
  });
}
