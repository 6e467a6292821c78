// Checks every struct layout and opcode in abi.ts against the installed <linux/fuse.h>, so a
// field typo or a wrong size cannot hide. The header is 7.38 on our machines; structs and
// fields it does not know (added later) are compared as far as it goes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as abi from './abi.js';
import { struct, type FieldSpec, type Layout, type Scalar } from './layout.js';

const HEADER = '/usr/include/linux/fuse.h';
const CTYPES: Record<string, Scalar> = { uint8_t: 'u8', uint16_t: 'u16', uint32_t: 'u32', int32_t: 'i32', uint64_t: 'u64', int64_t: 'i64' };

type AnyLayout = Layout<Record<string, FieldSpec>>;

function parseHeader(text: string): Map<string, AnyLayout> {
  const out = new Map<string, AnyLayout>();
  for (const m of text.matchAll(/struct (\w+) \{([^}]*)\};/g)) {
    const fields: Record<string, FieldSpec> = {};
    let ok = true;
    for (const line of m[2]!.split('\n')) {
      const f = /^\s*(struct \w+|\w+)\s+(\w+)(?:\[(\d*)\])?;/.exec(line.replace(/\/\*.*?\*\//g, ''));
      if (!f) continue;
      const [, type, name, count] = f;
      if (count === '') continue; // flexible array member: not part of sizeof
      if (type!.startsWith('struct ')) {
        const nested = out.get(type!.slice(7));
        if (!nested) { ok = false; break; }
        fields[name!] = nested;
      } else if (CTYPES[type!]) {
        fields[name!] = count ? [CTYPES[type!]!, Number(count)] : CTYPES[type!]!;
      } else if (type === 'char' && count) {
        fields[name!] = ['u8', Number(count)];
      } else { ok = false; break; }
    }
    if (ok) out.set(m[1]!, struct(m[1]!, fields));
  }
  return out;
}

const header = existsSync(HEADER) ? readFileSync(HEADER, 'utf8') : undefined;

test('struct layouts match <linux/fuse.h>', { skip: header ? false : `${HEADER} not installed` }, () => {
  const kernel = parseHeader(header!);
  const ours = (Object.values(abi) as unknown[]).filter((v): v is AnyLayout => typeof v === "object" && v !== null && (v as AnyLayout).kind === "layout");
  assert.ok(ours.length >= 40, `expected many layouts, found ${ours.length}`);
  let compared = 0;
  for (const l of ours) {
    const k = kernel.get(l.name);
    if (!k) continue; // added after the installed header's version
    compared++;
    assert.equal(l.size, k.size, `sizeof(struct ${l.name})`);
    for (const [field, off] of Object.entries(k.o)) {
      assert.equal((l.o as Record<string, number>)[field], off, `offsetof(${l.name}, ${field})`);
    }
  }
  assert.ok(compared >= 40, `compared only ${compared} structs`);
});

test('opcodes and notify codes match <linux/fuse.h>', { skip: header ? false : `${HEADER} not installed` }, () => {
  const defined = new Map<string, number>();
  for (const m of header!.matchAll(/^\s*(FUSE_\w+)\s*=\s*(\d+),/gm)) defined.set(m[1]!, Number(m[2]));
  const ours: Record<string, number> = { ...abi.fuse_opcode, ...abi.fuse_notify_code };
  let compared = 0;
  for (const [name, value] of Object.entries(ours)) {
    const k = defined.get(name);
    if (k === undefined) continue;
    assert.equal(value, k, name);
    compared++;
  }
  assert.ok(compared >= 50, `compared only ${compared} codes`);
});

test('flag bits match <linux/fuse.h>', { skip: header ? false : `${HEADER} not installed` }, () => {
  let compared = 0;
  for (const m of header!.matchAll(/^#define\s+((?:FUSE|FOPEN|FATTR)_\w+)\s+\((1U?L*L*) << (\d+)\)/gm)) {
    const ours = (abi as Record<string, unknown>)[m[1]!];
    if (ours === undefined) continue;
    const expected = 1n << BigInt(m[3]!);
    assert.equal(BigInt(ours as number | bigint), expected, m[1]);
    compared++;
  }
  assert.ok(compared >= 60, `compared only ${compared} flags`);
});

test('layout calculator pads like C', () => {
  const s = struct('t', { a: 'u8', b: 'u64', c: 'u16' });
  assert.deepEqual(s.o, { a: 0, b: 8, c: 16 });
  assert.equal(s.size, 24);
  assert.equal(abi.fuse_in_header.size, 40);
  assert.equal(abi.fuse_entry_out.size, 128);
  assert.equal(abi.fuse_init_out.size, 64);
});
