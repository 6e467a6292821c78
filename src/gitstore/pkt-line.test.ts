import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DELIM_PKT,
  FLUSH_PKT,
  PKT_MAX_PAYLOAD,
  PktLineDecoder,
  PktLineError,
  RESPONSE_END_PKT,
  encodePktLine,
  pktText,
  readPktLines,
  type PktLine,
} from './pkt-line.js';

function sample(): Buffer {
  return Buffer.concat([
    encodePktLine('command=object-info\n'),
    DELIM_PKT,
    encodePktLine('size\n'),
    encodePktLine(Buffer.alloc(PKT_MAX_PAYLOAD, 0x61)),
    encodePktLine(''),
    FLUSH_PKT,
    RESPONSE_END_PKT,
  ]);
}

function describe(lines: PktLine[]): string[] {
  return lines.map((l) => (l.type === 'data' ? `data:${l.payload.length}:${l.payload.subarray(0, 20).toString()}` : l.type));
}

const expected = [
  'data:20:command=object-info\n',
  'delim',
  'data:5:size\n',
  `data:${PKT_MAX_PAYLOAD}:${'a'.repeat(20)}`,
  'data:0:',
  'flush',
  'response-end',
];

test('encodes the length header in lowercase hex, counting itself', () => {
  assert.equal(encodePktLine('a\n').toString(), '0006a\n');
  assert.equal(encodePktLine('').toString(), '0004');
  assert.equal(encodePktLine(Buffer.alloc(PKT_MAX_PAYLOAD)).subarray(0, 4).toString(), 'fff0');
  assert.throws(() => encodePktLine(Buffer.alloc(PKT_MAX_PAYLOAD + 1)), PktLineError);
});

test('decodes a whole buffer in one push', () => {
  const d = new PktLineDecoder();
  assert.deepEqual(describe(d.push(sample())), expected);
  assert.ok(d.idle);
  d.end();
});

test('decodes the same packets whatever the chunk boundaries', () => {
  const input = sample();
  for (const size of [1, 2, 3, 5, 7, 4096, 65519]) {
    const d = new PktLineDecoder();
    const out: PktLine[] = [];
    for (let i = 0; i < input.length; i += size) out.push(...d.push(input.subarray(i, i + size)));
    assert.deepEqual(describe(out), expected, `chunk size ${size}`);
    d.end();
  }
});

test('bad lengths are errors, not crashes', () => {
  for (const bad of ['zzzz', '0003', '00-1', 'fff1', 'ffff', ' 004']) {
    const d = new PktLineDecoder();
    assert.throws(() => d.push(Buffer.from(`${bad}abcd`)), (err: unknown) => err instanceof PktLineError && err.code === 'pkt-line-invalid', bad);
    // The decoder refuses further input rather than resynchronising on garbage.
    assert.throws(() => d.push(FLUSH_PKT), PktLineError);
  }
});

test('a stream that ends inside a packet is an error', async () => {
  const d = new PktLineDecoder();
  assert.deepEqual(d.push(Buffer.from('000aab')), []);
  assert.throws(() => d.end(), PktLineError);
  async function* source(): AsyncGenerator<Buffer> {
    yield Buffer.from('0008ab');
    yield Buffer.from('cd00');
  }
  const got: string[] = [];
  await assert.rejects(async () => {
    for await (const pkt of readPktLines(source())) got.push(pktText(pkt) ?? pkt.type);
  }, PktLineError);
  assert.deepEqual(got, ['abcd']);
});

test('pktText strips one trailing newline only', () => {
  assert.equal(pktText({ type: 'data', payload: Buffer.from('x\n\n') }), 'x\n');
  assert.equal(pktText({ type: 'data', payload: Buffer.from('x') }), 'x');
  assert.equal(pktText({ type: 'flush' }), undefined);
});
