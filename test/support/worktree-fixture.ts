// The fixture tree WorkTreeFs tests mount: contents, blob ids (sha1 of "blob <size>\0" + content,
// as git computes them) and the snapshot built from them by hand, without git or network.

import { createHash } from 'node:crypto';
import type { Oid } from '../../src/model/ids.js';
import { GIT_MODE_EXEC, GIT_MODE_FILE, GIT_MODE_SYMLINK, GIT_MODE_TREE, type TreeEntry } from '../../src/model/tree.js';
import { Snapshot } from '../../src/snapshot/snapshot.js';

/** The fixture tree: path → content (dirs implied; '->' prefix marks a symlink, '*' an exec file). */
export const FIXTURE: Readonly<Record<string, string>> = {
  'README.md': '# demo\n',
  'src/main.ts': 'export const x = 1;\n',
  'src/lib/util.ts': 'export function f() { return 42; }\n'.repeat(50),
  'src/lib/deep/a.txt': 'a\n',
  'src/lib/deep/b.txt': 'b\n',
  'bin/run.sh': '*#!/bin/sh\necho hi\n',
  'docs/guide.md': 'guide\n'.repeat(1000),
  'link-to-readme': '->README.md',
};

function blobOid(content: Buffer): Oid {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex') as Oid;
}

export function fixtureBlobs(): Map<string, { mode: number; data: Buffer; oid: Oid }> {
  const out = new Map<string, { mode: number; data: Buffer; oid: Oid }>();
  for (const [path, raw] of Object.entries(FIXTURE)) {
    const mode = raw.startsWith('->') ? GIT_MODE_SYMLINK : raw.startsWith('*') ? GIT_MODE_EXEC : GIT_MODE_FILE;
    const data = Buffer.from(mode === GIT_MODE_FILE ? raw : raw.slice(mode === GIT_MODE_SYMLINK ? 2 : 1));
    out.set(path, { mode, data, oid: blobOid(data) });
  }
  return out;
}

export function buildSnapshot(): Snapshot {
  const blobs = fixtureBlobs();
  const entries: TreeEntry[] = [];
  const dirs = new Set<string>();
  for (const path of blobs.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) entries.push({ path: d, mode: GIT_MODE_TREE, type: 'tree', oid: '0'.repeat(40) as Oid });
  for (const [path, b] of blobs) entries.push({ path, mode: b.mode, type: 'blob', oid: b.oid });
  entries.sort((a, b) => (a.path < b.path ? -1 : 1));
  const inos = new Map<string, number>();
  let next = 3;
  return Snapshot.build({
    commit: 'c'.repeat(40) as Oid, commitTime: 1_700_000_000, entries,
    sizes: new Map([...blobs.values()].map((b) => [b.oid, b.data.length])),
    inodeOf: (p) => { inos.set(p, next); return next++; },
  });
}

