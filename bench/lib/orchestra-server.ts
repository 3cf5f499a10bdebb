import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectSession, type ServerConnection } from '../../src/client/connection.js';
import { probeSocket } from '../../src/ipc/socket-lock.js';
import type { Command, PaneInfo } from '../../src/protocol/messages.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import type { Cleanup, CleanupHandle } from './cleanup.js';
import type { BenchContext } from './context.js';
import { isAlive, rssKiB, terminate } from './process-control.js';
import { PtyClient } from './pty-client.js';
import { pollUntil, withTimeout } from './waiting.js';

/** The built CLI the benchmark measures (`npm run build` writes dist/, which it runs). */
export const ORCHESTRA_BIN = fileURLToPath(new URL('../../bin/orchestra', import.meta.url));

/** How long a server may take to accept connections after it was spawned, ms. */
const START_TIMEOUT_MS = 15_000;

/** How long one command (new-pane, capture-pane, ...) may take, ms. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface OrchestraServerOptions {
  /** Session (socket) name. */
  session: string;
  /** Temp directory: working directory, `ORCHESTRA_TMPDIR`, and the server's log. */
  dir: string;
  /** Environment of the server and so of its panes (carries the run marker). */
  env: NodeJS.ProcessEnv;
  cleanup: Cleanup;
  /** Node flags for the server process, given its session name (for example `--cpu-prof`). */
  nodeFlags?: (session: string) => string[];
}

/**
 * One `orchestra server -s NAME` process started by the benchmark in the foreground, plus a
 * persistent command-mode connection to send it requests. Stopping it is registered with the
 * cleanup, so it ends even when a scenario fails.
 */
export class OrchestraServer {
  /** Runs (and unregisters) this server's cleanup step. */
  private stopStep: CleanupHandle | undefined;

  private constructor(
    readonly options: OrchestraServerOptions,
    private readonly child: ChildProcess,
    private readonly control: ServerConnection,
  ) {}

  /** {@link start} for a scenario: a session named `prefix` plus the run id, in the run's directory. */
  static startIn(ctx: BenchContext, prefix: string): Promise<OrchestraServer> {
    return OrchestraServer.start({
      session: ctx.name(prefix),
      dir: ctx.dir,
      env: ctx.env,
      cleanup: ctx.cleanup,
      nodeFlags: ctx.nodeFlags,
    });
  }

  /**
   * Spawns the server and waits for its socket.
   * @throws Error when it does not come up within 15 s (its log is in `dir`)
   */
  static async start(options: OrchestraServerOptions): Promise<OrchestraServer> {
    const logPath = join(options.dir, `orchestra-${options.session}.log`);
    const log = openSync(logPath, 'a');
    const child = spawn(
      process.execPath,
      [...(options.nodeFlags?.(options.session) ?? []), ORCHESTRA_BIN, 'server', '-s', options.session],
      { cwd: options.dir, env: options.env, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not spawn orchestra server');
    // Until the control connection exists, cleanup can only kill the process.
    const killOnly = options.cleanup.add(`orchestra server ${options.session}`, () => terminate(pid));
    const path = socketPath(options.session, options.env);
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`orchestra server exited early; see ${logPath}`);
        return (await probeSocket(path, 200)) === 'live';
      },
      START_TIMEOUT_MS,
      `orchestra server ${options.session} start`,
      25,
    );
    const control = await connectSession({
      session: options.session,
      env: options.env,
      hello: {
        version: 'bench',
        mode: 'command',
        cols: 80,
        rows: 24,
        term: 'xterm-256color',
        readOnly: false,
      },
    });
    killOnly.forget();
    const server = new OrchestraServer(options, child, control);
    server.stopStep = options.cleanup.add(`orchestra server ${options.session}`, () => server.stopNow());
    return server;
  }

  /**
   * The real full-screen client, `orchestra attach`, on a node-pty of `cols`x`rows` (as
   * TmuxServer.attach starts `tmux attach`), with the server's node flags under `<session>-attach`.
   */
  attach(cols: number, rows: number, label: string, screen = false): PtyClient {
    const o = this.options;
    return new PtyClient({
      file: process.execPath,
      args: [...(o.nodeFlags?.(`${o.session}-attach`) ?? []), ORCHESTRA_BIN, 'attach', '-t', o.session],
      cwd: o.dir,
      env: o.env,
      cols,
      rows,
      cleanup: o.cleanup,
      label: `orchestra attach (${label})`,
      screen,
    });
  }

  /** Resolves once at least one client is attached. @throws Error after 15 s */
  async waitForClient(): Promise<void> {
    await pollUntil(
      async () => (await this.request<unknown[]>({ cmd: 'list-clients' })).length > 0,
      15_000,
      'orchestra attach to connect',
      50,
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get session(): string {
    return this.options.session;
  }

  /** Server RSS in KiB (VmRSS). */
  rssKiB(): number {
    return rssKiB(this.pid);
  }

  /**
   * Sends one command over the control connection.
   * @throws OrchestraError as the server answered, or Error on timeout
   */
  request<T = unknown>(command: Command): Promise<T> {
    return withTimeout(this.control.request<T>(command), REQUEST_TIMEOUT_MS, `orchestra ${command.cmd}`);
  }

  /** Starts a pane running `command` (argv, no shell) and returns it. */
  newPane(command: string[], name?: string): Promise<PaneInfo> {
    return this.request<PaneInfo>({
      cmd: 'new-pane',
      command,
      cwd: this.options.dir,
      ...(name ? { name } : {}),
    });
  }

  /** The text of pane `%id` (screen, or from `start` lines of history), as `capture-pane -p` prints it. */
  async capture(paneId: number, start?: number): Promise<string> {
    const result = await this.request<{ text: string }>({
      cmd: 'capture-pane',
      pane: `%${paneId}`,
      ...(start !== undefined ? { start } : {}),
    });
    return result.text;
  }

  /** Stops the server (kill-server, then signals) and forgets its cleanup step. */
  async stop(): Promise<void> {
    await this.stopStep?.run();
  }

  private async stopNow(): Promise<void> {
    if (isAlive(this.pid)) {
      // The answer may never come if the server dies first; the process check below decides.
      await withTimeout(this.control.request({ cmd: 'kill-server' }), 3_000, 'kill-server').catch(() => {});
    }
    this.control.close();
    await pollUntil(() => !isAlive(this.pid), 3_000, 'server exit').catch(() => terminate(this.pid));
  }
}
