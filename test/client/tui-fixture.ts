import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { makeRepo, tempDir } from '../git/fixtures.js';
import { type CliResult, ORCHESTRA_BIN, runCli } from '../support/cli.js';
import { isolatedEnv } from '../support/isolated-env.js';
import { TmuxTerminal } from '../support/tmux.js';

/**
 * One scratch world for the TUI end-to-end tests: a git repository, a private HOME, a private
 * orchestra socket directory and private tmux servers, so nothing leaks between test files or
 * into the machine's own sessions. `dispose` ends every server it started, even after failures.
 */
export class TuiWorld {
  readonly terminals: TmuxTerminal[] = [];

  private constructor(
    /** The repository the session belongs to. */
    readonly root: string,
    /** Temp dir holding HOME, the socket dirs and the repository. */
    readonly base: string,
    /** Environment for orchestra and tmux alike. */
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The session name orchestra derives from the repository's directory name. */
  get session(): string {
    return basename(this.root);
  }

  /** The socket of this world's session. */
  get socketPath(): string {
    return join(this.env.ORCHESTRA_TMPDIR!, `orchestra-${process.getuid?.() ?? 0}`, this.session);
  }

  static async create(): Promise<TuiWorld> {
    const base = await tempDir();
    const root = await makeRepo();
    const env = await isolatedEnv(base);
    return new TuiWorld(root, base, env);
  }

  /** A new terminal (its own tmux server) with a plain shell in the repository. */
  async terminal(options: { cols?: number; rows?: number; term?: string } = {}): Promise<TmuxTerminal> {
    const terminal = await TmuxTerminal.start({ cwd: this.root, env: this.env, ...options });
    this.terminals.push(terminal);
    return terminal;
  }

  /**
   * A terminal in which `orchestra <args>` runs from its shell, followed by `echo EXIT=$?`, as a
   * person would type it; waits until the status bar (`[session]` on the last row) is drawn.
   */
  async client(
    args: string[],
    options: { cols?: number; rows?: number; launcher?: string; term?: string } = {},
  ): Promise<TmuxTerminal> {
    const terminal = await this.terminal({
      ...(options.cols !== undefined ? { cols: options.cols } : {}),
      ...(options.rows !== undefined ? { rows: options.rows } : {}),
      ...(options.term !== undefined ? { term: options.term } : {}),
    });
    await this.startClient(terminal, args, options.launcher);
    return terminal;
  }

  /**
   * Types `[launcher] orchestra <args>; echo EXIT=$?` into `terminal`'s shell and waits for the
   * status bar. `launcher` is a command prefix such as `env -u TMUX`.
   */
  async startClient(terminal: TmuxTerminal, args: string[], launcher?: string): Promise<string> {
    const line = [launcher, ORCHESTRA_BIN, ...args].filter(Boolean).join(' ');
    await terminal.typeLine(`${line}; echo EXIT=$?`);
    return terminal.waitForScreen((s) => statusLine(s).startsWith(`[${this.session}]`), {
      what: `the status bar of orchestra ${args.join(' ')}`,
    });
  }

  /** Runs the built CLI in the repository with this world's environment. */
  orchestra(args: string[]): Promise<CliResult> {
    return runCli(args, { cwd: this.root, env: this.env, timeoutMs: 15_000 });
  }

  /** `orchestra capture-pane -p -t <session>:<pane>`: the server's own screen of that pane. */
  async capturePane(pane: number | string, extra: string[] = []): Promise<string> {
    const result = await this.orchestra(['capture-pane', '-p', '-t', `${this.session}:${pane}`, ...extra]);
    if (result.code !== 0) throw new Error(`capture-pane failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Ends the tmux servers and the orchestra server, then removes every temp dir. */
  async dispose(): Promise<void> {
    await this.orchestra(['kill-server']).catch(() => {
      // No server (already killed, or never started): nothing to end.
    });
    for (const terminal of this.terminals) await terminal.kill();
    await rm(this.root, { recursive: true, force: true });
    await rm(this.base, { recursive: true, force: true });
  }
}

/** The last non-empty row of a capture: orchestra's status bar while it runs. */
export function statusLine(screen: string): string {
  const lines = screen.split('\n').filter((l) => l.trim() !== '');
  return lines.at(-1) ?? '';
}

/** The name of the pane marked focused (`*`) in the status bar, or undefined. */
export function focusedName(screen: string, session: string): string | undefined {
  const line = statusLine(screen);
  if (!line.startsWith(`[${session}]`)) return undefined;
  const match = /(?:^| )\d+:(\S+?)\*/.exec(line.slice(session.length + 2));
  return match?.[1];
}
