import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { setUpDemo } from '../../src/cli/commands/demo.js';
import type { State } from '../../src/store/schema.js';
import { statusLine } from '../client/tui-fixture.js';
import { tempDir } from '../git/fixtures.js';
import { type CliResult, ORCHESTRA_BIN, runCli } from '../support/cli.js';
import { isolatedEnv } from '../support/isolated-env.js';
import { TmuxTerminal } from '../support/tmux.js';

/**
 * The demo repository of `orchestra demo` (src/demo: a JS library with `npm test`, three queued
 * tasks, a scripted model server) in a scratch world of its own, as test/client/tui-fixture.ts
 * isolates the TUI tests: a private HOME, orchestra socket directory (ORCHESTRA_TMPDIR) and tmux
 * servers (TMUX_TMPDIR). `dispose` ends everything it started — the orchestra server, the
 * detached model server, the tmux server — and removes the temp dir, even after a failure.
 */
export class DemoWorld {
  /** The terminal running `orchestra tui`, once {@link DemoWorld.openTui} has run. */
  terminal: TmuxTerminal | undefined;

  private constructor(
    /** Temp dir holding HOME, the socket dirs and the repository. */
    readonly base: string,
    /** The demo repository (the session's root). */
    readonly root: string,
    /** Environment for orchestra, tmux and git alike, with the scripted model's URL and key. */
    readonly env: NodeJS.ProcessEnv,
    /** pid of the detached scripted model server. */
    readonly modelPid: number,
  ) {}

  /** The session name orchestra derives from the repository's directory name. */
  get session(): string {
    return basename(this.root);
  }

  /**
   * Creates the demo repository with `setUpDemo` (fast scripted timings: answers after 50 ms,
   * 2 ms between streamed chunks) and sets `"sandbox": "local"` in its orchestra.json, so the
   * agents run as local processes whether or not Docker is there (Docker workers have their own
   * tests in test/workers). With `autonomy`, the repository of `orchestra demo --autonomy`: no
   * queued tasks, the autonomous mode on.
   */
  static async create(options: { autonomy?: boolean } = {}): Promise<DemoWorld> {
    const base = await tempDir();
    const root = join(base, 'calc');
    const env = await isolatedEnv(base, {
      // `npm test` is the check: without this npm asks the registry for a newer npm on every run,
      // which is slow (or hangs) on a machine without network and prints a notice into the panes.
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      // The terminal's bash would write ~/.bash_history as the tmux server ends, racing the cleanup.
      HISTFILE: '',
    });
    // Set by `node --test` for its child processes: a `node --test` (the demo's `npm test`) that
    // inherits it reports to a parent runner that is not there and exits 0 even when tests fail.
    delete env.NODE_TEST_CONTEXT;
    let demo: Awaited<ReturnType<typeof setUpDemo>>;
    try {
      demo = await setUpDemo(
        root,
        {
          cwd: root,
          env,
          output: { out: () => {}, err: () => {} },
          readStdin: async () => '',
        },
        { delayMs: 50, chunkDelayMs: 2 },
        options.autonomy === true,
      );
    } catch (error) {
      // No world to dispose of yet: end a model server that may have started, then remove the dir.
      const pid = await readPid(root);
      if (pid) killQuietly(pid);
      await rm(base, { recursive: true, force: true });
      throw error;
    }
    const world = new DemoWorld(base, root, { ...demo.env }, demo.modelPid);
    try {
      const config = join(root, '.orchestra', 'orchestra.json');
      let text = await readFile(config, 'utf8');
      text = applyEdits(text, modify(text, ['sandbox'], 'local', {}));
      await writeFile(config, text);
    } catch (error) {
      await world.dispose();
      throw error;
    }
    return world;
  }

  /**
   * Opens a terminal (`cols` × `rows`, its own tmux server) in the repository, types
   * `orchestra tui; echo EXIT=$?` as a person would, and waits for the status bar.
   */
  async openTui(cols: number, rows: number): Promise<TmuxTerminal> {
    const terminal = await TmuxTerminal.start({ cwd: this.root, env: this.env, cols, rows });
    this.terminal = terminal;
    await terminal.typeLine(`${ORCHESTRA_BIN} tui; echo EXIT=$?`);
    await terminal.waitForScreen((s) => statusLine(s).startsWith(`[${this.session}]`), {
      what: 'the status bar of orchestra tui',
      timeoutMs: 20_000,
    });
    return terminal;
  }

  /** Runs the built CLI in the repository with this world's environment. */
  orchestra(args: string[], timeoutMs = 30_000): Promise<CliResult> {
    return runCli(args, { cwd: this.root, env: this.env, timeoutMs });
  }

  /** `.orchestra/state.json` as the server last wrote it. */
  async state(): Promise<State> {
    return JSON.parse(await readFile(join(this.root, '.orchestra', 'state.json'), 'utf8')) as State;
  }

  /** Runs a command in the repository (git, npm) and resolves with its exit code and output. */
  run(file: string, args: string[], timeoutMs = 30_000): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        file,
        args,
        { cwd: this.root, env: this.env, encoding: 'utf8', timeout: timeoutMs },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** `git <args>` in the repository; stdout trimmed. @throws when git exits non-zero */
  async git(...args: string[]): Promise<string> {
    const result = await this.run('git', args);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** Ends the orchestra server, the model server and the tmux server, then removes the temp dir. */
  async dispose(): Promise<void> {
    await this.orchestra(['kill-server'], 15_000).catch(() => {
      // No server (never started, or already gone): nothing to end.
    });
    killQuietly(this.modelPid);
    const recorded = await readPid(this.root);
    if (recorded && recorded !== this.modelPid) killQuietly(recorded);
    await this.terminal?.kill();
    // Processes that were just told to end may still write a file on their way out.
    await rm(this.base, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** The pid `setUpDemo` wrote to `.orchestra/demo-model-server.pid`, if any. */
async function readPid(root: string): Promise<number | undefined> {
  const text = await readFile(join(root, '.orchestra', 'demo-model-server.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function killQuietly(pid: number): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Already gone.
  }
}

/** The task counts of the status bar (`N queued · N running · N done · N failed`), if shown. */
export function taskCounts(
  screen: string,
): { queued: number; running: number; done: number; failed: number } | undefined {
  const m = /(\d+) queued · (\d+) running · (\d+) done · (\d+) failed/.exec(statusLine(screen));
  if (!m) return undefined;
  return { queued: Number(m[1]), running: Number(m[2]), done: Number(m[3]), failed: Number(m[4]) };
}
