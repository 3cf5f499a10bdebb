import serializeAddon from '@xterm/addon-serialize';
import unicode11Addon from '@xterm/addon-unicode11';
import xtermHeadless from '@xterm/headless';
import { adaptKeysToModes } from '../keys/key-names.js';
import { HIGH_WATERMARK_CHARS, LOW_WATERMARK_CHARS } from '../protocol/flow-control.js';
import type { PaneInfo, Snapshot } from '../protocol/messages.js';
import type { Disposable, PaneExit, PaneProcess } from './pane-process.js';
import { PaneScreen } from './pane-screen.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;
const { SerializeAddon } = serializeAddon;
type Serializer = InstanceType<typeof SerializeAddon>;

/**
 * Makes xterm parse its next write synchronously (its WriteBuffer's `handleUserInput`, internal:
 * without it, writes are parsed on the next timer as before).
 */
function markParseNow(terminal: HeadlessTerminal): void {
  const core = (terminal as unknown as { _core?: { _writeBuffer?: { handleUserInput?: () => void } } })._core;
  core?._writeBuffer?.handleUserInput?.();
}

/** No output for this long counts as idle: the next output is parsed at once, ms. */
const IDLE_MS = 2;

/** Default lines of history per pane (config `scrollback`). */
export const DEFAULT_SCROLLBACK = 10_000;

/** How a pane was made, kept so the server can describe (and later restore) it. */
export interface PaneSpec {
  name: string;
  command: string[];
  cwd: string;
  /** Keep the pane on screen after its process ends (agents: yes, plain commands: no, as in tmux). */
  remainOnExit: boolean;
  /** The attempt whose agent runs here, if any. */
  attemptId?: string;
  /** The agent's run directory: its `events.jsonl` gives the pane's state and cost. */
  runDir?: string;
}

/**
 * Why a pane went: `killed` by a person (`kill-pane`, prefix x), `shutdown` of the server (its
 * processes are ended but what they did stays resumable), `removed` for any other reason (its
 * process ended and it did not remain on exit).
 */
export type PaneCloseReason = 'killed' | 'shutdown' | 'removed';

/**
 * One pane: a process and the server's `@xterm/headless` emulator of its screen, the
 * authoritative copy of what every client shows (DESIGN.md, "Processes" 1).
 * Output reaches listeners only after the emulator has parsed it, so a snapshot plus the output
 * that follows it always adds up to the pane's screen.
 */
export class Pane {
  readonly terminal: HeadlessTerminal;
  /** The screen as attached clients receive it: changed rows as cells. */
  readonly screen: PaneScreen;
  private readonly serializer: Serializer;
  private readonly outputListeners = new Set<(data: string) => void>();
  private readonly exitListeners = new Set<(exit: PaneExit) => void>();
  private readonly closeListeners = new Set<(reason: PaneCloseReason) => void>();
  private readonly disposables: Disposable[] = [];
  private readonly processDisposables: Disposable[] = [];
  private current: PaneProcess;
  private pendingChars = 0;
  /** When output last came in (Date.now() ms). */
  private lastIngestAt = 0;
  private paused = false;
  private exit: PaneExit | undefined;
  private closed = false;
  /** Agent state shown in the title (working, waiting, done, error) when known. */
  state: string | undefined;
  /** While the agent is `rate-limited`: when it goes on (ISO time, from its status summary). */
  until: string | undefined;
  /** Extra title text (cost, container CPU and memory). */
  detail: string | undefined;

