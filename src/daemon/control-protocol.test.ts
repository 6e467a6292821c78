import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlError, encode, LineDecoder, MAX_LINE_BYTES, parseReply, parseRequest, PROTOCOL_VERSION } from './control-protocol.js';

test('control codec: a message split across chunks at every byte, and several in one chunk', () => {
  const msgs = [
    { v: PROTOCOL_VERSION, id: 1, op: 'status', args: { name: 'a' } },
    { v: PROTOCOL_VERSION, id: 2, op: 'set-refresh', args: { name: 'b\nc', interval: '30s' } },
    { v: PROTOCOL_VERSION, id: 3, op: 'fetch', args: { name: 'naïve 日本' } },
  ];
  const wire = Buffer.from(msgs.map(encode).join(''));
  assert.equal(wire.toString().split('\n').length, msgs.length + 1, 'a newline inside a string is escaped');
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new LineDecoder();
    const got = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))];
    assert.deepEqual(got, msgs, `cut at ${cut}`);
    assert.equal(d.pending, 0);
  }
  const d = new LineDecoder();
  const byByte = [...wire].flatMap((b) => d.push(Buffer.from([b])));
  assert.deepEqual(byByte, msgs, 'one byte at a time (multi-byte UTF-8 split too)');
});

test('control codec: a bad line yields an error in its place and the stream goes on', () => {
  const d = new LineDecoder();
  const got = d.push(Buffer.from('{"v":1,"id":1,"op":"status"}\nnot json\n{"v":1,"id":2,"op":"status"}\n'));
  assert.equal(got.length, 3);
  assert.ok(got[1] instanceof ControlError && got[1].code === 'bad-request');
  assert.deepEqual(parseRequest(got[2]), { v: 1, id: 2, op: 'status', args: {} });
});

test('control codec: a line over the limit throws, even when it arrives in small pieces', () => {
  const d = new LineDecoder();
  const piece = Buffer.alloc(64 * 1024, 0x61);
  assert.throws(() => { for (let n = 0; n <= MAX_LINE_BYTES / piece.length; n++) d.push(piece); }, (e: unknown) => e instanceof ControlError && /longer than/.test(e.message));
});

test('control codec: request and reply envelopes are validated', () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /JSON object/],
    [{ v: 2, id: 1, op: 'x' }, /unsupported protocol version 2/],
    [{ v: 1, id: '1', op: 'x' }, /id must be an integer/],
    [{ v: 1, id: 1, op: '' }, /op must be/],
    [{ v: 1, id: 1, op: 'x', args: [1] }, /args must be an object/],
  ];
  for (const [value, re] of bad) assert.throws(() => parseRequest(value), (e: unknown) => e instanceof ControlError && e.code === 'bad-request' && re.test(e.message), JSON.stringify(value));
  assert.throws(() => parseReply({ v: 1, id: 1 }), ControlError);
  assert.throws(() => parseReply({ v: 1, id: 1, ok: false, error: 'x' }), ControlError);
  assert.deepEqual(parseReply({ v: 1, id: 4, ok: false, error: { code: 'not-found', message: 'm' } }), { v: 1, id: 4, ok: false, error: { code: 'not-found', message: 'm' } });
});
