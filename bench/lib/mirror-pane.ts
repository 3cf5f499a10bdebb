import xtermHeadless from '@xterm/headless';
import { LOW_WATERMARK_CHARS } from '../../src/protocol/flow-control.js';
import type { Snapshot } from '../../src/protocol/messages.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

/** An acknowledgement is flushed at the latest this long after output was parsed, ms. */
const ACK_IDLE_MS = 20;

/**
 * The benchmark's in-process stand-in for a client that parses pane output itself (the model the
 * TUI had before issue 12; the TUI now paints the server's cells and has no emulator, so this
 * lives with the benchmark): a copy of one pane's screen, a headless terminal fed with the
 * server's snapshot and then its live output. It never answers terminal queries (only the server's emulator does), and
 * it acknowledges what it has parsed in batches no larger than the low watermark (DESIGN.md,
 * "Wire protocol").
 */
export class MirrorPane {
  terminal: HeadlessTerminal;
  private unackedParsed = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  /** Set while a snapshot is being replayed; input waits until it is applied. */
  replaying = false;

  constructor(
    readonly id: number,
    cols: number,
    rows: number,
    private readonly sendAck: (chars: number) => void,
    private readonly onParsed: () => void,
  ) {
    this.terminal = new Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
  }

  /** Replaces the screen with a snapshot: a fresh terminal of the snapshot's size, then the data. */
  applySnapshot(snapshot: Snapshot, done: () => void): void {
    this.terminal.dispose();
    this.terminal = new Terminal({
      cols: snapshot.cols,
      rows: snapshot.rows,
      scrollback: 1000,
      allowProposedApi: true,
    });
    this.replaying = true;
    // The server restarted its count for this pane when it sent the snapshot.
    this.unackedParsed = 0;
    this.terminal.write(snapshot.data, () => {
      this.replaying = false;
      this.onParsed();
      done();
    });
  }

  /** Live output from the server. */
  write(data: Buffer): void {
    // Count characters as the server does (UTF-16 length of the decoded string).
    const text = data.toString('utf8');
    this.terminal.write(text, () => {
      this.unackedParsed += text.length;
      if (this.unackedParsed >= LOW_WATERMARK_CHARS) this.flushAck();
      else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAck(), ACK_IDLE_MS);
      this.onParsed();
    });
  }

  private flushAck(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    while (this.unackedParsed > 0) {
      const batch = Math.min(this.unackedParsed, LOW_WATERMARK_CHARS);
      this.sendAck(batch);
      this.unackedParsed -= batch;
    }
  }

  /** Follows a size change the server made to the pane. */
  resize(cols: number, rows: number): void {
    if (cols !== this.terminal.cols || rows !== this.terminal.rows) this.terminal.resize(cols, rows);
  }

  dispose(): void {
    clearTimeout(this.ackTimer);
    this.terminal.dispose();
  }
}
