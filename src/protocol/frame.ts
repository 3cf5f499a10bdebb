/**
 * The wire format between clients and the server (DESIGN.md, "Wire protocol"):
 * `type u8 | pane u32 | length u32 | payload`, big-endian, over a Unix socket.
 * Pane output and input carry raw bytes; control frames carry JSON (see messages.ts).
 */

/** Frame types. Numbers are part of the protocol: never renumber, only add. */
export const FrameType = {
  /** client → server, JSON {@link Hello}; always the first frame. Its number never changes. */
  Hello: 1,
  /** server → client, JSON {@link Welcome}. */
  Welcome: 2,
  /** either way, JSON request/response/event (messages.ts). */
  Control: 3,
  /** server → client, raw bytes a pane printed. */
  Output: 4,
  /** client → server, raw bytes for a pane's process. */
  Input: 5,
  /** server → client, JSON {@link Snapshot} of a pane's screen. */
  Snapshot: 6,
  /** client → server, u32 count of output characters the client has parsed for the frame's pane. */
  Ack: 7,
  /** server → client, JSON {code, message, hint}; the server closes after a fatal one. */
  Error: 8,
  /**
   * server → client, JSON `ScreenUpdate` (screen.ts): a pane's changed rows as cells, for a
   * client that said `screen: 'cells'` in HELLO. Such a client acknowledges with ACK frames on
   * pane 0 whose u32 counts the SCREEN payload bytes it has painted.
   */
  Screen: 9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Bytes in a frame header: type (1) + pane (4) + length (4). */
export const HEADER_BYTES = 9;

/**
 * The largest payload accepted. A full snapshot of a 10,000-line history of a 300-column pane with
 * colour changes in every cell serialises to roughly 24 MB, so 32 MiB leaves room without letting a
 * broken or hostile peer make the other side buffer without bound.
 */
export const MAX_PAYLOAD_BYTES = 32 * 1024 * 1024;

/** Pane id for frames that concern no pane. */
export const NO_PANE = 0;

/** One decoded frame. */
export interface Frame {
  type: number;
  pane: number;
  payload: Buffer;
}

/** Thrown by the decoder on a frame larger than {@link MAX_PAYLOAD_BYTES}; the connection must be closed. */
export class FrameTooLargeError extends Error {
  constructor(readonly length: number) {
    super(`frame of ${length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`);
    this.name = 'FrameTooLargeError';
  }
}

/** Encodes one frame. `payload` strings are UTF-8. */
export function encodeFrame(type: number, pane: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > MAX_PAYLOAD_BYTES) throw new FrameTooLargeError(body.length);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(pane >>> 0, 1);
  frame.writeUInt32BE(body.length, 5);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Incremental decoder: feed it chunks as they arrive (split or coalesced in any way) and it
 * returns the complete frames. Buffers at most one frame's bytes.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * @returns the frames completed by this chunk, in order
   * @throws FrameTooLargeError when a header announces an oversized payload
   */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const length = head.readUInt32BE(5);
      if (length > MAX_PAYLOAD_BYTES) throw new FrameTooLargeError(length);
      if (this.buffered < HEADER_BYTES + length) break;
      const whole = this.take(HEADER_BYTES + length);
      frames.push({
        type: whole.readUInt8(0),
        pane: whole.readUInt32BE(1),
        payload: whole.subarray(HEADER_BYTES),
      });
    }
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
