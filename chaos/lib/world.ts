import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type OrchestraPaths, orchestraPaths } from '../../src/common/paths.js';
import {
  type ScriptedModelServer,
  startScriptedModelServer,
} from '../../src/model-server/scripted-server.js';
import type { State } from '../../src/store/schema.js';
import { type ModelProxy, startModelProxy } from './model-proxy.js';
import type { RunPlan } from './plan.js';
import { agentProcesses, killPids, MARKER_VAR, markedProcesses } from './procs.js';
import {
  EFFECTS_FILE_IN_RUN_DIR,
  type EffectsTarget,
  type FaultTurnIndex,
  REPO_FILES,
  scenarioFile,
  taskText,
} from './scenario.js';

/**
 * One run's world: a temp directory with a tmpfs for the repository (so the disk can be filled),
 * the repository and its queue, the scripted model server (in this process, for its request log)
 * behind the fault proxy, and the `orchestra server` processes the run starts, kills and starts
 * again. Everything carries the run's marker; `dispose` ends it all by pid and removes the dir.
 */

export const ORCHESTRA_BIN = fileURLToPath(new URL('../../bin/orchestra', import.meta.url));

const TMPFS_SIZE = '64m';

export interface WorldOptions {
  docker: boolean;
  /** Put the repository on a tmpfs (needs root); without it disk-full is skipped. */
  tmpfs: boolean;
  /** maxParallel in orchestra.json (the brief's setting is 2). */
  maxParallel: number;
  log: (line: string) => void;
}

export interface ServerHandle {
  n: number;
  child: ChildProcess;
  pid: number;
  /** Set before the harness signals it: its exit is not a crash. */
  expected: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  exited: Promise<void>;
  log: string;
}

