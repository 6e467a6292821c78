// The pack reader against packs real git writes (OFS_DELTA and REF_DELTA flavours, every object
// compared with `git cat-file`), and against hand-made packs git would never write: bases after
// their deltas, cycles, hostile sizes and instructions, truncation and bit flips, each of which
// must end in PackError, never in a crash, a huge allocation or a hang.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { addCommit, blobOid, gitBytes, makeRepo, type FixtureFile, type FixtureRepo } from '../../test/support/git-fixtures.js';
import type { Oid } from '../model/ids.js';
import { hashObject } from './git-object.js';
import { PackError, readPack, readPackEntries, type PackEntryKind, type PackObject } from './pack-reader.js';
import { buildPack, copyOp, delta, encodeDistance, insertOp, reseal, seal, TYPE, type EntrySpec } from './testing/pack-builder.js';

let dir: string;
let repo: FixtureRepo;

/** Text that git deltifies well: many lines, each version changing a few. */
function variant(seed: number, lines = 4000): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(i % 997 === seed % 997 ? `changed line ${i} in version ${seed}` : `line ${i}: the quick brown fox ${i * 7}`);
  return `${out.join('\n')}\n`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'afs-pack-'));
  const files: Record<string, FixtureFile> = { 'random.bin': randomBytes(3 * 2 ** 20), 'empty': '', 'small.txt': 'hi\n' };
  for (let v = 0; v < 12; v++) files[`similar/v${v}.txt`] = variant(v * 37);
  repo = await makeRepo(join(dir, 'srv'), files);
  // A second commit: trees and commits that deltify against the first ones, and a tag object.
  await addCommit(repo.bare, { 'similar/v0.txt': variant(5000), 'new.txt': 'new\n' });
  await gitBytes(['--git-dir', repo.bare, '-c', 'user.name=T', '-c', 'user.email=t@e', 'tag', '-a', '-m', 'tagged', 'v1', 'main']);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every object of the fixture as git sees it: `cat-file --batch-all-objects --batch`. */
async function gitObjects(): Promise<Map<Oid, PackObject>> {
  const out = await gitBytes(['--git-dir', repo.bare, 'cat-file', '--batch-all-objects', '--batch']);
  const objects = new Map<Oid, PackObject>();
  for (let pos = 0; pos < out.length;) {
    const nl = out.indexOf(0x0a, pos);
    const [oid, type, size] = out.toString('latin1', pos, nl).split(' ');
    const data = out.subarray(nl + 1, nl + 1 + Number(size));
    objects.set(oid as Oid, { type: type as PackObject['type'], data });
    pos = nl + 1 + data.length + 1;
  }
  return objects;
}

/** All objects reachable from every ref, deltas recomputed by git with or without OFS_DELTA. */
function gitPack(ofs: boolean): Promise<Buffer> {
  const args = ['--git-dir', repo.bare, 'pack-objects', '--stdout', '--all', '--no-reuse-delta', '--no-reuse-object', '-q'];
  return gitBytes(ofs ? [...args, '--delta-base-offset'] : args, '');
}

function kinds(pack: Buffer): Map<PackEntryKind, number> {
  const counts = new Map<PackEntryKind, number>();
  for (const e of readPackEntries(pack)) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  return counts;
}

function assertCorrupt(fn: () => unknown, pattern?: RegExp, code = 'pack-corrupt'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PackError, `expected PackError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

for (const ofs of [true, false]) {
  test(`a git pack with ${ofs ? 'OFS_DELTA' : 'REF_DELTA'} entries reads back every object byte-exact`, async (t) => {
    const pack = await gitPack(ofs);
    const counts = kinds(pack);
    t.diagnostic(`${pack.length} bytes: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.ok((counts.get(ofs ? 'ofs-delta' : 'ref-delta') ?? 0) >= 5, 'git deltified the similar files');
    assert.equal(counts.get(ofs ? 'ref-delta' : 'ofs-delta'), undefined);
    const started = performance.now();
    const objects = readPack(pack);
    t.diagnostic(`readPack: ${objects.size} objects in ${(performance.now() - started).toFixed(1)} ms`);
    const expected = await gitObjects();
    assert.equal(objects.size, expected.size);
    for (const [oid, want] of expected) {
      const got = objects.get(oid);
      assert.ok(got, `object ${oid} (${want.type}) missing`);
      assert.equal(got.type, want.type, oid);
      assert.ok(got.data.equals(want.data), `content of ${oid}`);
    }
    assert.ok([...objects.values()].some((o) => o.type === 'tag'));
  });
}

