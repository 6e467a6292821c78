// Helpers for the memfs unit tests: a fake request context, a DirentList that fills up, and
// path helpers over the handler API that keep lookup counts balanced.

import { constants as fsc } from 'node:fs';
import { FuseError } from '../errno.js';
import type { RequestContext } from '../handler.js';
import type { Attr, DirentInput, DirentList } from '../types.js';
import { MemFs } from './memfs.js';

export const ctx: RequestContext = { unique: 1n, uid: 0, gid: 0, pid: 1, signal: new AbortController().signal };
export const ROOT = 1;

/** A DirentList that takes `room` entries and then refuses, like a full reply buffer. */
export class Collector implements DirentList {
  readonly plus: boolean;
  readonly items: DirentInput[] = [];
  readonly #room: number;
  constructor(plus: boolean, room = Infinity) {
    this.plus = plus;
    this.#room = room;
  }
  add(d: DirentInput): boolean {
    if (this.items.length >= this.#room) return false;
    this.items.push(d);
    return true;
  }
}

/** The errno code `fn` fails with, or 'ok'. Other errors propagate. */
export function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof FuseError) return err.code;
    throw err;
  }
}

/** A read result as one buffer. */
export function bytes(r: Buffer | Buffer[]): Buffer {
  return Buffer.isBuffer(r) ? r : Buffer.concat(r);
}

/** Path helpers over the handler API that leave lookup counts balanced. */
export function ino(fs: MemFs, path: string): number {
  let id = ROOT;
  for (const part of path.split('/').filter((p) => p !== '')) {
    id = fs.lookup(ctx, id, part).nodeid;
    fs.forget([{ nodeid: id, nlookup: 1 }]);
  }
  return id;
}

/** [parent node, last name] of a path. */
export function split(fs: MemFs, path: string): [number, string] {
  const i = path.lastIndexOf('/');
  return [ino(fs, path.slice(0, i)), path.slice(i + 1)];
}

/** Builds a tree: paths ending in '/' are directories, others files holding their own path. */
export function build(paths: string[]): MemFs {
  const fs = new MemFs();
  for (const path of paths) {
    const [parent, name] = split(fs, path.replace(/\/$/, ''));
    if (path.endsWith('/')) {
      fs.forget([{ nodeid: fs.mkdir(ctx, parent, name, 0o755, 0).nodeid, nlookup: 1 }]);
      continue;
    }
    const { entry, open } = fs.create(ctx, parent, name, 0o644, fsc.O_RDWR, 0);
    fs.write(ctx, entry.nodeid, open.fh, 0, Buffer.from(path), 0);
    fs.release(ctx, entry.nodeid, open.fh, 0);
    fs.forget([{ nodeid: entry.nodeid, nlookup: 1 }]);
  }
  fs.checkInvariants();
  return fs;
}

export function readAll(fs: MemFs, id: number): string {
  const { fh } = fs.open(ctx, id, fsc.O_RDONLY);
  const data = bytes(fs.read(ctx, id, fh, 0, 1 << 20));
  fs.release(ctx, id, fh, 0);
  return data.toString();
}

/** Lists a directory in pages of `room` entries, resuming from the last `off`. */
export function list(fs: MemFs, dir: number, room: number, plus = false): DirentInput[] {
  const { fh } = fs.opendir(ctx, dir, 0);
  const all: DirentInput[] = [];
  for (let offset = 0; ; ) {
    const page = new Collector(plus, room);
    fs.readdir(ctx, dir, fh, offset, page);
    if (page.items.length === 0) break;
    all.push(...page.items);
    offset = (page.items.at(-1) as DirentInput).off;
  }
  fs.releasedir(ctx, dir, fh);
  return all;
}

export function nlink(fs: MemFs, id: number): number {
  return fs.getattr(ctx, id, undefined).attr.nlink;
}

export function ns(attr: Attr, which: 'atime' | 'mtime' | 'ctime'): bigint {
  return BigInt(attr[`${which}Sec`]) * 1_000_000_000n + BigInt(attr[`${which}Nsec`]);
}
