import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { VERSION } from '../../src/cli/version.js';
import { connectSession } from '../../src/client/connection.js';
import { type OrchestraPaths, orchestraPaths } from '../../src/common/paths.js';
import type { ScenarioFile } from '../../src/model-server/scenario.js';
import {
  type ScriptedModelServer,
  startScriptedModelServer,
} from '../../src/model-server/scripted-server.js';
import type { Command } from '../../src/protocol/messages.js';
import type { State } from '../../src/store/schema.js';
import { archiveTask } from '../../src/tasks/queue.js';
import { cleanEnv, gitOut, tempDir } from '../git/fixtures.js';
import { ORCHESTRA_BIN } from '../support/cli.js';
import { TEST_API_KEY } from '../support/scripted-model.js';
import {
  firstTask,
  type SlowWindows,
  scenarioFile,
  secondTask,
  settleStrategy,
  setupCommand,
} from './resume-scenario.js';

/**
 * One repository for the crash-and-resume test, with everything around it: the scripted model
 * server (in this process, so its recorded requests can be read), `orchestra server` processes
 * started and SIGKILLed as a user's machine would, and the effects log the scripted commands write.
 * `dispose` ends whatever is still running — servers, their agents, the model server — and
 * removes the temp dir, also after a failed assertion.
 */

/** One line of an attempt's events.jsonl. */
export interface RunEvent {
  type: string;
  state?: string;
  summary?: string;
  [key: string]: unknown;
}

/** Polls `check` every `everyMs` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs: number,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * True while `pid` runs: Linux's /proc says so and it is not a zombie (an orphan is reaped by
 * whatever adopted it, which in a container may never happen). Elsewhere, `kill(pid, 0)`.
 */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** The command line of `pid` ('' when it is gone or unreadable). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Processes whose working directory lies inside `dir` (Linux; none where /proc is missing). */
async function processesIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(pid);
  }
  return pids;
}

/** An `orchestra server` process of the world. */
export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has ended. */
  exited: Promise<void>;
}

/** What {@link ResumeWorld.custom} builds. */
export interface CustomWorld {
  name: string;
  config: Record<string, unknown>;
  tasks: Record<string, string>;
  scenario: ScenarioFile;
  files?: Record<string, string>;
  /** `.orchestra/strategies/<name>.mjs` texts. */
  strategies?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

export class ResumeWorld {
  private readonly servers: ServerProcess[] = [];

  private constructor(
    /** Temp dir holding the repository, the socket directory, the effects log and server logs. */
    readonly base: string,
    readonly root: string,
    readonly paths: OrchestraPaths,
    /** Where the scripted commands append their lines (see resume-scenario.ts, `effect`). */
    readonly effectsLog: string,
    readonly model: ScriptedModelServer,
    readonly env: NodeJS.ProcessEnv,
    readonly session: string,
  ) {}

  /**
   * A repository on `main` with `.orchestra/` set up by hand (local sandbox, one attempt at a time,
   * two check rounds), task-01 queued (and task-02 unless `secondTaskLater`), and its model server.
   */
  static async create(options: {
    name: string;
    slow: SlowWindows;
    /** task-01's strategy: `single`, or `settle` (single with a pause before the archive). */
    strategy?: 'single' | 'settle';
    /** Leave task-02 out of the queue; the test queues it with {@link ResumeWorld.queueSecondTask}. */
    secondTaskLater?: boolean;
  }): Promise<ResumeWorld> {
    return ResumeWorld.custom((EFFECTS) => ({
      name: options.name,
      files: { 'README.md': 'resume test\n', '.gitignore': '.setup-done\n.checked-once\n' },
      config: {
        sandbox: 'local',
        maxParallel: 1,
        maxAttempts: 2,
        setup: [setupCommand(EFFECTS, options.slow)],
      },
      tasks: {
        'task-01': firstTask(EFFECTS, options.slow, options.strategy),
        ...(options.secondTaskLater ? {} : { 'task-02': secondTask(EFFECTS) }),
      },
      ...(options.strategy === 'settle' ? { strategies: { settle: settleStrategy(options.slow) } } : {}),
      scenario: scenarioFile(EFFECTS, options.slow),
    }));
  }