  /**
   * @param id the pane's number on the wire (never reused within a server's life)
   * @param process what runs in the pane; the pane owns it from now on
   */
  constructor(
    readonly id: number,
    readonly spec: PaneSpec,
    process: PaneProcess,
    size: { cols: number; rows: number },
    scrollback = DEFAULT_SCROLLBACK,
  ) {
    this.terminal = new Terminal({ cols: size.cols, rows: size.rows, scrollback, allowProposedApi: true });
    this.serializer = new SerializeAddon();
    this.terminal.loadAddon(this.serializer as unknown as Parameters<HeadlessTerminal['loadAddon']>[0]);
    // Character widths of Unicode 11 (emoji such as ✅ take two cells), as agents' UIs (Ink) and
    // tmux count them; xterm's default is Unicode 6.
    this.terminal.loadAddon(
      new unicode11Addon.Unicode11Addon() as unknown as Parameters<HeadlessTerminal['loadAddon']>[0],
    );
    this.terminal.unicode.activeVersion = '11';
    this.screen = new PaneScreen(this.terminal);
    // Only the server's emulator answers terminal queries (device attributes, cursor position):
    // its replies go to the process; client mirrors never write back.
    this.disposables.push(this.terminal.onData((reply) => this.current.write(reply)));
    this.disposables.push(
      this.terminal.onBinary((reply) => this.current.write(Buffer.from(reply, 'binary'))),
    );
    this.current = process;
    this.attach(process);
  }

  /** What runs in the pane now (a respawn replaces it). */
  get process(): PaneProcess {
    return this.current;
  }

  private attach(process: PaneProcess): void {
    this.processDisposables.push(process.onData((data) => this.ingest(data)));
    this.processDisposables.push(
      process.onExit((exit) => {
        // Let output already written finish parsing before announcing the exit.
        this.terminal.write('', () => {
          if (this.current !== process) return;
          this.exit = exit;
          // A copy: a listener may dispose the pane (the server removes ended panes), which clears
          // the set and would skip the listeners after it.
          for (const listener of [...this.exitListeners]) listener(exit);
        });
      }),
    );
  }

  /**
   * Runs `process` in the pane instead of the one there, as `tmux respawn-pane -k` does: the old
   * one is ended without its exit being announced, the screen and its history stay, and exit
   * listeners wait for the new one's exit. The pane owns `process` from now on.
   */
  respawn(process: PaneProcess): void {
    for (const d of this.processDisposables.splice(0)) d.dispose();
    const old = this.current;
    this.current = process;
    this.exit = undefined;
    if (this.paused) {
      this.paused = false;
      old.resume();
    }
    old.kill();
    process.resize(this.terminal.cols, this.terminal.rows);
    this.attach(process);
  }

  get name(): string {
    return this.spec.name;
  }

  get exited(): boolean {
    return this.exit !== undefined;
  }

  get exitInfo(): PaneExit | undefined {
    return this.exit;
  }

  /** Characters written to the emulator and not yet parsed (for tests and the benchmark). */
  get backlog(): number {
    return this.pendingChars;
  }

  private ingest(data: string): void {
    // Output after an idle moment is parsed now, not on xterm's next timer (setTimeout, ≥ 1 ms in
    // Node): xterm parses at once the first write after user input, and this marks such a write
    // so. Under a flood writes queue up, xterm's time-sliced loop parses them and the watermarks
    // above pause the process.
    const now = Date.now();
    if (this.pendingChars === 0 && now - this.lastIngestAt >= IDLE_MS) markParseNow(this.terminal);
    this.lastIngestAt = now;
    this.pendingChars += data.length;
    if (!this.paused && this.pendingChars > HIGH_WATERMARK_CHARS) {
      this.paused = true;
      this.process.pause();
    }
    this.terminal.write(data, () => {
      this.pendingChars -= data.length;
      if (this.paused && this.pendingChars < LOW_WATERMARK_CHARS) {
        this.paused = false;
        this.process.resume();
      }
      for (const listener of this.outputListeners) listener(data);
    });
  }

  /** Output after the emulator parsed it. */
  onOutput(listener: (data: string) => void): Disposable {
    this.outputListeners.add(listener);
    return { dispose: () => this.outputListeners.delete(listener) };
  }

  /**
   * Fires once when the process has ended and its last output is parsed. A listener added after
   * that is called at once (on the next microtask): an exit is never missed, however early it came
   * (an agent `true` ends while its attempt is still writing the store).
   */
  onExit(listener: (exit: PaneExit) => void): Disposable {
    const exit = this.exit;
    if (exit) {
      let live = true;
      queueMicrotask(() => {
        if (live) listener(exit);
      });
      return {
        dispose: () => {
          live = false;
        },
      };
    }
    this.exitListeners.add(listener);
    return { dispose: () => this.exitListeners.delete(listener) };
  }