export interface Crash {
  server: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
  /** The server's whole output (it is small; the error is near its start). */
  log: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export class World {
  readonly servers: ServerHandle[] = [];
  readonly crashes: Crash[] = [];
  /** Commits the harness made on the base branch (the initial one and injected ones). */
  readonly originals = new Set<string>();
  readonly startedAt = Date.now();
  private filler: string | undefined;
  private restarting = false;
  private disposed = false;
  /** Set while the harness keeps the server down on purpose (between a kill and the restart). */
  down = false;

  private constructor(
    readonly plan: RunPlan,
    readonly options: WorldOptions,
    readonly base: string,
    readonly mount: string | undefined,
    readonly root: string,
    readonly paths: OrchestraPaths,
    readonly session: string,
    readonly runId: string,
    readonly env: NodeJS.ProcessEnv,
    readonly effects: EffectsTarget,
    readonly model: ScriptedModelServer,
    readonly proxy: ModelProxy,
    readonly faultTurns: FaultTurnIndex,
  ) {}

  static async create(plan: RunPlan, options: WorldOptions): Promise<World> {
    const base = await mkdtemp(join(tmpdir(), `chaos-${plan.seed}-`));
    let mount: string | undefined;
    let model: ScriptedModelServer | undefined;
    let proxy: ModelProxy | undefined;
    try {
      const fs = join(base, 'fs');
      await mkdir(fs);
      if (options.tmpfs) {
        try {
          execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', fs], { stdio: 'pipe' });
          mount = fs;
        } catch (error) {
          options.log(`tmpfs mount failed (${(error as Error).message.split('\n')[0]}); no disk-full faults`);
        }
      }
      const root = join(fs, 'repo');
      await mkdir(root);
      for (const [path, text] of Object.entries(REPO_FILES)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), text);
      }
      const paths = orchestraPaths(root);
      for (const dir of [paths.tasks, paths.done, paths.failed, paths.runs, paths.worktrees, paths.logs]) {
        await mkdir(dir, { recursive: true });
      }
      await writeFile(paths.gitignore, '*\n!.gitignore\n!orchestra.json\n');
      await writeFile(
        paths.config,
        `${JSON.stringify(
          {
            sandbox: options.docker ? 'docker' : 'local',
            maxParallel: options.maxParallel,
            maxAttempts: 3,
            check: ['node test.js'],
            autoMerge: true,
          },
          null,
          2,
        )}\n`,
      );
      const runId = `${plan.seed}-${process.pid}-${Date.now().toString(36)}`;
      const session = `chaos-${plan.seed}`;
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (/^(GIT_|ORCHESTRA_|TMUX|NODE_TEST_CONTEXT$|NODE_OPTIONS$|ANTHROPIC_)/i.test(k)) continue;
        env[k] = v;
      }
      for (const dir of ['home', 'config', 'sock']) await mkdir(join(base, dir), { mode: 0o700 });
      const effects: EffectsTarget = options.docker
        ? { kind: 'run-dir' }
        : { kind: 'file', path: join(base, 'effects.log') };
      if (effects.kind === 'file') await writeFile(effects.path, '');
      const { file, index } = scenarioFile(plan, effects);
      model = await startScriptedModelServer({ scenario: file });
      proxy = await startModelProxy(
        model.url,
        plan.faults
          .filter((f) => f.kind === 'model-malformed')
          .map((f) => ({ faultId: f.id, attempt: f.attempt!, request: f.request! })),
      );
      Object.assign(env, {
        HOME: join(base, 'home'),
        XDG_CONFIG_HOME: join(base, 'config'),
        ORCHESTRA_TMPDIR: join(base, 'sock'),
        ANTHROPIC_BASE_URL: proxy.url,
        ANTHROPIC_API_KEY: 'chaos-scripted-model',
        ORCHESTRA_RETRY_BASE_MS: '100',
        NO_COLOR: '1',
        [MARKER_VAR]: runId,
      });
      const git = (...args: string[]) =>
        execFileSync('git', args, { cwd: root, env, stdio: 'pipe' }).toString().trim();
      git('init', '--quiet', '-b', 'main');
      git('config', 'user.name', 'Chaos Harness');
      git('config', 'user.email', 'chaos@example.invalid');
      git('add', '-A');
      git('commit', '--quiet', '-m', 'initial');
      const world = new World(
        plan,
        options,
        base,
        mount,
        root,
        paths,
        session,
        runId,
        env,
        effects,
        model,
        proxy,
        index,
      );
      world.originals.add(git('rev-parse', 'HEAD'));
      for (const task of plan.tasks) await writeFile(join(paths.tasks, `${task.id}.md`), taskText(task));
      return world;
    } catch (error) {
      await proxy?.close();
      await model?.close();
      if (mount) spawnSyncQuiet('umount', ['-l', mount]);
      await rm(base, { recursive: true, force: true });
      throw error;
    }
  }

  get elapsed(): number {
    return Date.now() - this.startedAt;
  }

  get current(): ServerHandle | undefined {
    const last = this.servers.at(-1);
    return last && last.exit === undefined ? last : undefined;
  }

  get socketPath(): string {
    return join(this.base, 'sock', `orchestra-${process.getuid?.() ?? 0}`, this.session);
  }

  // ---- the server ----------------------------------------------------------------------------

  /** Starts `orchestra server` in its own process group, output to server-<n>.log. */
  startServer(): ServerHandle {
    const n = this.servers.length + 1;
    const log = join(this.base, `server-${n}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(
      process.execPath,
      [ORCHESTRA_BIN, 'server', '-s', this.session, '--repo', this.root],
      {
        cwd: this.root,
        env: this.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      },
    );
    closeSync(fd);
    const handle: ServerHandle = {
      n,
      child,
      pid: child.pid ?? 0,
      expected: false,
      exit: undefined,
      exited: Promise.resolve(),
      log,
    };
    handle.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        handle.exit = { code, signal };
        if (!handle.expected && !this.disposed) {
          this.crashes.push({
            server: n,
            pid: handle.pid,
            code,
            signal,
            atMs: this.elapsed,
            log: readText(log).slice(0, 20_000),
          });
          this.options.log(`  server ${n} exited on its own (code ${code}, signal ${signal})`);
          void this.restartAfterCrash();
        }
        resolve();
      });
    });
    this.servers.push(handle);
    return handle;
  }

  /** A crashed server is started again (as a user would), so the run goes on. */
  private async restartAfterCrash(): Promise<void> {
    if (this.restarting || this.disposed || this.servers.length > 12) return;
    this.restarting = true;
    await sleep(1000);
    this.restarting = false;
    if (!this.disposed && !this.current && !this.down) this.startServer();
  }

  /** Resolves once the server's socket accepts a connection; false after `timeoutMs`. */
  async waitReady(timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.current && (await canConnect(this.socketPath))) return true;
      await sleep(100);
    }
    return false;
  }

  /** Signals the running server (an expected exit) and waits for it to end; SIGKILL after 20 s. */
  async signalServer(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ pid: number; hung: boolean } | undefined> {
    const server = this.current;
    if (!server) return undefined;
    server.expected = true;
    try {
      process.kill(server.pid, signal);
    } catch {
      return undefined;
    }
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {}
    }, 20_000);
    await server.exited;
    clearTimeout(timer);
    return { pid: server.pid, hung };
  }

  /** Runs the CLI against this world's session. */
  cli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [ORCHESTRA_BIN, ...args],
        { cwd: this.root, env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' },
        (error, stdout, stderr) => {
          const timedOut = Boolean(error && (error as { killed?: boolean }).killed);
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          resolve({ code, stdout, stderr, timedOut });
        },
      );
    });
  }

  // ---- reading what happened -----------------------------------------------------------------

  state(): State | undefined {
    try {
      return JSON.parse(readFileSync(this.paths.state, 'utf8')) as State;
    } catch {
      return undefined;
    }
  }

  queueFiles(folder: 'tasks' | 'done' | 'failed'): string[] {
    try {
      return readdirSync(this.paths[folder])
        .filter((f) => f.endsWith('.md'))
        .sort();
    } catch {
      return [];
    }
  }

  /** Something that changes whenever the session makes progress (store, events, transcripts, model). */
  progressSignature(): string {
    const parts: string[] = [];
    const stat = (p: string) => {
      try {
        const s = statSync(p);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    };
    parts.push(stat(this.paths.state));
    try {
      for (const a of readdirSync(this.paths.runs).sort()) {
        parts.push(
          a,
          stat(join(this.paths.runs, a, 'events.jsonl')),
          stat(join(this.paths.runs, a, 'transcript.log')),
        );
      }
    } catch {}
    parts.push(String(this.model.requests.length), String(this.proxy.records.length));
    parts.push(this.queueFiles('done').join(','), this.queueFiles('failed').join(','));
    return parts.join('|');
  }

  /** Every effects line the bash tool calls wrote. */
  effectLines(): string[] {
    const texts: string[] = [];
    if (this.effects.kind === 'file') texts.push(readText(this.effects.path));
    else {
      try {
        for (const a of readdirSync(this.paths.runs))
          texts.push(readText(join(this.paths.runs, a, EFFECTS_FILE_IN_RUN_DIR)));
      } catch {}
    }
    return texts.flatMap((t) => t.split('\n')).filter((l) => l.trim() !== '');
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.root, env: this.env, stdio: 'pipe', maxBuffer: 64 << 20 })
      .toString()
      .trim();
  }

  agents() {
    return agentProcesses(this.runId, this.paths.runs);
  }

  marked() {
    return markedProcesses(this.runId);
  }

  // ---- faults the world carries out ------------------------------------------------------------

  /** Fills the tmpfs to the last byte. */
  async fillDisk(): Promise<boolean> {
    if (!this.mount || this.filler) return false;
    const filler = join(this.mount, 'chaos-filler.bin');
    this.filler = filler;
    const free = (() => {
      const s = statfsSync(this.mount);
      return s.bavail * s.bsize;
    })();
    try {
      if (free > 4096) execFileSync('fallocate', ['-l', String(free - 4096), filler], { stdio: 'pipe' });
    } catch {
      // Something else took space meanwhile: the appends below fill what is left.
    }
    const handle = await open(filler, 'a');
    try {
      const chunk = Buffer.alloc(4096);
      for (let i = 0; i < 100_000; i++) await handle.write(chunk);
    } catch {
      // ENOSPC: full.
    } finally {
      await handle.close();
    }
    return true;
  }

  async freeDisk(): Promise<void> {
    if (!this.filler) return;
    await unlink(this.filler).catch(() => {});
    this.filler = undefined;
  }

  /**
   * A person's commit on the base branch in the main checkout: a new file, added and committed.
   * Retried while git is busy (index.lock) or the disk is full.
   */
  async baseCommit(k: number): Promise<string | undefined> {
    for (let i = 0; i < 20 && !this.disposed; i++) {
      try {
        await mkdir(join(this.root, 'docs'), { recursive: true });
        await writeFile(
          join(this.root, 'docs', `base-${k}.md`),
          `A commit made by hand during the run (${k}).\n`,
        );
        this.git('add', '--', `docs/base-${k}.md`);
        this.git('commit', '--quiet', '-m', `chaos: a person's commit ${k}`, '--', `docs/base-${k}.md`);
        const sha = this.git('rev-parse', 'HEAD');
        this.originals.add(sha);
        return sha;
      } catch {
        await sleep(500);
      }
    }
    return undefined;
  }

  // ---- the end ---------------------------------------------------------------------------------

  async dispose(keep: boolean): Promise<void> {
    this.disposed = true;
    await this.freeDisk();
    for (const server of this.servers) {
      if (server.exit === undefined) {
        server.expected = true;
        try {
          process.kill(server.pid, 'SIGKILL');
        } catch {}
        await Promise.race([server.exited, sleep(5000)]);
      }
    }
    for (let i = 0; i < 3; i++) {
      const left = this.marked();
      if (left.length === 0) break;
      killPids(left.map((p) => p.pid));
      await sleep(200);
    }
    if (this.options.docker) {
      const ids = dockerContainers(this.session);
      if (ids.length) spawnSyncQuiet('docker', ['rm', '-f', ...ids]);
    }
    await this.proxy.close();
    await this.model.close();
    if (keep && this.mount) {
      // Keep what happened for a look: copy the repository off the tmpfs first.
      spawnSyncQuiet('cp', ['-a', this.root, join(this.base, 'repo-copy')]);
    }
    if (this.mount) {
      if (!spawnSyncQuiet('umount', [this.mount])) spawnSyncQuiet('umount', ['-l', this.mount]);
    }
    if (!keep)
      await rm(this.base, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }).catch(() => {});
  }

  async note(line: string): Promise<void> {
    await appendFile(join(this.base, 'chaos.log'), `${new Date().toISOString()} ${line}\n`).catch(() => {});
  }

  readLogs(): string {
    const parts = this.servers.map((s) => `--- server-${s.n}.log\n${tail(readText(s.log), 3000)}`);
    parts.push(`--- orchestra.jsonl\n${tail(readText(this.paths.log), 4000)}`);
    return parts.join('\n');
  }

  async readRunFile(attempt: string, name: string): Promise<string> {
    return readFile(join(this.paths.runs, attempt, name), 'utf8').catch(() => '');
  }

  exists(path: string): boolean {
    return existsSync(path);
  }
}

/** Container ids (any state) labelled with the session. */
export function dockerContainers(session: string): string[] {
  try {
    return execFileSync('docker', ['ps', '-a', '-q', '--filter', `label=orchestra.session=${session}`], {
      stdio: 'pipe',
      timeout: 15_000,
    })
      .toString()
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

function spawnSyncQuiet(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'pipe', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function tail(text: string, chars: number): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    setTimeout(() => done(false), 1000);
  });
}
