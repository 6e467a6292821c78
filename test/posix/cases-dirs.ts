// Rows about directories: large listings, listing while deleting, entry types, directory link
// counts and listings that must follow changes immediately.

import type { Dirent } from 'node:fs';
import { link, mkdir, opendir, readdir, rename, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { codeOf, listing, posixCase, type PosixCase } from './case-kit.js';
import { runCommand } from './child-tools.js';

/**
 * Creates empty files with one touch(1) process. Setup, not the subject of these rows: from
 * Node each create is two thread-pool round trips (~1 ms each on a small VM), which would make
 * 5000 entries dominate the run; a child process also stays off this process's thread pool,
 * which a same-process FUSE server may need.
 */
async function createEmpty(dir: string, names: readonly string[]): Promise<void> {
  const r = await runCommand('touch', ['--', ...names], dir);
  if (r.code !== 0) throw new Error(`touch exited ${r.code ?? r.signal}: ${r.stderr.slice(0, 200)}`);
}

function uniqueCount(names: readonly string[]): number {
  return new Set(names).size;
}

/** Dirent type by predicate; one table for the d_type row. */
const DIRENT_TYPES: readonly (readonly [string, (e: Dirent) => boolean])[] = [
  ['file', (e) => e.isFile()],
  ['dir', (e) => e.isDirectory()],
  ['symlink', (e) => e.isSymbolicLink()],
  ['fifo', (e) => e.isFIFO()],
  ['socket', (e) => e.isSocket()],
  ['char', (e) => e.isCharacterDevice()],
  ['block', (e) => e.isBlockDevice()],
];

function direntType(e: Dirent): string {
  return DIRENT_TYPES.find(([, is]) => is(e))?.[0] ?? 'unknown';
}

// Varying name lengths vary the dirent record sizes, so page-sized readdir replies end at
// different places in the listing; 5000 entries take many FUSE_READDIR round trips.
const LARGE_COUNT = 5000;
const largeNames = Array.from({ length: LARGE_COUNT }, (_, i) => `e${String(i).padStart(4, '0')}-${'x'.repeat(i % 61)}`);

// Long names (about 120 bytes of dirent each) so 1000 entries span several getdents calls and
// the deletions below happen between them, where offset bookkeeping bugs show.
const DELETE_COUNT = 1000;
const deleteNames = Array.from({ length: DELETE_COUNT }, (_, i) => `d${String(i).padStart(4, '0')}-${'y'.repeat(100)}`);

export const dirCases: PosixCase[] = [
  posixCase(
    'readdir-5000-entries',
    async (d) => {
      await createEmpty(d, largeNames);
      const names = await readdir(d);
      const typed = await readdir(d, { withFileTypes: true });
      // opendir with a small buffer pulls the listing in many small batches.
      const iterated: string[] = [];
      for await (const e of await opendir(d, { bufferSize: 7 })) iterated.push(e.name);
      const expected = [...largeNames].sort();
      return {
        count: names.length,
        unique: uniqueCount(names),
        sortedEqual: JSON.stringify([...names].sort()) === JSON.stringify(expected),
        allFiles: typed.length === LARGE_COUNT && typed.every((e) => e.isFile()),
        iteratedCount: iterated.length,
        iteratedUnique: uniqueCount(iterated),
        iteratedSortedEqual: JSON.stringify(iterated.sort()) === JSON.stringify(expected),
      };
    },
    {
      count: LARGE_COUNT,
      unique: LARGE_COUNT,
      sortedEqual: true,
      allFiles: true,
      iteratedCount: LARGE_COUNT,
      iteratedUnique: LARGE_COUNT,
      iteratedSortedEqual: true,
    },
  ),

  // POSIX leaves it open whether entries removed after opendir are returned; entries that are
  // neither removed nor added must be returned exactly once. Only those guarantees are recorded.
  posixCase(
    'readdir-while-deleting',
    async (d) => {
      await createEmpty(d, deleteNames);
      const created = new Set(deleteNames);
      const unseen = new Set(deleteNames);
      const deletedUnseen = new Set<string>();
      const seenCounts = new Map<string, number>();
      const unlinkErrors: string[] = [];
      const tryUnlink = async (name: string) => {
        try {
          await unlink(join(d, name));
        } catch (err) {
          unlinkErrors.push(`${name.slice(0, 5)}:${codeOf(err)}`);
        }
      };
      const sortedDesc = [...deleteNames].sort().reverse();
      for await (const e of await opendir(d, { bufferSize: 1 })) {
        seenCounts.set(e.name, (seenCounts.get(e.name) ?? 0) + 1);
        unseen.delete(e.name);
        // Delete what was just returned (the rm -rf pattern) unless already deleted ...
        if (!deletedUnseen.has(e.name) && seenCounts.get(e.name) === 1) await tryUnlink(e.name);
        // ... and one entry the iteration has not reached yet.
        const victim = sortedDesc.find((n) => unseen.has(n) && !deletedUnseen.has(n));
        if (victim !== undefined) {
          deletedUnseen.add(victim);
          await tryUnlink(victim);
        }
      }
      const survivors = deleteNames.filter((n) => !deletedUnseen.has(n));
      return {
        noDuplicates: [...seenCounts.values()].every((c) => c === 1),
        noUnknownNames: [...seenCounts.keys()].every((n) => created.has(n)),
        survivorsSeenOnce: survivors.every((n) => seenCounts.get(n) === 1),
        unlinkErrors,
        remaining: await listing(d),
      };
    },
    { noDuplicates: true, noUnknownNames: true, survivorsSeenOnce: true, unlinkErrors: [], remaining: [] },
  ),

  posixCase(
    'readdir-entry-types',
    async (d) => {
      await writeFile(join(d, 'file'), '');
      await link(join(d, 'file'), join(d, 'hardlink'));
      await mkdir(join(d, 'dir'));
      await symlink('file', join(d, 'symlink'));
      await symlink('missing', join(d, 'dangling'));
      const fifo = await runCommand('mkfifo', ['-m', '0640', join(d, 'fifo')]);
      const entries = (await readdir(d, { withFileTypes: true }))
        .map((e) => [e.name, direntType(e)])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      return { mkfifoExit: fifo.code, entries };
    },
    {
      mkfifoExit: 0,
      entries: [
        ['dangling', 'symlink'],
        ['dir', 'dir'],
        ['fifo', 'fifo'],
        ['file', 'file'],
        ['hardlink', 'file'],
        ['symlink', 'symlink'],
      ],
    },
  ),

  // Directory nlink is 2 + subdirectories on ext4, tmpfs and xfs (btrfs says 1). find(1) and
  // other tree walkers use it to skip stat calls, so a FUSE mount should keep the convention.
  posixCase(
    'dir-nlink',
    async (d) => {
      const top = join(d, 'top');
      const nlink = async () => (await stat(top)).nlink;
      const seq: number[] = [];
      await mkdir(top);
      seq.push(await nlink());
      await mkdir(join(top, 'a'));
      await mkdir(join(top, 'b'));
      seq.push(await nlink());
      await writeFile(join(top, 'f'), '');
      seq.push(await nlink());
      await rmdir(join(top, 'a'));
      seq.push(await nlink());
      await rename(join(top, 'b'), join(d, 'b'));
      seq.push(await nlink());
      return { seq, parentAfterMoveIn: (await stat(d)).nlink };
    },
    { seq: [2, 4, 4, 3, 2], parentAfterMoveIn: 4 },
  ),

  posixCase(
    'readdir-reflects-changes',
    async (d) => {
      const seq: string[][] = [];
      await createEmpty(d, ['a', 'b', 'c']);
      seq.push(await listing(d));
      await unlink(join(d, 'b'));
      seq.push(await listing(d));
      await rename(join(d, 'a'), join(d, 'z'));
      seq.push(await listing(d));
      await mkdir(join(d, 'm'));
      await rename(join(d, 'c'), join(d, 'm', 'c'));
      seq.push(await listing(d), await listing(join(d, 'm')));
      return { seq };
    },
    { seq: [['a', 'b', 'c'], ['a', 'c'], ['c', 'z'], ['m', 'z'], ['c']] },
  ),
];
