// Blobs that are part of a tree's shape rather than its content: symlink targets (`ls -l`,
// `find -ls` and path resolution read them) and the `.gitignore`/`.gitattributes` files that
// `git status` reads. They are few and tiny: add-repo fetches them with the tree, in one request,
// and the daemon looks for them in the shared cache before it mounts.

import { GIT_MODE_SYMLINK } from '../model/tree.js';

const SHAPE_FILES = new Set(['.gitignore', '.gitattributes']);

export function isShapeBlob(path: string, mode: number): boolean {
  return mode === GIT_MODE_SYMLINK || SHAPE_FILES.has(path.slice(path.lastIndexOf('/') + 1));
}
