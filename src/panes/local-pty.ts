import * as pty from 'node-pty';
import type { Disposable, PaneExit, PaneProcess } from './pane-process.js';

/** How to start a local pane process. */
export interface LocalPtyOptions {
  command: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  cols: number;
  rows: number;
  /** `TERM` for the program (default xterm-256color: what the server's emulator answers as). */
  term?: string;
}

/**
 * A pane process on a local PTY (node-pty). It dies with the server; agents resume from their
 * checkpoints instead (DESIGN.md, "Processes" 3).
 *
 * @throws Error from node-pty when the command cannot be started (for example, not found)
 */
export class LocalPtyProcess implements PaneProcess {
  private readonly child: pty.IPty;
  private exited: PaneExit | undefined;
  private readonly exitListeners = new Set<(exit: PaneExit) => void>();

  constructor(options: LocalPtyOptions) {
    const [file, ...args] = options.command;
    if (!file) throw new Error('no command given');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    env.TERM = options.term ?? 'xterm-256color';
    // Nested orchestra/tmux inside a pane must not think it is the outer client.
    delete env.ORCHESTRA_CLIENT;
    this.child = pty.spawn(file, args, {
      name: env.TERM,
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd,
      env,
      encoding: 'utf8',
    });
    this.child.onExit(({ exitCode, signal }) => {
      this.exited = signal ? { exitCode: null, signal } : { exitCode };
      for (const listener of this.exitListeners) listener(this.exited);
      this.exitListeners.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  write(data: string | Buffer): void {
    if (this.exited) return;
    this.child.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.exited) return;
    try {
      this.child.resize(cols, rows);
    } catch {
      // The process can exit between the check above and the ioctl; its exit event follows.
    }
  }

  onData(listener: (data: string) => void): Disposable {
    return this.child.onData(listener);
  }

  onExit(listener: (exit: PaneExit) => void): Disposable {
    if (this.exited) {
      const exit = this.exited;
      queueMicrotask(() => listener(exit));
      return { dispose: () => {} };
    }
    this.exitListeners.add(listener);
    return { dispose: () => this.exitListeners.delete(listener) };
  }

  pause(): void {
    this.child.pause();
  }

  resume(): void {
    this.child.resume();
  }

  kill(signal = 'SIGHUP'): void {
    if (this.exited) return;
    try {
      this.child.kill(signal);
    } catch {
      // Already gone: the exit event reports it.
    }
  }
}
