import type { Pane } from '../panes/pane.js';
import { CLIENT_DISCARD_BYTES, SCREEN_INFLIGHT_BYTES } from '../protocol/flow-control.js';
import { FrameType } from '../protocol/frame.js';

/**
 * Frames per second a client gets under a flood of output: the frame budget refills by this many
 * screens of rows per second (a leaky bucket, in rows). A typed key's echo costs one row, so
 * echoes are never held back; a scrolling pane costs all its rows, so a flood is drawn at this rate.
 */
export const FLOOD_FRAMES_PER_SECOND = 60;

/** Rows of budget a client may save up: a burst of this many screens goes out at once. */
const BURST_SCREENS = 2;

/** One attached client's side of the screen stream (hello `screen: 'cells'`). */
export class ScreenStream {
  /** Per pane, the {@link PaneScreen} version this client was last sent. */
  readonly seen = new Map<number, number>();
  /** SCREEN payload bytes sent and not yet acknowledged. */
  inflight = 0;
  private tokens: number;
  private refilledAt = Date.now();

  constructor(private readonly rows: () => number) {
    this.tokens = this.capacity();
  }

  private capacity(): number {
    return BURST_SCREENS * Math.max(1, this.rows());
  }

  /** Refills the budget for the time passed. @returns ms until it is positive again (0: now) */
  refill(now: number): number {
    const rate = (FLOOD_FRAMES_PER_SECOND * Math.max(1, this.rows())) / 1000;
    this.tokens = Math.min(this.capacity(), this.tokens + (now - this.refilledAt) * rate);
    this.refilledAt = now;
    return this.tokens > 0 ? 0 : Math.ceil(-this.tokens / rate) + 1;
  }

  spend(rows: number): void {
    this.tokens -= Math.max(1, rows);
  }

  /** The client painted `bytes` of SCREEN payload. */
  ack(bytes: number): void {
    this.inflight = Math.max(0, this.inflight - bytes);
  }
}

/**
 * What the frame pacer needs of a client (a `ClientConnection`, which keeps its {@link ScreenStream}
 * and so cannot be imported here without a cycle).
 */
export interface ScreenClient {
  readonly screen: ScreenStream | undefined;
  /** Sent its first snapshots. */
  readonly attached: boolean;
  /** Gone or going: nothing more is sent to it. */
  readonly gone: boolean;
  readonly socket: { readonly writableLength: number };
  send(type: number, pane: number, payload?: Buffer | string): void;
}

/** What the frame pacer needs from the session server. */
export interface ScreenSource {
  /** Panes a client can see now (all, or the zoomed one). */
  visiblePanes(): readonly Pane[];
  clients(): Iterable<ScreenClient>;
}

/**
 * Sends attached clients their panes' changed rows, frames by need rather than by clock (issue 12):
 * output after an idle moment goes out at once, so a typed key's echo never waits for a frame slot; under a flood each client's frames are paced by its row budget
 * ({@link FLOOD_FRAMES_PER_SECOND}); a client that has not painted what it got (over
 * {@link SCREEN_INFLIGHT_BYTES}, or its socket backed up) gets nothing until it catches up, then
 * the latest screen: nothing queues for it.
 */
export class ScreenFrames {
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A change came in while the turn's trailing flush was pending. */
  private changedSinceFlush = false;

  constructor(private readonly source: ScreenSource) {}

  /**
   * Something a client can see changed (output parsed, layout, a client attached or caught up).
   * After an idle moment the change goes out now (leading edge); more changes in the same turn of
   * the event loop go out together at its end (trailing edge). While a client waits for its
   * budget, the waiting timer sends the change with the rest.
   */
  schedule(): void {
    if (this.timer) return;
    if (this.immediate) {
      this.changedSinceFlush = true;
      return;
    }
    this.flush();
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      if (!this.changedSinceFlush || this.timer) return;
      this.changedSinceFlush = false;
      this.flush();
    });
  }

  /** Stops pending work (server shutdown). */
  dispose(): void {
    if (this.immediate) clearImmediate(this.immediate);
    clearTimeout(this.timer);
  }

  private flush(): void {
    const now = Date.now();
    let wait = Number.POSITIVE_INFINITY;
    const ready: Array<{ client: ScreenClient; stream: ScreenStream }> = [];
    for (const client of this.source.clients()) {
      const stream = client.screen;
      if (!stream || !client.attached || client.gone) continue;
      // Not painted yet, or its socket backed up: an ack or 'drain' schedules the next flush.
      if (stream.inflight > SCREEN_INFLIGHT_BYTES || client.socket.writableLength > CLIENT_DISCARD_BYTES)
        continue;
      const after = stream.refill(now);
      if (after > 0) wait = Math.min(wait, after);
      else ready.push({ client, stream });
    }
    if (ready.length > 0) {
      const panes = this.source.visiblePanes();
      for (const pane of panes) pane.screen.refresh();
      for (const { client, stream } of ready) {
        for (const pane of panes) {
          const since = stream.seen.get(pane.id) ?? 0;
          const update = pane.screen.updateSince(since);
          if (update === undefined) continue;
          stream.spend(pane.screen.rowsSince(since));
          stream.seen.set(pane.id, pane.screen.version);
          stream.inflight += Buffer.byteLength(update);
          client.send(FrameType.Screen, pane.id, update);
        }
      }
    }
    if (wait !== Number.POSITIVE_INFINITY) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
    }
  }
}
