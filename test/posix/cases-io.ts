// Rows about file contents: create, positional I/O, O_APPEND, O_EXCL, O_TRUNC, truncation,
// large files, sync calls, copying and coherence between handles.

import { copyFile, open, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  bigStat,
  listing,
  outcome,
  posixCase,
  readAt,
  sha256,
  statOf,
  tick,
  withHandle,
  type PosixCase,
} from './case-kit.js';
import { runPython } from './child-tools.js';

/** Opens and closes at once: 'ok' or the errno code. A success must not leak the descriptor. */
export function tryOpen(path: string, flags: string, mode?: number): Promise<string> {
  return outcome(open(path, flags, mode).then((fh) => fh.close()));
}

const MIB = 1024 * 1024;
const LARGE_SIZE = 3 * MIB;

let largePattern: Buffer | undefined;

/**
 * 3 MiB from a xorshift32 stream: no period that is a power of two, so a read served from the
 * wrong offset or page cannot match by accident (a repeating pattern would hide such bugs).
 */
function pattern(): Buffer {
  if (largePattern !== undefined) return largePattern;
  const buf = Buffer.alloc(LARGE_SIZE);
  let x = 0x9e3779b9;
  for (let i = 0; i < LARGE_SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  largePattern = buf;
  return buf;
}

/** Odd offsets that straddle page (4 KiB), FUSE max_write (128 KiB) and MiB boundaries, and EOF. */
const ODD_READS: readonly (readonly [offset: number, length: number])[] = [
  [1, 12345],
  [4095, 3],
  [4097, 65537],
  [131071, 131073],
  [MIB - 1, 7],
  [MIB + 1, 99999],
  [2 * MIB + 4093, 10007],
  [LARGE_SIZE - 7, 12345],
  [LARGE_SIZE, 10],
];

const TRUNCATE_PATH_SCRIPT = `
import os, sys
try:
    os.truncate(sys.argv[1], int(sys.argv[2])); print('ok')
except OSError as e:
    import errno; print(errno.errorcode[e.errno])
`;

export const ioCases: PosixCase[] = [
  posixCase(
    'create-read-back',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'hello world\n', { mode: 0o644 });
      return { content: await readFile(p, 'utf8'), stat: await statOf(p), names: await listing(d) };
    },
    { content: 'hello world\n', names: ['f'] },
  ),

  posixCase(
    'pwrite-past-eof-and-short-reads',
    async (d) => {
      const p = join(d, 'f');
      return withHandle(open(p, 'w+', 0o644), async (fh) => {
        await fh.write('abc', 0);
        await fh.write('xyz', 10);
        const small = (await readFile(p)).toString('hex');
        const acrossEof = await readAt(fh, 8, 10);
        const atEof = await readAt(fh, 13, 4);
        const beyondEof = await readAt(fh, 100, 4);
        // A hole bigger than any FUSE request: the server must zero-fill, not reuse buffers.
        const far = 2 * MIB + 1;
        await fh.write('Z', far);
        const all = await readFile(p);
        return {
          small,
          acrossEof: acrossEof.toString('hex'),
          atEofBytes: atEof.length,
          beyondEofBytes: beyondEof.length,
          farSize: (await fh.stat()).size,
          farGapZero: all.subarray(13, far).every((b) => b === 0),
          farTail: all.subarray(far).toString(),
        };
      });
    },
    { small: '616263' + '00'.repeat(7) + '78797a', acrossEof: '000078797a', atEofBytes: 0, farGapZero: true },
  ),

  posixCase(
    'append-ignores-positions',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'base');
      const steps: string[] = [];
      const fa = await open(p, 'a');
      const fw = await open(p, 'r+');
      try {
        await fa.write('A');
        steps.push(await readFile(p, 'utf8'));
        // Linux pwrite(2) on an O_APPEND descriptor appends whatever position is given.
        await fa.write('B', 0);
        steps.push(await readFile(p, 'utf8'));
        // The file grows through another handle; the next append must land after that.
        await fw.write('0123456789', 0);
        await fa.write('C');
        steps.push(await readFile(p, 'utf8'));
      } finally {
        await fa.close();
        await fw.close();
      }
      return { steps };
    },
    { steps: ['baseA', 'baseAB', '0123456789C'] },
  ),

  posixCase(
    'o-excl-create',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'keep');
      const existing = await tryOpen(p, 'wx');
      await symlink('absent-target', join(d, 'dangling'));
      return {
        existing,
        contentAfter: await readFile(p, 'utf8'),
        // O_EXCL never follows a symlink, even a dangling one.
        danglingSymlink: await tryOpen(join(d, 'dangling'), 'wx'),
        absent: await tryOpen(join(d, 'new'), 'wx', 0o600),
        absentStat: await statOf(join(d, 'new')),
      };
    },
    { existing: 'EEXIST', contentAfter: 'keep', danglingSymlink: 'EEXIST', absent: 'ok' },
  ),

  posixCase(
    'open-o-trunc',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'some long content');
      const before = await bigStat(p);
      await tick();
      const result = await tryOpen(p, 'w');
      const after = await bigStat(p);
      return {
        result,
        size: Number(after.size),
        sameIno: after.ino === before.ino,
        mtimeAdvanced: after.mtimeNs > before.mtimeNs,
        ctimeAdvanced: after.ctimeNs > before.ctimeNs,
      };
    },
    { result: 'ok', size: 0, sameIno: true, mtimeAdvanced: true, ctimeAdvanced: true },
  ),

  posixCase(
    'truncate-up-down',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'hello world');
      const hex = async () => (await readFile(p)).toString('hex');
      await truncate(p, 14);
      const up = await hex();
      await truncate(p, 5);
      const down = await hex();
      // Growing again must expose zeros, not the bytes that were cut off.
      await truncate(p, 8);
      const upAgain = await hex();
      return {
        up,
        down,
        upAgain,
        missing: await outcome(truncate(join(d, 'absent'), 1)),
        directory: await outcome(truncate(d, 1)),
      };
    },
    {
      up: '68656c6c6f20776f726c64000000',
      down: '68656c6c6f',
      upAgain: '68656c6c6f000000',
      missing: 'ENOENT',
      directory: 'EISDIR',
    },
  ),

  posixCase(
    'ftruncate-via-handle',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'hello');
      return withHandle(open(p, 'r+'), async (fh) => {
        await fh.truncate(2);
        const down = (await readAt(fh, 0, 16)).toString('hex');
        const sizeByPath = (await statOf(p))['size'] ?? null;
        await fh.truncate(6);
        const up = (await readAt(fh, 0, 16)).toString('hex');
        return { down, sizeByPath, up, sizeByHandle: (await fh.stat()).size };
      });
    },
    { down: '6865', sizeByPath: 2, up: '686500000000', sizeByHandle: 6 },
  ),

  // truncate(2) on a path reaches FUSE as SETATTR without a file handle; Node's own
  // fs.truncate opens the file first, so this row goes through python's os.truncate.
  posixCase(
    'truncate-syscall-by-path',
    async (d) => {
      const p = join(d, 'f');
      await writeFile(p, 'abcdef');
      const result = (await runPython(TRUNCATE_PATH_SCRIPT, [p, '3'])).trim();
      const missing = (await runPython(TRUNCATE_PATH_SCRIPT, [join(d, 'absent'), '3'])).trim();
      return { result, content: await readFile(p, 'utf8'), missing };
    },
    { result: 'ok', content: 'abc', missing: 'ENOENT' },
  ),

  posixCase(
    'large-file-3mib',
    async (d) => {
      const data = pattern();
      const p = join(d, 'big');
      await writeFile(p, data);
      // A second copy written in odd-sized sequential chunks, as a streaming writer would.
      const q = join(d, 'big-chunked');
      await withHandle(open(q, 'w'), async (fh) => {
        for (let off = 0; off < data.length; off += 7777) await fh.write(data.subarray(off, off + 7777));
      });
      const reads = await withHandle(open(p, 'r'), async (fh) => {
        const out = [];
        for (const [offset, length] of ODD_READS) {
          const got = await readAt(fh, offset, length);
          out.push({ offset, bytes: got.length, matches: got.equals(data.subarray(offset, offset + length)) });
        }
        return out;
      });
      const sequential = await withHandle(open(p, 'r'), async (fh) => {
        const parts: Buffer[] = [];
        for (;;) {
          const buf = Buffer.alloc(65537);
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          parts.push(buf.subarray(0, bytesRead));
        }
        return sha256(Buffer.concat(parts));
      });
      const expected = sha256(data);
      return {
        size: (await statOf(p))['size'] ?? null,
        wholeMatches: sha256(await readFile(p)) === expected,
        chunkedWriteMatches: sha256(await readFile(q)) === expected,
        sequentialMatches: sequential === expected,
        sha256: expected,
        reads,
      };
    },
    { size: LARGE_SIZE, wholeMatches: true, chunkedWriteMatches: true, sequentialMatches: true },
  ),

  posixCase(
    'fsync-fdatasync',
    async (d) => {
      const p = join(d, 'f');
      const file = await withHandle(open(p, 'w'), async (fh) => {
        await fh.write('data');
        return { fsync: await outcome(fh.sync()), fdatasync: await outcome(fh.datasync()) };
      });
      // fsync on a directory handle: FUSE_FSYNCDIR, which editors and git issue after renames.
      const dir = await withHandle(open(d, 'r'), async (fh) => outcome(fh.sync()));
      return { ...file, dirFsync: dir, content: await readFile(p, 'utf8') };
    },
    { fsync: 'ok', fdatasync: 'ok', dirFsync: 'ok', content: 'data' },
  ),

  posixCase(
    'copy-file',
    async (d) => {
      const src = join(d, 'src');
      const data = pattern().subarray(0, 300_001);
      await writeFile(src, data, { mode: 0o640 });
      const dst = join(d, 'dst');
      const result = await outcome(copyFile(src, dst));
      return { result, matches: sha256(await readFile(dst)) === sha256(data), stat: await statOf(dst) };
    },
    { result: 'ok', matches: true },
  ),

  posixCase(
    'two-handles-coherent',
    async (d) => {
      const p = join(d, 'f');
      const fw = await open(p, 'w+');
      try {
        return await withHandle(open(p, 'r'), async (fr) => {
          // No close or fsync in between: a second handle and a path stat see writes at once.
          await fw.write('first write', 0);
          const seen = (await readAt(fr, 0, 64)).toString();
          const sizeByPath = (await statOf(p))['size'] ?? null;
          await fw.truncate(5);
          const afterTruncate = (await readAt(fr, 0, 64)).toString();
          await fw.write('!', 9);
          const afterGapWrite = (await readAt(fr, 0, 64)).toString('hex');
          return { seen, sizeByPath, afterTruncate, afterGapWrite };
        });
      } finally {
        await fw.close();
      }
    },
    { seen: 'first write', sizeByPath: 11, afterTruncate: 'first', afterGapWrite: '66697273740000000021' },
  ),
];