test('a REF_DELTA whose base comes later, and a chain mixing both kinds', () => {
  const base = Buffer.from(randomBytes(70_000).toString('hex')); // 140 000 bytes: copies of 0x10000
  const mid = Buffer.concat([base.subarray(0, 0x10000), Buffer.from('middle'), base.subarray(100_000)]);
  const top = Buffer.concat([Buffer.from('top:'), mid.subarray(0, 0x10000), mid.subarray(0x10000, 0x10000 + 3)]);
  const midDelta = delta(base.length, mid.length, copyOp(0, 0x10000), insertOp('middle'), copyOp(100_000, base.length - 100_000));
  const topDelta = delta(mid.length, top.length, insertOp('top:'), copyOp(0, 0x10000), copyOp(0x10000, 3));
  const pack = buildPack([
    { code: TYPE.refDelta, refBase: blobOid(mid), data: topDelta }, // base resolved later
    { code: TYPE.blob, data: base },
    { code: TYPE.ofsDelta, ofsBase: 1, data: midDelta },
  ]);
  const objects = readPack(pack);
  assert.deepEqual([...objects.keys()].sort(), [blobOid(base), blobOid(mid), blobOid(top)].sort());
  assert.ok(objects.get(blobOid(top))!.data.equals(top));
  assert.ok(objects.get(blobOid(mid))!.data.equals(mid));
});

test('a 500-deep delta chain resolves without recursion', () => {
  const entries: EntrySpec[] = [{ code: TYPE.blob, data: Buffer.from('v0') }];
  let current = Buffer.from('v0');
  for (let i = 1; i <= 500; i++) {
    const next = Buffer.concat([current, Buffer.from(`+${i}`)]);
    entries.push({ code: TYPE.ofsDelta, ofsBase: i - 1, data: delta(current.length, next.length, copyOp(0, current.length), insertOp(`+${i}`)) });
    current = next;
  }
  const objects = readPack(buildPack(entries));
  assert.equal(objects.size, 501);
  assert.ok(objects.get(blobOid(current))!.data.equals(current));
});

test('OFS_DELTA distances use the offset encoding, not the plain varint', () => {
  // 128 is one group in a plain varint, but [0x80, 0x00] here: (0 + 1) * 128 + 0.
  assert.deepEqual([...encodeDistance(127)], [0x7f]);
  assert.deepEqual([...encodeDistance(128)], [0x80, 0x00]);
  assert.deepEqual([...encodeDistance(16_511)], [0xff, 0x7f]);
  assert.deepEqual([...encodeDistance(16_512)], [0x80, 0x80, 0x00]);
  const filler = randomBytes(20_000); // incompressible: the delta sits > 16 511 bytes after its base
  const pack = buildPack([
    { code: TYPE.blob, data: Buffer.from('base') },
    { code: TYPE.blob, data: filler },
    { code: TYPE.ofsDelta, ofsBase: 0, data: delta(4, 8, copyOp(0, 4), insertOp('more')) },
  ]);
  const e = readPackEntries(pack);
  assert.ok(e[2]!.offset - e[0]!.offset > 16_512);
  assert.equal(e[2]!.baseOffset, e[0]!.offset);
  assert.ok(readPack(pack).get(blobOid('basemore')));
});

test('objects of every type get the id git would give them', () => {
  const tree = Buffer.concat([Buffer.from('100644 a\0'), Buffer.from(blobOid('x'), 'hex')]);
  const objects = readPack(buildPack([
    { code: TYPE.tree, data: tree },
    { code: TYPE.blob, data: Buffer.alloc(0) },
  ]));
  assert.deepEqual(objects.get(hashObject('tree', tree))?.type, 'tree');
  assert.equal(objects.get('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391' as Oid)?.data.length, 0);
});

test('envelope errors: signature, version, checksum, count, stray bytes, sha256', () => {
  const good = buildPack([{ code: TYPE.blob, data: Buffer.from('hello') }]);
  assertCorrupt(() => readPack(Buffer.alloc(10)), /too short/);
  assertCorrupt(() => readPack(reseal(Buffer.concat([Buffer.from('KCAP'), good.subarray(4)]))), /signature/);
  assertCorrupt(() => readPack(buildPack([], { version: 4 })), /version 4/, 'pack-unsupported');
  assert.equal(readPack(buildPack([{ code: TYPE.blob, data: Buffer.from('v3') }], { version: 3 })).size, 1);
  const flipped = Buffer.from(good);
  flipped[20] = flipped[20]! ^ 1;
  assertCorrupt(() => readPack(flipped), /checksum/);
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data: Buffer.from('x') }], { count: 2 })), /ends after 1 of 2/);
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data: Buffer.from('x') }], { count: 0 })), /stray bytes/);
  assertCorrupt(() => readPack(buildPack([], { count: 0xffffffff })), /ends after 0/);
  assertCorrupt(() => readPack(good, { objectFormat: 'sha256' }), /sha256/, 'pack-unsupported');
});

test('entry errors: type codes, sizes that lie, zlib garbage', () => {
  for (const code of [0, 5]) {
    assertCorrupt(() => readPack(buildPack([{ code, data: Buffer.from('x') }])), new RegExp(`invalid object type ${code}`));
  }
  const data = Buffer.from('twelve bytes');
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data, declaredSize: 11 }])), /declared 11/);
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data, declaredSize: 13 }])), /inflates to 12 bytes, header says 13/);
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data, raw: Buffer.from('not zlib at all') }])), /inflate/);
  // A header declaring 4 GiB is refused before anything is inflated.
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data, declaredSize: 2 ** 32 }])), /larger than/, 'pack-limit-exceeded');
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.blob, data }]), { maxObjectBytes: 5 }), /larger than the 5 bytes allowed/, 'pack-limit-exceeded');
  const two = buildPack([{ code: TYPE.blob, data }, { code: TYPE.blob, data: Buffer.from('another twelve') }]);
  assertCorrupt(() => readPack(two, { maxTotalBytes: 20 }), /total/, 'pack-limit-exceeded');
});

