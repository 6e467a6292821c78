// A deterministic synthetic repository for benchmarks, written with `git fast-import` (seconds
// for tens of thousands of files): a source tree with manifests, config, docs and a few large
// binaries, plus a second branch that changes some files. Same seed → same objects.

import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { runGit } from '../src/gitstore/git-run.js';

export interface SyntheticShape {
  files: number;
  /** Files per directory (directories nest two levels). */
  perDir: number;
  /** Number of large binary files and their size in bytes. */
  binaries: number;
  binarySize: number;
  /** Files changed on the second branch. */
  branchChanges: number;
  /** Commits of history before the tip, each changing `changesPerCommit` files. */
  history: number;
  changesPerCommit: number;
  seed: number;
}

export const SHAPE_20K: SyntheticShape = { files: 20_000, perDir: 40, binaries: 3, binarySize: 50 << 20, branchChanges: 1000, history: 500, changesPerCommit: 10, seed: 42 };
/**
 * Roughly cloudflare/workers-sdk: 5,470 files at HEAD and a history whose full clone costs several
 * times the tip (the real one has ~8k commits; 2,000 commits of 8 changed files keep the
 * generator under ten seconds).
 */
export const SHAPE_WORKERS_SDK: SyntheticShape = { files: 5_470, perDir: 25, binaries: 4, binarySize: 3 << 20, branchChanges: 300, history: 2000, changesPerCommit: 8, seed: 7 };

class Rng {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0 || 1; }
  next(): number {
    let x = this.#s;
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    this.#s = x;
    return x;
  }
  below(n: number): number { return this.next() % n; }
}

const EXT = ['ts', 'ts', 'ts', 'js', 'json', 'md', 'go', 'rs', 'py', 'css', 'yaml', 'txt'];
const WORDS = 'const let function return import export from async await if else for while class interface type value result error data path file tree node blob commit'.split(' ');

function text(rng: Rng, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = WORDS[rng.below(WORDS.length)]! + (rng.below(8) === 0 ? '\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

function binary(rng: Rng, bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) b.writeUInt32LE(rng.next(), i);
  return b;
}

function pathOf(i: number, shape: SyntheticShape, rng: Rng): string {
  const dir = Math.floor(i / shape.perDir);
  const top = `pkg${Math.floor(dir / 20)}`;
  const sub = `mod${dir % 20}`;
  if (i % shape.perDir === 0) return `${top}/${sub}/package.json`;
  return `${top}/${sub}/file${i}.${EXT[rng.below(EXT.length)]}`;
}

type Blob = { path: string; data: Buffer; mode: string };

function tree(shape: SyntheticShape): Blob[] {
  const rng = new Rng(shape.seed);
  const out: Blob[] = [{ path: 'README.md', data: text(rng, 4000), mode: '100644' }, { path: 'package.json', data: Buffer.from('{"name":"synthetic","private":true}\n'), mode: '100644' }];
  for (let i = 0; i < shape.files - 2 - shape.binaries; i++) {
    const size = rng.below(10) === 0 ? 20_000 + rng.below(60_000) : 200 + rng.below(6000);
    out.push({ path: pathOf(i, shape, rng), data: text(rng, size), mode: rng.below(50) === 0 ? '100755' : '100644' });
  }
  for (let b = 0; b < shape.binaries; b++) out.push({ path: `assets/blob${b}.bin`, data: binary(rng, shape.binarySize), mode: '100644' });
  return out;
}

function commitCmd(branch: string, msg: string, time: number, files: Blob[], from?: string): Buffer[] {
  const head = `commit refs/heads/${branch}\nauthor Bench <bench@example.com> ${time} +0000\ncommitter Bench <bench@example.com> ${time} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}\n${from ? `from ${from}\n` : ''}`;
  const parts: Buffer[] = [Buffer.from(head)];
  for (const f of files) {
    parts.push(Buffer.from(`M ${f.mode} inline ${f.path}\ndata ${f.data.length}\n`), f.data, Buffer.from('\n'));
  }
  parts.push(Buffer.from('\n'));
  return parts;
}

/** Creates a bare repo at `dir` with branches `main` and `feature`; returns main's file count. */
export async function makeSyntheticRepo(dir: string, shape: SyntheticShape): Promise<{ files: number; bytes: number }> {
  await mkdir(dir, { recursive: true });
  await runGit(['init', '-q', '--bare', '-b', 'main', dir]);
  const files = tree(shape);
  const rng = new Rng(shape.seed + 1);
  const textFiles = files.length - shape.binaries;
  const changed = Array.from({ length: shape.branchChanges }, () => files[2 + rng.below(files.length - 2 - shape.binaries)]!)
    .map((f) => ({ ...f, data: Buffer.concat([f.data, Buffer.from('\n// changed on feature\n')]) }));
  const child = spawn('git', ['-C', dir, 'fast-import', '--quiet'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise<void>((res, rej) => child.on('close', (code) => (code === 0 ? res() : rej(new Error(`fast-import failed: ${err}`)))));
  const write = (b: Buffer) => new Promise<void>((res) => (child.stdin.write(b) ? res() : child.stdin.once('drain', res)));
  // History: the first commit has every file with a different prefix line; each later commit
  // rewrites a few files; the last one restores exactly `files`, the tip every row compares with.
  const early = files.map((f, i) => (i < textFiles ? { ...f, data: Buffer.concat([Buffer.from(`// v0 ${i}\n`), f.data]) } : f));
  for (const b of commitCmd('main', 'initial', 1_600_000_000, early)) await write(b);
  const hist = new Rng(shape.seed + 2);
  for (let c = 1; c <= shape.history; c++) {
    const touched = Array.from({ length: shape.changesPerCommit }, () => hist.below(textFiles))
      .map((i) => ({ ...files[i]!, data: Buffer.concat([Buffer.from(`// v${c} ${i}\n`), files[i]!.data]) }));
    for (const b of commitCmd('main', `change ${c}`, 1_600_000_000 + c * 60, touched)) await write(b);
  }
  for (const b of commitCmd('main', 'tip', 1_700_000_000, files.slice(0, textFiles))) await write(b);
  for (const b of commitCmd('feature', 'change files', 1_700_000_100, changed, 'refs/heads/main')) await write(b);
  child.stdin.end();
  await done;
  return { files: files.length, bytes: files.reduce((n, f) => n + f.data.length, 0) };
}
