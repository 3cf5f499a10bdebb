import { execFile } from 'node:child_process';
import type { Cleanup, CleanupHandle } from './cleanup.js';
import { isAlive, rssKiB, terminate } from './process-control.js';
import { PtyClient } from './pty-client.js';
import { pollUntil } from './waiting.js';

/** How long one tmux command may take, ms. */
const COMMAND_TIMEOUT_MS = 15_000;

/** Lines of history per pane, set to orchestra's default `scrollback` so both keep the same. */
export const TMUX_HISTORY_LIMIT = 10_000;

export interface TmuxServerOptions {
  /** `-L` socket name, unique per run. */
  socket: string;
  /** Temp directory: working directory and `TMUX_TMPDIR` (so the socket dies with it). */
  dir: string;
  /** Environment of the server and its panes (carries the run marker; no `TMUX`). */
  env: NodeJS.ProcessEnv;
  cleanup: Cleanup;
}

/**
 * A private tmux server (`tmux -L <unique> -f /dev/null`) for side-by-side figures. Its options are
 * set on the command line, not from anyone's ~/.tmux.conf, so results do not depend on the machine.
 */
export class TmuxServer {
  private serverPid: number | undefined;
  private readonly stopStep: CleanupHandle;

  constructor(readonly options: TmuxServerOptions) {
    this.stopStep = options.cleanup.add(`tmux server ${options.socket}`, () => this.stopNow());
  }

  /**
   * Runs one tmux command (`args` may chain commands with ';' elements) and returns its stdout.
   * @throws Error with tmux's stderr when it fails or times out
   */
  run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'tmux',
        ['-L', this.options.socket, '-f', '/dev/null', ...args],
        { cwd: this.options.dir, env: this.options.env, timeout: COMMAND_TIMEOUT_MS },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`tmux ${args.join(' ')}: ${stderr.trim() || error.message}`));
          else resolve(stdout);
        },
      );
    });
  }

  /**
   * Starts the server with a detached session `name` of `cols`x`rows` whose first pane runs
   * `command`. History limit and `exit-empty off` are set before the first pane exists.
   */
  async start(
    name: string,
    cols: number,
    rows: number,
    command: string[],
    extraOptions: string[][] = [],
  ): Promise<void> {
    const set = (option: string[]) => [';', 'set-option', '-g', ...option];
    await this.run([
      'start-server',
      ...set(['exit-empty', 'off']),
      ...set(['history-limit', String(TMUX_HISTORY_LIMIT)]),
      ...extraOptions.flatMap(set),
      ';',
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(cols),
      '-y',
      String(rows),
      ...command,
    ]);
    this.serverPid = Number((await this.run(['display-message', '-p', '#{pid}'])).trim());
  }

  get pid(): number {
    if (this.serverPid === undefined) throw new Error('tmux server not started');
    return this.serverPid;
  }

  /** Server RSS in KiB (VmRSS). */
  rssKiB(): number {
    return rssKiB(this.pid);
  }

  /** A real `tmux attach` client on a node-pty of `cols`x`rows` (tmux draws only for attached clients). */
  attach(session: string, cols: number, rows: number, screen: boolean): PtyClient {
    return new PtyClient({
      file: 'tmux',
      args: ['-L', this.options.socket, '-f', '/dev/null', 'attach-session', '-t', session],
      cwd: this.options.dir,
      env: this.options.env,
      cols,
      rows,
      cleanup: this.options.cleanup,
      label: `tmux client ${this.options.socket}`,
      screen,
    });
  }

  /** `capture-pane -p` of `target` (from `start` lines of history when given). */
  capture(target: string, start?: number): Promise<string> {
    return this.run([
      'capture-pane',
      '-p',
      '-t',
      target,
      ...(start !== undefined ? ['-S', String(start)] : []),
    ]);
  }

  /** Kills the server and forgets its cleanup step. */
  async stop(): Promise<void> {
    await this.stopStep.run();
  }

  private async stopNow(): Promise<void> {
    await this.run(['kill-server']).catch(() => {
      // No server (never started, or already gone): the pid check below decides.
    });
    const pid = this.serverPid;
    if (pid !== undefined) {
      await pollUntil(() => !isAlive(pid), 3_000, 'tmux server exit').catch(() => terminate(pid));
    }
  }
}
