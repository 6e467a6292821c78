// File edits the git scenarios apply to both work trees: small, named, and creating parent
// directories as an editor would.

import { appendFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes (creates or replaces) `path` under `dir`. */
export async function put(dir: string, path: string, content: string | Buffer, mode?: number): Promise<void> {
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await writeFile(join(dir, path), content, mode === undefined ? undefined : { mode });
}

export async function append(dir: string, path: string, content: string): Promise<void> {
  await appendFile(join(dir, path), content);
}

/** Replaces whatever is at `path` with a symlink to `target`. */
export async function link(dir: string, path: string, target: string): Promise<void> {
  await rm(join(dir, path), { force: true, recursive: true });
  await mkdir(dirname(join(dir, path)), { recursive: true });
  await symlink(target, join(dir, path));
}

export async function remove(dir: string, path: string): Promise<void> {
  await rm(join(dir, path), { recursive: true });
}
