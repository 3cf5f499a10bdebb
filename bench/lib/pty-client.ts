import xtermHeadless from '@xterm/headless';
import * as pty from 'node-pty';
import type { Cleanup, CleanupHandle } from './cleanup.js';
import { isAlive } from './process-control.js';
import { pollUntil } from './waiting.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

export interface PtyClientOptions {
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  cols: number;
  rows: number;
  cleanup: Cleanup;
  label: string;
  /**
   * Feed the output into a headless terminal of the same size, so `screenText()` shows what a
   * person would see. Off for throughput runs, where parsing in this process would steal the CPU
   * the measured programs need.
   */
  screen?: boolean;
}

/**
 * A program on a real PTY (node-pty), as a person's terminal would run it: a tmux client, an
 * `orchestra attach`, or a plain `cat` for the raw baseline. Output is drained as fast as it
 * comes; listeners see each chunk with its arrival time.
 */
export class PtyClient {
  readonly startedAt: number;
  readonly terminal: HeadlessTerminal | undefined;
  /** Output characters received so far. */
  received = 0;
  exited = false;
  private readonly child: pty.IPty;
  private readonly listeners = new Set<(data: string, at: number) => void>();
  private readonly stop: CleanupHandle;

  constructor(options: PtyClientOptions) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    env.TERM = 'xterm-256color';
    this.terminal = options.screen
      ? new Terminal({ cols: options.cols, rows: options.rows, scrollback: 0, allowProposedApi: true })
      : undefined;
    this.startedAt = performance.now();
    this.child = pty.spawn(options.file, options.args, {
      name: 'xterm-256color',
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd,
      env,
    });
    this.child.onData((data) => {
      const at = performance.now();
      this.received += data.length;
      this.terminal?.write(data);
      for (const listener of this.listeners) listener(data, at);
    });
    this.child.onExit(() => {
      this.exited = true;
    });
    const pid = this.child.pid;
    this.stop = options.cleanup.add(options.label, async () => {
      if (!this.exited) {
        try {
          this.child.kill('SIGHUP');
        } catch {
          // Already gone.
        }
      }
      await pollUntil(() => this.exited || !isAlive(pid), 2_000, `${options.label} exit`).catch(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      });
      this.terminal?.dispose();
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Adds an output listener; returns a function that removes it. */
  onData(listener: (data: string, at: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Types into the program (what a person's keys would send). */
  write(data: string): void {
    this.child.write(data);
  }

  /** Resolves once everything received so far is parsed into the screen. */
  settled(): Promise<void> {
    const terminal = this.terminal;
    return new Promise((resolve) => (terminal ? terminal.write('', resolve) : resolve()));
  }

  /** The visible screen as text, one string per row (trailing blanks trimmed). */
  screenText(): string[] {
    const terminal = this.terminal;
    if (!terminal) return [];
    const buffer = terminal.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < terminal.rows; y++)
      rows.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    return rows;
  }

  /** Ends the program (SIGHUP, as a closing terminal) and waits for it. */
  async close(): Promise<void> {
    await this.stop.run();
  }
}