  /**
   * A repository of the test's own making: `files` committed on main, `.orchestra/` with
   * `config` (orchestra.json), the queued `tasks` (`{ 'task-01': markdown }`), and a model server
   * playing `scenario`. `env` is added to the servers' environment (`ANTHROPIC_API_KEY: ''`
   * removes the key).
   */
  static async custom(spec: CustomWorld | ((effectsLog: string) => CustomWorld)): Promise<ResumeWorld> {
    const base = await tempDir();
    try {
      const root = join(base, 'repo');
      const effectsLog = join(base, 'effects.log');
      const options = typeof spec === 'function' ? spec(effectsLog) : spec;
      await mkdir(root);
      await writeFile(effectsLog, '');
      gitOut(root, 'init', '--quiet', '-b', 'main');
      gitOut(root, 'config', 'user.name', 'Test User');
      gitOut(root, 'config', 'user.email', 'test@example.com');
      for (const [name, text] of Object.entries({ 'README.md': 'test\n', ...options.files })) {
        await mkdir(join(root, name, '..'), { recursive: true });
        await writeFile(join(root, name), text);
      }
      gitOut(root, 'add', '-A');
      gitOut(root, 'commit', '--quiet', '-m', 'initial');
      const paths = orchestraPaths(root);
      for (const dir of [paths.tasks, paths.done, paths.failed, paths.runs, paths.worktrees, paths.logs]) {
        await mkdir(dir, { recursive: true });
      }
      await writeFile(paths.gitignore, '*\n!.gitignore\n!orchestra.json\n');
      await writeFile(paths.config, `${JSON.stringify(options.config, null, 2)}\n`);
      if (options.strategies) await mkdir(paths.strategies, { recursive: true });
      for (const [name, text] of Object.entries(options.strategies ?? {}))
        await writeFile(join(paths.strategies, `${name}.mjs`), text);
      for (const [id, text] of Object.entries(options.tasks))
        await writeFile(join(paths.tasks, `${id}.md`), text);
      return await ResumeWorld.finish(
        base,
        root,
        paths,
        effectsLog,
        options.name,
        options.scenario,
        options.env,
      );
    } catch (error) {
      await rm(base, { recursive: true, force: true });
      throw error;
    }
  }

  private static async finish(
    base: string,
    root: string,
    paths: OrchestraPaths,
    effectsLog: string,
    name: string,
    scenario: ScenarioFile,
    extraEnv: NodeJS.ProcessEnv = {},
  ): Promise<ResumeWorld> {
    {
      const model = await startScriptedModelServer({ scenario });
      const env: NodeJS.ProcessEnv = {
        ...cleanEnv(),
        HOME: join(base, 'home'),
        XDG_CONFIG_HOME: join(base, 'config'),
        ORCHESTRA_TMPDIR: join(base, 'sock'),
        ANTHROPIC_BASE_URL: model.url,
        ANTHROPIC_API_KEY: TEST_API_KEY,
        NO_COLOR: '1',
      };
      // Set by `node --test` for its children; nothing below reports to this runner.
      delete env.NODE_TEST_CONTEXT;
      for (const key of Object.keys(env)) {
        if (key.startsWith('ORCHESTRA_') && key !== 'ORCHESTRA_TMPDIR') delete env[key];
        if (key.startsWith('TMUX')) delete env[key];
      }
      for (const [key, value] of Object.entries(extraEnv)) {
        if (value === '') delete env[key];
        else env[key] = value;
      }
      for (const dir of ['home', 'config', 'sock']) await mkdir(join(base, dir), { mode: 0o700 });
      return new ResumeWorld(base, root, paths, effectsLog, model, env, `resume-${name}`);
    }
  }

  /** Starts `orchestra server` for the repository (the built CLI, output to `server-<n>.log`). */
  startServer(): ServerProcess {
    const log = openSync(join(this.base, `server-${this.servers.length + 1}.log`), 'a');
    const child = spawn(
      process.execPath,
      [ORCHESTRA_BIN, 'server', '-s', this.session, '--repo', this.root],
      { cwd: this.root, env: this.env, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const server = { child, pid: child.pid ?? 0, exited };
    this.servers.push(server);
    return server;
  }

  /** SIGKILLs the server and waits until it is gone. */
  async killServer(server: ServerProcess): Promise<void> {
    server.child.kill('SIGKILL');
    await server.exited;
  }

  /** Stops the server as `kill-server` would (SIGTERM), or SIGKILLs it after `graceMs`. */
  async stopServer(server: ServerProcess, graceMs = 10_000): Promise<void> {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), graceMs);
    await server.exited;
    clearTimeout(timer);
  }

  /** Puts task-02 in the queue. */
  async queueSecondTask(): Promise<void> {
    await writeFile(join(this.paths.tasks, 'task-02.md'), secondTask(this.effectsLog));
  }

  /**
   * Does the first step of archiving a done task as the server does (src/tasks/queue.ts,
   * `archiveTask`: the archived file with its Result section) and stops there, the queued file
   * back in place: what a server killed inside its archive leaves behind, a window of
   * milliseconds that no kill from outside can aim at.
   *
   * @returns the archived file's name in done/
   */
  async halfArchive(taskId: string, attempt: string): Promise<string> {
    const queued = join(this.paths.tasks, `${taskId}.md`);
    const text = await readFile(queued, 'utf8');
    const record = (await this.state())?.attempts[attempt];
    const { path } = await archiveTask(this.paths, taskId, 'done', {
      attempts: 1,
      durationMs: 1000,
      branch: record?.branch ?? '',
      ...(record?.commit ? { commit: record.commit } : {}),
      ...(record?.costUsd !== undefined ? { costUsd: record.costUsd } : {}),
    });
    await writeFile(queued, text);
    return basename(path);
  }

