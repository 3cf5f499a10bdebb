import type { Socket } from 'node:net';
import {
  CLIENT_DISCARD_BYTES,
  CLIENT_DISCARD_CHARS,
  CLIENT_OUTPUT_BUDGET_BYTES,
  CLIENT_RESUME_CHARS,
  OUTPUT_BATCH_CHARS,
} from '../protocol/flow-control.js';
import { encodeFrame, FrameType, NO_PANE } from '../protocol/frame.js';
import type { Control, ErrorPayload, Hello, Snapshot } from '../protocol/messages.js';
import type { ScreenStream } from './screen-frames.js';

/** The server's side of one client connection: its HELLO, its flow-control counters, its socket. */
export class ClientConnection {
  hello: Hello | undefined;
  /** Output characters sent per pane and not yet acknowledged. */
  private readonly unacked = new Map<number, number>();
  /** Panes whose output this client is missing; it gets a snapshot once it has caught up. */
  private readonly stale = new Set<number>();
  /** Snapshots sent: when a client got its first screen of each pane. */
  attached = false;
  closed = false;
  /** Set once the client went over {@link CLIENT_OUTPUT_BUDGET_BYTES} and was dropped. */
  overBudget = false;
  /** Set for a client that gets SCREEN frames (HELLO `screen: 'cells'`) instead of output bytes. */
  screen: ScreenStream | undefined;
  /** Output parsed and not yet sent, per pane, in order; flushed once per loop turn. */
  private readonly pendingOutput = new Map<number, string[]>();
  private pendingChars = 0;
  private flushPending: NodeJS.Immediate | undefined;

  /**
   * @param onOverBudget called once, with the bytes queued, when the client is dropped for going
   *   over its output budget (the server logs it)
   */
  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly onOverBudget?: (queuedBytes: number) => void,
  ) {}

  get readOnly(): boolean {
    return this.hello?.readOnly ?? true;
  }

  get cols(): number {
    return this.hello?.cols ?? 80;
  }

  get rows(): number {
    return this.hello?.rows ?? 24;
  }

  /** True once the client is gone or going: nothing more is sent to it or done for it. */
  get gone(): boolean {
    return this.closed || this.overBudget || this.socket.destroyed;
  }

  /**
   * Writes one frame unless the socket is gone. A client whose queue is already over its output
   * budget gets no frame: its socket is destroyed (the queue freed) and `onOverBudget` told.
   */
  send(type: number, pane: number, payload?: Buffer | string): void {
    // Output waiting for its batch goes first: frames reach the client in the order they were made.
    if (type !== FrameType.Output && this.pendingOutput.size > 0) this.flushOutput();
    if (!this.withinBudget()) return;
    this.socket.write(encodeFrame(type, pane, payload));
  }

  /**
   * Checks the output budget before work done for this client (a reply to build): a client over
   * {@link CLIENT_OUTPUT_BUDGET_BYTES} is dropped here, its socket destroyed (the queue freed) and
   * `onOverBudget` told.
   * @returns false when the client is gone, now or before
   */
  withinBudget(): boolean {
    if (this.gone) return false;
    const queued = this.socket.writableLength;
    if (queued <= CLIENT_OUTPUT_BUDGET_BYTES) return true;
    this.overBudget = true;
    this.socket.destroy();
    this.onOverBudget?.(queued);
    return false;
  }

  sendControl(message: Control): void {
    this.send(FrameType.Control, NO_PANE, JSON.stringify(message));
  }

  sendError(error: ErrorPayload): void {
    this.send(FrameType.Error, NO_PANE, JSON.stringify(error));
  }

  sendSnapshot(pane: number, snapshot: Snapshot): void {
    // The snapshot already holds the output still waiting to be sent (it was parsed before).
    this.dropPending(pane);
    this.unacked.set(pane, 0);
    this.stale.delete(pane);
    this.send(FrameType.Snapshot, pane, JSON.stringify(snapshot));
  }

  /**
   * Queues pane output for this loop turn's OUTPUT frame, unless the client is too far behind, in
   * which case it is marked stale and the output dropped for it.
   */
  sendOutput(pane: number, data: string): void {
    if (this.stale.has(pane)) return;
    const unacked = this.unacked.get(pane) ?? 0;
    if (unacked > CLIENT_DISCARD_CHARS || this.socket.writableLength > CLIENT_DISCARD_BYTES) {
      this.stale.add(pane);
      this.dropPending(pane);
      return;
    }
    this.unacked.set(pane, unacked + data.length);
    const chunks = this.pendingOutput.get(pane);
    if (chunks) chunks.push(data);
    else this.pendingOutput.set(pane, [data]);
    this.pendingChars += data.length;
    if (this.pendingChars >= OUTPUT_BATCH_CHARS) this.flushOutput();
    else this.flushPending ??= setImmediate(() => this.flushOutput());
  }

  /** Sends the queued output, one OUTPUT frame per pane. */
  private flushOutput(): void {
    if (this.flushPending) clearImmediate(this.flushPending);
    this.flushPending = undefined;
    const batches = [...this.pendingOutput];
    this.pendingOutput.clear();
    this.pendingChars = 0;
    if (!this.withinBudget()) return;
    for (const [pane, chunks] of batches) {
      this.socket.write(
        encodeFrame(FrameType.Output, pane, chunks.length === 1 ? chunks[0] : chunks.join('')),
      );
    }
  }

  /** Forgets output queued for `pane` and not sent: the client will never acknowledge it. */
  private dropPending(pane: number): void {
    const chunks = this.pendingOutput.get(pane);
    if (!chunks) return;
    this.pendingOutput.delete(pane);
    let chars = 0;
    for (const chunk of chunks) chars += chunk.length;
    this.pendingChars -= chars;
    this.unacked.set(pane, Math.max(0, (this.unacked.get(pane) ?? 0) - chars));
  }

  /**
   * Records an acknowledgement of `chars` parsed characters.
   * @returns true when the pane was stale and the client has now caught up (time for a snapshot)
   */
  ack(pane: number, chars: number): boolean {
    const left = Math.max(0, (this.unacked.get(pane) ?? 0) - chars);
    this.unacked.set(pane, left);
    return this.caughtUp(pane);
  }

  /** True when `pane` is stale and the client has drained enough to be redrawn. */
  caughtUp(pane: number): boolean {
    return (
      this.stale.has(pane) &&
      (this.unacked.get(pane) ?? 0) <= CLIENT_RESUME_CHARS &&
      this.socket.writableLength < CLIENT_DISCARD_BYTES / 8
    );
  }

  /** Panes this client is missing output for. */
  stalePanes(): number[] {
    return [...this.stale];
  }

  forgetPane(pane: number): void {
    this.dropPending(pane);
    this.unacked.delete(pane);
    this.stale.delete(pane);
  }
}
