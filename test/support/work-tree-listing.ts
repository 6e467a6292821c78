// What a work tree looks like to a user, as sorted text lines (readable in an assertion diff):
// every path with its type, permission bits, and the sha1 of a file's content or a symlink's
// target. Times, inode numbers and sizes of directories are left out: they legitimately differ
// between a mount and a native checkout. The top-level `.git` (a directory natively, a file in the
// mount) is not part of the work tree.

import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export async function listWorkTree(root: string): Promise<string[]> {
  const out: string[] = [];
  await walk(root, '', out);
  return out.sort();
}

async function walk(root: string, rel: string, out: string[]): Promise<void> {
  const names = await readdir(join(root, rel));
  for (const name of names) {
    if (rel === '' && name === '.git') continue;
    const path = rel === '' ? name : `${rel}/${name}`;
    const abs = join(root, path);
    const st = await lstat(abs);
    const perm = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (st.isDirectory()) {
      out.push(`dir  ${perm} ${path}/`);
      await walk(root, path, out);
    } else if (st.isSymbolicLink()) {
      out.push(`link      ${path} -> ${await readlink(abs)}`);
    } else if (st.isFile()) {
      const data = await readFile(abs);
      if (data.length !== st.size) throw new Error(`${path}: stat size ${st.size}, read ${data.length} bytes`);
      out.push(`file ${perm} ${path} ${sha1(data)} ${data.length}`);
    } else {
      out.push(`other ${perm} ${path}`);
    }
  }
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 12);
}
