import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CatFileParser, CatFileProtocolError, type CatFileSink } from './cat-file-parser.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function recorder(): { sink: CatFileSink; events: string[] } {
  const events: string[] = [];
  let body: Buffer[] = [];
  return {
    events,
    sink: {
      header: (h) => { events.push(`header ${h.oid.slice(0, 1)} ${h.type} ${h.size}`); body = []; },
      missing: (name, reason) => events.push(`${reason} ${name.slice(0, 1)}`),
      body: (chunk) => body.push(Buffer.from(chunk)),
      end: () => events.push(`end ${Buffer.concat(body).toString()}`),
    },
  };
}

const stream = Buffer.concat([
  Buffer.from(`${A} blob 5\nhello\n`),
  Buffer.from(`${B} missing\n`),
  Buffer.from(`${C} blob 0\n\n`),
  Buffer.from(`${A} blob 3\n\n\n\n\n`), // content that is itself newlines
  Buffer.from('deadbeef ambiguous\n'),
]);
const expected = ['header a blob 5', 'end hello', 'missing b', 'header c blob 0', 'end ', 'header a blob 3', 'end \n\n\n', 'ambiguous d'];

test('parses records across any chunk boundary', () => {
  for (const size of [1, 2, 3, 41, 47, 1000]) {
    const { sink, events } = recorder();
    const p = new CatFileParser(sink);
    for (let i = 0; i < stream.length; i += size) p.push(stream.subarray(i, i + size));
    assert.deepEqual(events, expected, `chunk size ${size}`);
    assert.ok(p.idle);
  }
});

test('large content is handed on in slices, never gathered', () => {
  const size = 1 << 20;
  const chunks: number[] = [];
  const p = new CatFileParser({
    header: () => {},
    missing: () => {},
    body: (c) => chunks.push(c.length),
    end: () => chunks.push(-1),
  });
  p.push(Buffer.from(`${A} blob ${size}\n`));
  for (let i = 0; i < size; i += 65536) p.push(Buffer.alloc(65536));
  p.push(Buffer.from('\n'));
  assert.equal(chunks.at(-1), -1);
  assert.equal(chunks.length, 17);
  assert.ok(chunks.every((n) => n <= 65536));
});

test('garbage is a protocol error', () => {
  const { sink } = recorder();
  assert.throws(() => new CatFileParser(sink).push(Buffer.from('fatal: not a git repository\n')), CatFileProtocolError);
  assert.throws(() => new CatFileParser(sink).push(Buffer.from(`${A} blob 1\nxy`)), CatFileProtocolError);
  assert.throws(() => new CatFileParser(sink).push(Buffer.alloc(2000, 0x61)), CatFileProtocolError);
});
