// Seeded random filesystem operations applied to two roots (a native directory, the control,
// and a mount), comparing every outcome, and the tree listing the final states are compared by.
// Paths come from a small pool so that operations collide often.

import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import {
  chmod, lstat, mkdir, open, readdir, readFile, readlink, rename, rmdir, stat, symlink, truncate, unlink, utimes, type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { prng as rng } from '../../src/util/prng.js';

export { prng as rng } from '../../src/util/prng.js';

export const hash = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** Every path under `dir` (skipping `skip` at the top) with type, mode, size, hash, target, nlink. */
export async function listing(dir: string, skip: readonly string[] = [], prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!prefix && skip.includes(name)) continue;
    const p = join(dir, name);
    const st = await lstat(p);
    const rel = prefix + name;
    if (st.isDirectory()) {
      out.push(`${rel}/ ${(st.mode & 0o7777).toString(8)} nlink=${st.nlink}`);
      out.push(...await listing(p, skip, rel + '/'));
    } else if (st.isSymbolicLink()) {
      out.push(`${rel} -> ${await readlink(p)}`);
    } else {
      out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${st.size} ${hash(await readFile(p))} nlink=${st.nlink}`);
    }
  }
  return out;
}

export interface Pool {
  /** Directories (relative, '' is the root) names are drawn under. */
  dirs: readonly string[];
  names: readonly string[];
}

type Outcome = string;

/** One side: a root and its open handles (same slot numbers on both sides). */
interface Side { root: string; handles: Array<FileHandle | undefined> }

export interface Op {
  text: string;
  run(s: Side): Promise<unknown>;
}

const HANDLE_SLOTS = 6;
const FLAG_CHOICES = [
  fsc.O_RDONLY, fsc.O_WRONLY, fsc.O_RDWR, fsc.O_RDWR | fsc.O_CREAT, fsc.O_WRONLY | fsc.O_CREAT, fsc.O_RDWR | fsc.O_CREAT, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC,
  fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, fsc.O_WRONLY | fsc.O_APPEND, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT,
  fsc.O_RDWR | fsc.O_TRUNC, fsc.O_RDONLY | fsc.O_CREAT, fsc.O_RDWR | fsc.O_CREAT, fsc.O_RDWR | fsc.O_CREAT | fsc.O_APPEND,
];
const MODES = [0o644, 0o600, 0o755, 0o700, 0o444, 0o000, 0o777, 0o1777, 0o2755, 0o4755];

/** Builds a random operation; `run` is applied to each side in turn. */
export function randomOp(r: () => number, pool: Pool, openNow: readonly number[] = []): Op {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (n: number): number => Math.floor(r() * n);
  const path = (): string => {
    const d = pick(pool.dirs);
    // Sometimes a directory of the pool itself, so that dirs get renamed, removed, written to.
    if (r() < 0.08 && d !== '') return d;
    return d === '' ? pick(pool.names) : `${d}/${pick(pool.names)}`;
  };
  const data = (): Buffer => {
    const n = 1 + int(r() < 0.8 ? 300 : r() < 0.9 ? 9000 : 300_000); // > max_write sometimes
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  // Mostly a handle that is open (on the control side; the mount must agree), sometimes any slot.
  const slot = (): number => (openNow.length > 0 && r() < 0.95 ? pick(openNow) : int(HANDLE_SLOTS));
  const roll = r();
  const at = (s: Side, p: string): string => join(s.root, p);
  const noHandle = (): never => { throw Object.assign(new Error('no handle'), { code: 'NOHANDLE' }); };
  const table: Array<[number, () => Op, 'handle'?]> = [
    [14, () => {
      const p = path(); const flags = pick(FLAG_CHOICES); const mode = pick([0o644, 0o600, 0o755]); const h = slot();
      return { text: `open ${p} 0x${flags.toString(16)} ${mode.toString(8)} -> #${h}`, run: async (s) => {
        await s.handles[h]?.close();
        s.handles[h] = undefined;
        s.handles[h] = await open(at(s, p), flags, mode);
        return 'ok';
      } };
    }],
    [12, () => {
      const h = slot(); const b = data(); const off = r() < 0.3 ? 0 : int(12000);
      return { text: `write #${h} ${b.length}@${off}`, run: async (s) => {
        const fh = s.handles[h] ?? noHandle();
        return (await fh.write(b, 0, b.length, off)).bytesWritten;
      } };
    }, 'handle'],
    [8, () => {
      const h = slot(); const off = int(12000); const len = 1 + int(8000);
      return { text: `read #${h} ${len}@${off}`, run: async (s) => {
        const fh = s.handles[h] ?? noHandle();
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        return `${bytesRead} ${hash(buf.subarray(0, bytesRead))}`;
      } };
    }, 'handle'],
    [3, () => {
      const h = slot(); const len = pick([0, int(100), int(15000)]);
      return { text: `ftruncate #${h} ${len}`, run: async (s) => (await (s.handles[h] ?? noHandle()).truncate(len), 'ok') };
    }, 'handle'],
    [3, () => {
      const h = slot();
      return { text: `fstat #${h}`, run: async (s) => {
        const st = await (s.handles[h] ?? noHandle()).stat();
        return `${st.size} ${(st.mode & 0o177777).toString(8)} nlink=${st.nlink}`;
      } };
    }, 'handle'],
    [2, () => {
      const h = slot();
      return { text: `fsync #${h}`, run: async (s) => (await (s.handles[h] ?? noHandle()).sync(), 'ok') };
    }, 'handle'],
    [4, () => {
      const h = slot();
      return { text: `close #${h}`, run: async (s) => {
        const fh = s.handles[h] ?? noHandle();
        s.handles[h] = undefined;
        await fh.close();
        return 'ok';
      } };
    }, 'handle'],
    [4, () => {
      const p = path(); const len = pick([0, int(50), int(4000), int(15000)]);
      return { text: `truncate ${p} ${len}`, run: async (s) => (await truncate(at(s, p), len), 'ok') };
    }],
    [5, () => {
      const p = path(); const mode = pick([0o755, 0o700, 0o1777, 0o2775]);
      return { text: `mkdir ${p} ${mode.toString(8)}`, run: async (s) => (await mkdir(at(s, p), mode), 'ok') };
    }],
    [4, () => {
      const p = path();
      return { text: `rmdir ${p}`, run: async (s) => (await rmdir(at(s, p)), 'ok') };
    }],
    [5, () => {
      const p = path();
      return { text: `unlink ${p}`, run: async (s) => (await unlink(at(s, p)), 'ok') };
    }],
    [9, () => {
      const a = path(); const b = r() < 0.1 && a.includes('/') ? `${a}/${pick(pool.names)}` : path();
      return { text: `rename ${a} ${b}`, run: async (s) => (await rename(at(s, a), at(s, b)), 'ok') };
    }],
    [3, () => {
      const p = path(); const target = r() < 0.5 ? pick(pool.names) : r() < 0.5 ? `../${path()}` : path();
      return { text: `symlink ${target} ${p}`, run: async (s) => (await symlink(target, at(s, p)), 'ok') };
    }],
    [3, () => {
      const p = path();
      return { text: `readlink ${p}`, run: async (s) => readlink(at(s, p)) };
    }],
    [3, () => {
      const p = path(); const mode = pick(MODES);
      return { text: `chmod ${p} ${mode.toString(8)}`, run: async (s) => (await chmod(at(s, p), mode), 'ok') };
    }],
    [2, () => {
      const p = path(); const atime = 1_000_000 + int(1e9); const mtime = 1_000_000 + int(1e9);
      return { text: `utimes ${p} ${atime} ${mtime}`, run: async (s) => {
        await utimes(at(s, p), atime, mtime);
        return `${(await stat(at(s, p))).mtimeMs}`;
      } };
    }],
    [5, () => {
      const p = path();
      return { text: `lstat ${p}`, run: async (s) => {
        const st = await lstat(at(s, p));
        return `${(st.mode & 0o177777).toString(8)} ${st.isDirectory() ? '-' : st.size} nlink=${st.nlink}`;
      } };
    }],
    [4, () => {
      const p = path();
      return { text: `readFile ${p}`, run: async (s) => hash(await readFile(at(s, p))) };
    }],
    [2, () => {
      const p = path();
      return { text: `readdir ${p}`, run: async (s) => (await readdir(at(s, p))).filter((n) => n !== '.git').sort().join(',') };
    }],
  ];
  // Handle operations are drawn only while a handle is open (on the control side).
  const live = table.filter(([, , h]) => h === undefined || openNow.length > 0);
  const total = live.reduce((a, [w]) => a + w, 0);
  let x = roll * total;
  for (const [w, make] of live) {
    if ((x -= w) < 0) return make();
  }
  return table[0]![1]();
}

/** The outcome of an op as a comparable string: its value, or its errno code. */
export async function outcome(op: Op, s: Side): Promise<Outcome> {
  try {
    return `= ${String(await op.run(s))}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    return `! ${code}`;
  }
}

export function openSlots(s: Side): number[] {
  return s.handles.flatMap((h, i) => (h ? [i] : []));
}

export function newSide(root: string): Side {
  return { root, handles: Array.from({ length: HANDLE_SLOTS }, () => undefined) };
}

export async function closeAll(s: Side): Promise<void> {
  for (let i = 0; i < s.handles.length; i++) {
    const fh = s.handles[i];
    s.handles[i] = undefined;
    await fh?.close().catch(() => {});
  }
}