  /** `.orchestra/state.json` as last written (it is only ever replaced by rename), if there is one. */
  async state(): Promise<State | undefined> {
    try {
      return JSON.parse(await readFile(this.paths.state, 'utf8')) as State;
    } catch {
      return undefined;
    }
  }

  /** Sends one command to the world's running server over its socket and returns the answer. */
  async request<T>(command: Command): Promise<T> {
    const connection = await connectSession({
      session: this.session,
      env: this.env,
      hello: { version: VERSION, mode: 'command', cols: 80, rows: 24, term: 'xterm', readOnly: false },
    });
    try {
      return await connection.request<T>(command);
    } finally {
      connection.close();
    }
  }

  /** The status bar's fields (`tasks`, `cost`...) as an attached client is sent them now. */
  async statusFields(): Promise<Record<string, string>> {
    let resolve: (status: Record<string, string>) => void = () => {};
    const got = new Promise<Record<string, string>>((r) => {
      resolve = r;
    });
    const connection = await connectSession({
      session: this.session,
      env: this.env,
      hello: { version: VERSION, mode: 'attach', cols: 80, rows: 24, term: 'xterm', readOnly: true },
      handlers: { onLayout: (layout) => resolve(layout.status) },
    });
    try {
      return await got;
    } finally {
      connection.close();
    }
  }

  /** The lines of the effects log. */
  async effects(): Promise<string[]> {
    return (await readFile(this.effectsLog, 'utf8')).split('\n').filter((line) => line !== '');
  }

  /** How many lines of the effects log are exactly `line`. */
  async count(line: string): Promise<number> {
    return (await this.effects()).filter((l) => l === line).length;
  }

  /** The run directory of `attempt`. */
  runDir(attempt: string): string {
    return join(this.paths.runs, attempt);
  }

  /** The attempt's events.jsonl, parsed (unparsable lines skipped); [] before it exists. */
  async events(attempt: string): Promise<RunEvent[]> {
    const text = await readFile(join(this.runDir(attempt), 'events.jsonl'), 'utf8').catch(() => '');
    const events: RunEvent[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as RunEvent);
      } catch {
        // A torn line from a process killed mid-write; the test counts whole events only.
      }
    }
    return events;
  }

  /** The attempt's transcript.log ('' before the agent started). */
  async transcript(attempt: string): Promise<string> {
    return readFile(join(this.runDir(attempt), 'transcript.log'), 'utf8').catch(() => '');
  }

  /** The `*.md` files of a queue folder (tasks, done, failed). */
  async queueFiles(folder: 'tasks' | 'done' | 'failed'): Promise<string[]> {
    return (await readdir(this.paths[folder]).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.md'))
      .sort();
  }

  /**
   * Agent processes of this repository that run now: the local pids the store recorded for its
   * attempts, checked against their command lines (a pid may have been reused since).
   */
  async runningAgents(): Promise<number[]> {
    const state = await this.state();
    const pids: number[] = [];
    for (const attempt of Object.values(state?.attempts ?? {})) {
      const pid = Number(attempt.workerId);
      if (attempt.sandbox !== 'local' || !Number.isInteger(pid) || pid <= 0) continue;
      if (processRunning(pid) && this.isOurAgent(pid)) pids.push(pid);
    }
    return pids;
  }

  private isOurAgent(pid: number): boolean {
    const cmd = commandLine(pid);
    return cmd.includes(' agent ') && cmd.includes(this.paths.runs);
  }

  /** A line of each server's log, for a failure message. */
  async serverLogs(): Promise<string> {
    const parts: string[] = [];
    for (let i = 1; i <= this.servers.length; i++) {
      parts.push(
        `--- server-${i}.log\n${await readFile(join(this.base, `server-${i}.log`), 'utf8').catch(() => '')}`,
      );
    }
    parts.push(
      `--- orchestra.jsonl\n${(await readFile(this.paths.log, 'utf8').catch(() => '')).slice(-6000)}`,
    );
    return parts.join('\n');
  }

  /** Ends every server and agent still running, closes the model server and removes the temp dir. */
  async dispose(): Promise<void> {
    for (const server of this.servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
        await server.exited;
      }
    }
    for (const pid of await this.runningAgents().catch(() => [] as number[])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone in the meantime.
      }
    }
    // Setup and check commands the killed servers left running (a slow check can outlive its
    // server by seconds): whatever still works inside this world's directory.
    for (const pid of await processesIn(this.base)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone in the meantime.
      }
    }
    await this.model.close();
    await rm(this.base, { recursive: true, force: true }).catch(() => {
      // A process still writing into it (an orphaned setup command) can make one pass fail; retry once.
    });
    await rm(this.base, { recursive: true, force: true }).catch(() => {});
  }
}