test('delta errors: reserved opcode, out-of-range copies, sizes that lie, bad bases', () => {
  const base = { code: TYPE.blob, data: Buffer.from('0123456789') };
  const withDelta = (d: Buffer): Buffer => buildPack([base, { code: TYPE.ofsDelta, ofsBase: 0, data: d }]);
  assertCorrupt(() => readPack(withDelta(delta(10, 1, Buffer.from([0])))), /reserved opcode 0/);
  assertCorrupt(() => readPack(withDelta(delta(10, 4, copyOp(8, 4)))), /past the end of its base/);
  assertCorrupt(() => readPack(withDelta(delta(10, 0x10000, copyOp(0, 0x10000)))), /past the end of its base/);
  assertCorrupt(() => readPack(withDelta(delta(11, 4, copyOp(0, 4)))), /base of 11 bytes/);
  assertCorrupt(() => readPack(withDelta(delta(10, 5, copyOp(0, 4)))), /produces 4 bytes, declared 5/);
  assertCorrupt(() => readPack(withDelta(delta(10, 3, copyOp(0, 4)))), /more than its declared 3/);
  assertCorrupt(() => readPack(withDelta(delta(10, 5, Buffer.from([5, 0x61])))), /insert runs past/);
  assertCorrupt(() => readPack(withDelta(delta(10, 4, Buffer.from([0x91, 0x01])))), /truncated delta copy/);
  assertCorrupt(() => readPack(withDelta(Buffer.from([0x8a]))), /truncated delta size/);
  // Declares 2 GiB - 1 of output with one tiny instruction: refused before any allocation.
  assertCorrupt(() => readPack(withDelta(delta(10, 2 ** 31 - 1, insertOp('x')))), /produces 1 bytes/);
  assertCorrupt(() => readPack(withDelta(delta(10, 2 ** 40, insertOp('x')))), /larger than/, 'pack-limit-exceeded');
  // Bases: a distance past the start, one landing inside an entry, a thin pack, a cycle.
  assertCorrupt(() => readPack(buildPack([base, { code: TYPE.ofsDelta, ofsDistance: 10_000, data: delta(10, 1, insertOp('x')) }])), /outside the pack/);
  assertCorrupt(() => readPack(buildPack([base, { code: TYPE.ofsDelta, ofsDistance: 3, data: delta(10, 1, insertOp('x')) }])), /not an entry/);
  const absent = blobOid('absent');
  assertCorrupt(() => readPack(buildPack([{ code: TYPE.refDelta, refBase: absent, data: delta(6, 1, insertOp('x')) }])), /thin pack/);
  const a = blobOid('a');
  const b = blobOid('b');
  const cycle = buildPack([
    { code: TYPE.refDelta, refBase: b, data: delta(1, 1, insertOp('a')) },
    { code: TYPE.refDelta, refBase: a, data: delta(1, 1, insertOp('b')) },
  ]);
  assertCorrupt(() => readPack(cycle), /not in the pack/);
});

test('every truncation and every resealed bit flip of a real pack ends in PackError or a valid read', async (t) => {
  const full = await gitPack(true);
  // A small pack with deltas: the same builder over a subset, so 1-byte steps stay quick.
  const small = buildPack([
    { code: TYPE.blob, data: Buffer.from(variant(1, 40)) },
    { code: TYPE.ofsDelta, ofsBase: 0, data: delta(variant(1, 40).length, 10, copyOp(0, 6), insertOp('tail')) },
    { code: TYPE.refDelta, refBase: blobOid(variant(1, 40)), data: delta(variant(1, 40).length, 3, copyOp(1, 3)) },
  ]);
  for (let len = 0; len < full.length; len += Math.max(1, Math.floor(full.length / 300))) {
    assertCorrupt(() => readPack(full.subarray(0, len)));
  }
  for (let len = 0; len < small.length; len++) assertCorrupt(() => readPack(small.subarray(0, len)));
  // Truncated with a valid checksum: the parser itself meets the end of the data.
  for (let len = 0; len < small.length - 20; len++) assertCorrupt(() => readPack(seal(small.subarray(0, len))));
  const original = [...readPack(small).keys()].sort();
  let read = 0;
  for (let i = 0; i < small.length - 20; i++) {
    for (const bit of [0x01, 0x80]) {
      const altered = Buffer.from(small);
      altered[i] = altered[i]! ^ bit;
      try {
        // Read despite the flip: then it must be the same objects (the flip changed nothing read).
        assert.deepEqual([...readPack(reseal(altered)).keys()].sort(), original);
        read++;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof PackError, `flip at ${i}: ${String(err)}`);
      }
    }
  }
  t.diagnostic(`${read} of ${2 * (small.length - 20)} bit flips still read (version 2 → 3; padding bits after a deflate stream's last block)`);
});
