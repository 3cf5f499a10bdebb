import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameTooLargeError,
  FrameType,
  HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  NO_PANE,
} from '../../src/protocol/frame.js';

/** A few frames of different kinds and sizes, including an empty payload and multi-byte UTF-8. */
function sampleFrames(): Array<{ type: number; pane: number; payload: Buffer }> {
  return [
    { type: FrameType.Hello, pane: NO_PANE, payload: Buffer.from('{"protocol":1}') },
    { type: FrameType.Output, pane: 7, payload: Buffer.from('héllo 漢字 😀\r\n') },
    { type: FrameType.Ack, pane: 0xfffffffe, payload: Buffer.from([0, 0, 0x13, 0x88]) },
    { type: FrameType.Control, pane: NO_PANE, payload: Buffer.alloc(0) },
    { type: FrameType.Snapshot, pane: 3, payload: Buffer.alloc(70_000, 0x41) },
  ];
}

function plain(frames: Frame[]): Array<{ type: number; pane: number; payload: string }> {
  return frames.map((f) => ({ type: f.type, pane: f.pane, payload: f.payload.toString('hex') }));
}

describe('frame codec', () => {
  test('encodes type u8 | pane u32 | length u32 | payload, big-endian', () => {
    const frame = encodeFrame(FrameType.Input, 0x01020304, 'ab');
    assert.equal(frame.length, HEADER_BYTES + 2);
    assert.deepEqual([...frame], [FrameType.Input, 1, 2, 3, 4, 0, 0, 0, 2, 0x61, 0x62]);
  });

  test('decodes frames fed one byte at a time', () => {
    const frames = sampleFrames();
    const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.pane, f.payload)));
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (let i = 0; i < wire.length; i++) {
      const got = decoder.push(wire.subarray(i, i + 1));
      // A frame completes exactly on its last byte, never earlier.
      if (got.length > 0) assert.ok(decoder.pending < HEADER_BYTES, `pending ${decoder.pending} at ${i}`);
      out.push(...got);
    }
    assert.deepEqual(plain(out), plain(frames));
    assert.equal(decoder.pending, 0);
  });

  test('decodes many frames coalesced in one chunk', () => {
    const frames = Array.from({ length: 500 }, (_, i) => ({
      type: FrameType.Output,
      pane: i,
      payload: Buffer.from(`line ${i}\n`.repeat(i % 7)),
    }));
    const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.pane, f.payload)));
    const decoder = new FrameDecoder();
    assert.deepEqual(plain(decoder.push(wire)), plain(frames));
    assert.equal(decoder.pending, 0);
  });

  test('decodes a frame split inside its header and inside its payload', () => {
    const payload = Buffer.from(`${'x'.repeat(1000)}end`);
    const wire = Buffer.concat([encodeFrame(FrameType.Output, 42, payload), encodeFrame(FrameType.Ack, 42)]);
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(wire.subarray(0, 4)), [], 'half a header');
    assert.deepEqual(decoder.push(wire.subarray(4, HEADER_BYTES + 10)), [], 'header and part of payload');
    assert.equal(decoder.pending, HEADER_BYTES + 10);
    const rest = decoder.push(wire.subarray(HEADER_BYTES + 10, HEADER_BYTES + 500));
    assert.deepEqual(rest, []);
    const done = decoder.push(wire.subarray(HEADER_BYTES + 500));
    assert.equal(done.length, 2);
    assert.equal(done[0]!.pane, 42);
    assert.equal(done[0]!.payload.toString(), payload.toString());
    assert.equal(done[1]!.type, FrameType.Ack);
    assert.equal(done[1]!.payload.length, 0);
  });

  test('the decoder refuses a header announcing an oversized payload before it arrives', () => {
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(FrameType.Output, 0);
    header.writeUInt32BE(1, 1);
    header.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 5);
    const decoder = new FrameDecoder();
    assert.throws(
      () => decoder.push(header),
      (error: unknown) => error instanceof FrameTooLargeError && error.length === MAX_PAYLOAD_BYTES + 1,
    );
    // Exactly the limit is allowed: the header alone completes nothing and does not throw.
    header.writeUInt32BE(MAX_PAYLOAD_BYTES, 5);
    assert.deepEqual(new FrameDecoder().push(header), []);
  });

  test('the encoder refuses an oversized payload', () => {
    const big = Buffer.alloc(MAX_PAYLOAD_BYTES + 1);
    assert.throws(() => encodeFrame(FrameType.Snapshot, 1, big), FrameTooLargeError);
  });
});