  /** Fires once when the pane is disposed, with why: the last word an owner gets about it. */
  onClose(listener: (reason: PaneCloseReason) => void): Disposable {
    this.closeListeners.add(listener);
    return { dispose: () => this.closeListeners.delete(listener) };
  }

  /**
   * Shows text in the pane as if its program had printed it (the check gate's output, a notice),
   * through the same emulator and client path as real output. `\n` becomes `\r\n`.
   */
  print(text: string): void {
    this.ingest(text.replace(/\r?\n/g, '\r\n'));
  }

  /**
   * Input from a client (keys, paste, `send-keys`). Cursor keys and bracketed paste are adapted to
   * the program's modes here, in the pane, as tmux does (keys/key-names.ts `adaptKeysToModes`).
   * It then goes through the emulator's `input` (whose onData hands it to the process) marked as
   * user input: xterm then parses the echo that follows at once, instead of after a timer
   * (measured: 1.2 ms → 0.01 ms per echo, bench/ "echo").
   */
  input(data: string | Buffer): void {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (typeof data !== 'string' && !Buffer.from(text, 'utf8').equals(data)) {
      // Not UTF-8 (a binary paste): the emulator would mangle it, so it goes straight through.
      this.process.write(data);
      return;
    }
    this.terminal.input(adaptKeysToModes(text, this.terminal.modes), true);
  }

  /** Resizes the emulator and the process's terminal; a no-op when the size is unchanged. */
  resize(cols: number, rows: number): void {
    if (cols < 1 || rows < 1) return;
    if (cols === this.terminal.cols && rows === this.terminal.rows) return;
    this.terminal.resize(cols, rows);
    this.process.resize(cols, rows);
  }

  /**
   * The screen (and `scrollback` lines of history, default none) as escape sequences that rebuild it
   * in a terminal of the same size: modes, alternate screen and cursor included.
   */
  snapshot(scrollback = 0): Snapshot {
    return {
      cols: this.terminal.cols,
      rows: this.terminal.rows,
      data: this.serializer.serialize({ scrollback }),
    };
  }

  /**
   * The pane's text, like `tmux capture-pane -p`: lines `start`..`end` (inclusive), where 0 is the
   * top of the visible screen and negative numbers reach into history; trailing blanks trimmed.
   * With `escapes`, colours and attributes are kept as escape sequences (the serialize addon's form).
   */
  capture(start = 0, end?: number, escapes = false): string {
    const buffer = this.terminal.buffer.active;
    const top = buffer.baseY;
    const first = Math.max(0, top + start);
    const last = Math.min(buffer.length - 1, top + (end ?? this.terminal.rows - 1));
    if (escapes) {
      return this.serializer.serialize({ range: { start: first, end: last }, excludeModes: true });
    }
    const lines: string[] = [];
    for (let y = first; y <= last; y++) {
      const line = buffer.getLine(y);
      if (!line) continue;
      lines.push(line.translateToString(true));
    }
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  /** The pane as clients see it. */
  info(index: number): PaneInfo {
    return {
      id: this.id,
      index,
      name: this.spec.name,
      state: this.state ?? (this.exit ? 'exited' : undefined),
      ...(this.until ? { until: this.until } : {}),
      detail: this.detail,
      cols: this.terminal.cols,
      rows: this.terminal.rows,
      exited: this.exit !== undefined,
      exitCode: this.exit?.exitCode ?? null,
      pid: this.process.pid,
      command: this.spec.command,
      cwd: this.spec.cwd,
    };
  }

  /**
   * Ends the process (if still running) and frees the emulator; close listeners hear `reason`
   * first. Idempotent.
   */
  dispose(reason: PaneCloseReason = 'removed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of [...this.closeListeners]) listener(reason);
    this.closeListeners.clear();
    this.current.kill();
    for (const d of [...this.disposables, ...this.processDisposables]) d.dispose();
    this.outputListeners.clear();
    this.exitListeners.clear();
    this.terminal.dispose();
  }
}
