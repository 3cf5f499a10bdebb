import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { errorMessage, OrchestraError } from '../common/errors.js';
import type { WorkerConfig } from '../config/schema.js';
import type { Disposable, PaneExit, PaneProcess } from '../panes/pane-process.js';
import {
  LABEL_ATTEMPT,
  LABEL_FORWARDS,
  LABEL_REPO,
  LABEL_SESSION,
  LABEL_TASK,
  workerContainerName,
} from './container-labels.js';
import { CONTAINER_HOME, CONTAINER_RUN_DIR, containerSpec, workerUser } from './container-spec.js';
import { dockerClient } from './docker-engine.js';
import { execInContainer } from './docker-exec.js';
import {
  dockerBridgeNetwork,
  type ForwardedEndpoint,
  forwardLoopbackEnv,
  LoopbackForwarderPool,
  SocketForwarders,
} from './loopback-forwarder.js';
import {
  MODEL_FORWARD_DIR,
  type ModelOnlyPlan,
  modelForwardsLabel,
  parseModelForwards,
  planModelOnly,
  relayCommand,
} from './model-network.js';
import { isSecretEnv } from './worker-shell.js';

export { CONTAINER_HOME, CONTAINER_RUN_DIR } from './container-spec.js';
/**
 * Detach keys for attach. Docker's default, ctrl-p ctrl-q, would swallow readline's and Emacs'
 * ctrl-p; this four-key sequence of rarely typed control characters (0x1e 0x1f twice) is one no
 * agent or person types. The engine holds back a partial match until the next key, so the first
 * key must be rare on its own too.
 */
export const DETACH_KEYS = 'ctrl-^,ctrl-_,ctrl-^,ctrl-_';
/** How long output may still arrive after the engine reports the exit (VS Code's pty host: 250 ms). */
const EXIT_FLUSH_MS = 250;
/** How long `stop()` waits after the signal before removing the container by force. */
export const STOP_GRACE_MS = 3000;
/** API version from which the engine applies `HostConfig.ConsoleSize` on Linux (Docker 23). */
const CONSOLE_SIZE_API = [1, 42] as const;
const MIB = 1024 * 1024;

/**
 * Engines before API 1.42 start a TTY at 0x0 and take the size only from a resize after start,
 * which races a program that reads its size at once. This wrapper waits (up to ~1 s) for the
 * resize, then execs the command, so `stty size` or a TUI sees the right size from its first line.
 */
const AWAIT_SIZE_SCRIPT =
  'n=0; while [ "$(stty size 2>/dev/null)" = "0 0" ] && [ $n -lt 100 ]; do sleep 0.01; n=$((n+1)); done; exec "$@"';

/**
 * Where the secrets wrapper takes the agent's secrets in: a FIFO in the container's home, a tmpfs
 * of mode 0700 that only the container's user can enter (container-spec.ts).
 */
export const SECRETS_FIFO = `${CONTAINER_HOME}/.orchestra-secrets`;
/** How long the wrapper waits for its secrets before it starts the agent without them, s. */
const SECRETS_WAIT_S = 60;

/**
 * The container's command when the agent has secrets: makes {@link SECRETS_FIFO}, reads
 * NUL-terminated `NAME=value` records from it until an empty record, exports each, removes the
 * FIFO, then execs the agent's command — so the keys are in the agent's environment and nowhere
 * the engine keeps or shows (Env, Args, labels, logs). {@link DockerWorker} writes the records
 * through the stdin of a `docker exec` right after the start; nothing of the task runs before
 * they arrive. Bash for `read -d ''`; `$0` is a label for `ps`.
 */
const SECRETS_WRAPPER = `f=${SECRETS_FIFO}; rm -f "$f"
if ! mkfifo -m 600 "$f" 2>/dev/null; then echo "orchestra: cannot make $f; the agent starts without its API keys" >&2; exec "$@"; fi
exec 3<>"$f"; got=0
while IFS= read -r -d '' -t ${SECRETS_WAIT_S} -u 3 kv; do [ -z "$kv" ] && { got=1; break; }; export "$kv"; done
exec 3<&-; rm -f "$f"
[ $got = 1 ] || echo "orchestra: the agent's API keys did not arrive in ${SECRETS_WAIT_S} s; it starts without them" >&2
exec "$@"`;

/**
 * The `docker exec` that hands the secrets over: waits (up to ~10 s) for the wrapper's FIFO, then
 * copies its standard input into it.
 */
const SECRETS_WRITER =
  'n=0; while [ ! -p "$1" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; [ -p "$1" ] || exit 3; exec cat >"$1"';
/**
 * The same for a container found again after a server restart: only when its wrapper still waits
 * (the server died between start and hand-over); a FIFO that is gone means the agent has its keys.
 */
const SECRETS_REWRITER = '[ -p "$1" ] || exit 0; exec cat >"$1"';

/** The wrapper's `$0` (what `ps` shows), by which a reattach knows a container started behind it. */
const SECRETS_WRAPPER_LABEL = 'orchestra-secrets';

/** `command` behind {@link SECRETS_WRAPPER}: the container's command when the agent has secrets. */
export function withSecretsWrapper(command: readonly string[]): string[] {
  return ['/bin/bash', '-c', SECRETS_WRAPPER, SECRETS_WRAPPER_LABEL, ...command];
}

/** An environment variable name the wrapper can export. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `env` split into what may be the container's Env and the secrets ({@link isSecretEnv}) that
 * only the secrets wrapper may carry; a secret whose name or value the wrapper cannot pass (not
 * a shell name, a NUL in the value) is dropped rather than put in Env.
 */
export function splitSecrets(env: Readonly<Record<string, string>>): {
  plain: Record<string, string>;
  secrets: Record<string, string>;
} {
  const plain: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!isSecretEnv(name)) plain[name] = value;
    else if (ENV_NAME.test(name) && !value.includes('\0')) secrets[name] = value;
  }
  return { plain, secrets };
}

/** The records {@link SECRETS_WRAPPER} reads: `NAME=value\0` each, then an empty record. */
export function secretRecords(secrets: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(
    `${Object.entries(secrets)
      .map(([name, value]) => `${name}=${value}\0`)
      .join('')}\0`,
  );
}

/** How to start one attempt's worker container. */
export interface DockerWorkerOptions {
  /** Session name (socket name, repository's directory name by default). */
  session: string;
  /** The host repository's top level (absolute), for the {@link LABEL_REPO} label. */
  repo?: string;
  taskId: string;
  attemptId: string;
  /** The agent's command: the container's main process, under the image's tini. */
  command: string[];
  /**
   * Environment for the agent, secrets included. Secrets ({@link isSecretEnv}: API keys, tokens)
   * never go into the container's Env, which `docker inspect` shows: they reach the agent's
   * process through {@link SECRETS_WRAPPER} (see {@link splitSecrets}).
   */
  env: Record<string, string>;
  /** The attempt's own repository (absolute), mounted at the same path and used as working directory. */
  worktree: string;
  /** The host repository's object directory (absolute), the attempt repository's alternate: mounted read-only. */
  objectsDir: string;
  /** The attempt's run directory (absolute), mounted at /run/orchestra. */
  runDir: string;
  config: WorkerConfig;
  cols: number;
  rows: number;
  /** Mount the worktree read-only (read-only profiles). */
  readOnlyWorktree?: boolean;
  /**
   * Forwarders for env URLs on the host's loopback; the server shares one pool among its workers.
   * Without it the worker makes its own and closes it when it stops or detaches. Network `bridge`
   * only: a `model-only` worker always makes its own sockets (model-network.ts).
   */
  forwarders?: LoopbackForwarderPool;
  /** `uid:gid` to run as; default {@link workerUser} of `config.user` and the server's user. */
  user?: string;
  /** The host's extra CA file (`hostCaFile` of the server's environment), mounted read-only. */
  caFile?: string;
  docker?: Docker;
}

/** CPU and memory use of a worker, for the pane title. */
export interface WorkerStats {
  /** Percent of one CPU (200 = two CPUs busy), as `docker stats` shows it. */
  cpuPercent: number;
  /** Memory in use in MiB, page cache excluded (as `docker stats`). */
  memoryMb: number;
  /** Processes in the container. */
  pids?: number;
}

/** The subset of the engine's stats answer read here (cgroup v1 and v2 shapes). */
interface EngineStats {
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
}

/** `docker stats`' arithmetic (cli/command/container/stats_helpers.go). */
export function computeStats(s: EngineStats): WorkerStats {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const systemDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  const cpuPercent = cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
  const stats = s.memory_stats?.stats ?? {};
  // cgroup v1 reports page cache as total_inactive_file/cache, v2 as inactive_file.
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? stats.cache ?? 0;
  const usage = Math.max(0, (s.memory_stats?.usage ?? 0) - cache);
  const result: WorkerStats = {
    cpuPercent: Math.round(cpuPercent * 10) / 10,
    memoryMb: Math.round((usage / MIB) * 10) / 10,
  };
  if (s.pids_stats?.current !== undefined) result.pids = s.pids_stats.current;
  return result;
}

const apiSupportsConsoleSize = new WeakMap<Docker, Promise<boolean>>();

function consoleSizeSupported(docker: Docker): Promise<boolean> {
  let known = apiSupportsConsoleSize.get(docker);
  if (!known) {
    known = docker.version().then(
      (v) => {
        const [major = 0, minor = 0] = String((v as { ApiVersion?: string }).ApiVersion ?? '0.0')
          .split('.')
          .map(Number);
        return major > CONSOLE_SIZE_API[0] || (major === CONSOLE_SIZE_API[0] && minor >= CONSOLE_SIZE_API[1]);
      },
      () => false,
    );
    apiSupportsConsoleSize.set(docker, known);
  }
  return known;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

/** The engine's message without dockerode's "(HTTP code 404) no such container - " prefix. */
function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  return json?.message ?? errorMessage(error);
}

function requireAbsolute(what: string, p: string): void {
  if (!path.isAbsolute(p)) throw new OrchestraError('INTERNAL', `${what} must be an absolute path, got ${p}`);
}

/** The server's uid and gid (1000 where the platform has none). */
export function hostIds(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 1000, gid: process.getgid?.() ?? 1000 };
}

/**
 * Writes `secrets` into the secrets wrapper's FIFO of the just started container `id`, through the
 * stdin of a `docker exec` (which the engine neither keeps nor shows).
 *
 * @throws Error when the exec fails or the FIFO never appears
 */
async function handOverSecrets(
  docker: Docker,
  id: string,
  secrets: Record<string, string>,
  writer = SECRETS_WRITER,
): Promise<void> {
  const result = await execInContainer(id, ['/bin/sh', '-c', writer, 'orchestra-secrets', SECRETS_FIFO], {
    workingDir: '/',
    stdin: secretRecords(secrets),
    timeoutMs: 30_000,
    docker,
  });
  if (result.exitCode !== 0) {
    throw new Error(
      `the agent's API keys could not be handed to the container (${result.timedOut ? 'timed out' : `exit ${result.exitCode}`})`,
    );
  }
}

/** How long a SIGKILLed container's OOM flag is waited for after its exit, ms (see describeExit). */
const OOM_EVENT_WAIT_MS = 2000;
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * A pane process backed by a Docker container: the attempt's agent runs as the container's main
 * process on a TTY, and this object is the server's handle on it (DESIGN.md, "Processes" 3).
 * Because the container outlives the server, `detach()` lets go without stopping it and
 * {@link DockerWorker.reattach} takes it back.
 */
export class DockerWorker implements PaneProcess {
  private stream: Duplex | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private readonly dataListeners = new Set<(data: string) => void>();
  private readonly exitListeners = new Set<(exit: PaneExit) => void>();
  /** Output that arrived before anyone listened (the first screen of a fast program). */
  private pending: string[] = [];
  private exited: PaneExit | undefined;
  private exitKnown: PaneExit | undefined;
  private streamEnded = false;
  private detached = false;
  private stopping: Promise<void> | undefined;
  private resizeChain: Promise<void> = Promise.resolve();
  private size: { cols: number; rows: number };
  private hostPid: number | undefined;
  private readonly waitAbort = new AbortController();
  private resolveExit!: (exit: PaneExit) => void;
  /** Resolves with the exit once it has been reported to listeners. */
  readonly exit: Promise<PaneExit> = new Promise((resolve) => {
    this.resolveExit = resolve;
  });

  private constructor(
    private readonly container: Docker.Container,
    /** Container id (64 hex digits). */
    readonly id: string,
    /** Container name, `orchestra-<session>-<repo>-<attempt>` (workerContainerName). */
    readonly name: string,
    size: { cols: number; rows: number },
    /**
     * Forwarders this worker made for itself, closed with it: a pool of its own (bridge, no shared
     * pool given) or its sockets (model-only).
     */
    private readonly ownPool: Pick<LoopbackForwarderPool, 'closeAll'> | undefined,
  ) {
    this.size = size;
  }

  /**
   * Creates, attaches to and starts the container of one attempt. Output is held until the first
   * `onData` listener, so nothing printed at start is lost.
   *
   * @throws OrchestraError SPAWN_FAILED when the image is missing, the name is taken, a mount
   *   source does not exist, the engine refuses the container or (network `model-only`) the
   *   model endpoint's sockets cannot be made in the run directory; the container is removed
   *   again when a step after its creation fails
   */
  static async create(options: DockerWorkerOptions): Promise<DockerWorker> {
    if (options.command.length === 0) throw new OrchestraError('INTERNAL', 'no command given for the worker');
    requireAbsolute('worktree', options.worktree);
    requireAbsolute('objectsDir', options.objectsDir);
    requireAbsolute('runDir', options.runDir);
    const docker = options.docker ?? dockerClient();
    const config = options.config;
    const name = workerContainerName(options.session, options.attemptId, options.repo);
    const ownPool =
      options.forwarders === undefined && config.network === 'bridge'
        ? new LoopbackForwarderPool(() => dockerBridgeNetwork(docker))
        : undefined;
    const pool = options.forwarders ?? ownPool;

    let env = options.env;
    let forwarded: ForwardedEndpoint[] = [];
    let modelOnly: ModelOnlyPlan | undefined;
    let own: Pick<LoopbackForwarderPool, 'closeAll'> | undefined = ownPool;
    // With network "none" nothing outside the container is reachable, forwarded or not.
    if (pool && config.network === 'bridge') {
      try {
        ({ env, forwarded } = await forwardLoopbackEnv(env, pool));
      } catch (error) {
        await ownPool?.closeAll();
        throw error;
      }
    } else if (config.network === 'model-only') {
      // No network at all; the model endpoints come in through sockets in the run directory.
      modelOnly = planModelOnly(env, randomBytes(4).toString('hex'));
      env = modelOnly.env;
      if (modelOnly.forwards.length > 0) {
        own = await SocketForwarders.open(path.join(options.runDir, MODEL_FORWARD_DIR), modelOnly.forwards);
      }
    }
    const user = options.user ?? workerUser(config.user, hostIds());
    const consoleSize = await consoleSizeSupported(docker);
    const labels: Record<string, string> = {
      [LABEL_SESSION]: options.session,
      ...(options.repo ? { [LABEL_REPO]: options.repo } : {}),
      [LABEL_TASK]: options.taskId,
      [LABEL_ATTEMPT]: options.attemptId,
    };
    if (forwarded.length > 0) {
      labels[LABEL_FORWARDS] = JSON.stringify(
        forwarded.map(({ name: n, target, port }) => ({ name: n, target, port })),
      );
    }
    const relayed = modelOnly?.forwards ?? [];
    if (relayed.length > 0) labels[LABEL_FORWARDS] = modelForwardsLabel(relayed);
    const sized = consoleSize
      ? options.command
      : ['/bin/sh', '-c', AWAIT_SIZE_SCRIPT, 'orchestra-await-size', ...options.command];
    const { plain, secrets } = splitSecrets(env);
    env = plain;
    const hasSecrets = Object.keys(secrets).length > 0;
    const keyed = hasSecrets ? withSecretsWrapper(sized) : sized;
    const cmd = relayed.length > 0 ? relayCommand(relayed, keyed) : keyed;

    let container: Docker.Container;
    try {
      container = await docker.createContainer(
        containerSpec({
          name,
          command: cmd,
          env,
          labels,
          worktree: options.worktree,
          objectsDir: options.objectsDir,
          runDir: options.runDir,
          config,
          user,
          network: modelOnly ? 'none' : config.network,
          ...(modelOnly && modelOnly.extraHosts.length > 0 ? { extraHosts: modelOnly.extraHosts } : {}),
          tty: true,
          ...(options.readOnlyWorktree ? { readOnlyWorktree: true } : {}),
          ...(options.caFile ? { caFile: options.caFile } : {}),
          ...(consoleSize ? { consoleSize: [options.rows, options.cols] as [number, number] } : {}),
        }),
      );
    } catch (error) {
      await own?.closeAll();
      throw createError(error, name, config.image);
    }
    const worker = new DockerWorker(
      container,
      container.id,
      name,
      { cols: options.cols, rows: options.rows },
      own,
    );
    try {
      await worker.attachStream();
      await container.start();
      if (hasSecrets) await handOverSecrets(docker, container.id, secrets);
      worker.resize(options.cols, options.rows);
      await worker.inspectPid();
      worker.watchExit();
    } catch (error) {
      worker.detach();
      await container.remove({ force: true }).catch(() => undefined);
      throw new OrchestraError(
        'SPAWN_FAILED',
        `cannot start worker container ${name}: ${engineMessage(error)}`,
        {
          hint: 'check `orchestra doctor` and the engine log (`journalctl -u docker`)',
          cause: error,
        },
      );
    }
    return worker;
  }

  /**
   * Takes back a worker container after a server restart: attaches to it and makes the program
   * repaint by changing the terminal size and back (a same-size resize sends no SIGWINCH). A
   * container that has already exited reports its exit at once. Loopback forwards named in its
   * labels are listened on again, on the same ports, through `forwarders`; a model-only worker's
   * sockets are made again in its run directory (its relay still runs in the container).
   *
   * @throws OrchestraError SPAWN_FAILED when the container does not exist
   */
  static async reattach(
    containerId: string,
    options: {
      cols: number;
      rows: number;
      docker?: Docker;
      forwarders?: LoopbackForwarderPool;
      /**
       * The agent's environment ({@link splitSecrets} picks its secrets): they are handed over
       * again if the container's wrapper still waits for them (a server that died right after the
       * start).
       */
      env?: Record<string, string>;
    },
  ): Promise<DockerWorker> {
    const docker = options.docker ?? dockerClient();
    const container = docker.getContainer(containerId);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (error) {
      throw new OrchestraError(
        'SPAWN_FAILED',
        `cannot find worker container ${containerId}: ${engineMessage(error)}`,
        {
          hint: "list the session's containers with `docker ps -a --filter label=orchestra.session`",
          cause: error,
        },
      );
    }
    const forwards = parseForwards(info.Config.Labels?.[LABEL_FORWARDS]);
    const ownPool =
      forwards.length > 0 && options.forwarders === undefined
        ? new LoopbackForwarderPool(() => dockerBridgeNetwork(docker))
        : undefined;
    let own: Pick<LoopbackForwarderPool, 'closeAll'> | undefined = ownPool;
    const relayed = parseModelForwards(info.Config.Labels?.[LABEL_FORWARDS]);
    const runDir = info.Mounts.find((m) => m.Destination === CONTAINER_RUN_DIR)?.Source;
    if (info.State.Running && relayed.length > 0 && runDir) {
      // Best effort, as for the ports below: without its sockets the agent sees connection errors.
      own = await SocketForwarders.open(path.join(runDir, MODEL_FORWARD_DIR), relayed, {
        bestEffort: true,
      }).catch(() => undefined);
    }
    const name = info.Name.replace(/^\//, '');
    const worker = new DockerWorker(
      container,
      info.Id,
      name,
      { cols: options.cols, rows: options.rows },
      own,
    );
    if (info.State.Running) {
      const pool = options.forwarders ?? ownPool;
      for (const f of forwards) {
        // Best effort: the port may be taken now; the agent then sees connection errors, as it
        // would with the endpoint down.
        await pool?.forward(f.target, f.port).catch(() => undefined);
      }
      await worker.attachStream();
      const { secrets } = splitSecrets(options.env ?? {});
      // Only a container started behind the wrapper waits for keys: the FIFO path in any other is
      // the agent's to make, and nothing of the server's goes to it.
      const wrapped = (info.Config.Cmd ?? []).includes(SECRETS_WRAPPER_LABEL);
      if (wrapped && Object.keys(secrets).length > 0) {
        // Best effort: a container that cannot take them starts its agent without, and says so.
        await handOverSecrets(docker, info.Id, secrets, SECRETS_REWRITER).catch(() => undefined);
      }
      worker.hostPid = info.State.Pid || undefined;
      worker.repaint(options.cols, options.rows);
    } else {
      worker.streamEnded = true;
    }
    worker.watchExit();
    return worker;
  }

  /** Host pid of the container's main process (tini); undefined once it has exited. */
  get pid(): number | undefined {
    return this.exited ? undefined : this.hostPid;
  }

  write(data: string | Buffer): void {
    if (this.exited || this.detached || !this.stream) return;
    this.stream.write(data);
  }

  /** Sets the TTY size; resizes are sent one after another, so the last one wins. */
  resize(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.sendResize(cols, rows);
  }

  onData(listener: (data: string) => void): Disposable {
    this.dataListeners.add(listener);
    if (this.pending.length > 0) {
      queueMicrotask(() => this.flushPending());
    }
    return { dispose: () => this.dataListeners.delete(listener) };
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
    this.stream?.pause();
  }

  resume(): void {
    this.stream?.resume();
  }

  /** Ends the agent and removes its container (see {@link stop}); returns at once. */
  kill(signal = 'SIGHUP'): void {
    void this.stop(signal);
  }

  /**
   * Sends `signal` to the container's main process (tini passes it on to the agent), waits up to
   * `graceMs` for it to exit, then removes the container (by force if it still runs). Idempotent.
   */
  stop(signal = 'SIGHUP', graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.exitKnown && !this.detached) {
        await this.container.kill({ signal }).catch(() => undefined);
        await Promise.race([this.exit, delay(graceMs)]);
      }
      await this.container.remove({ force: true }).catch((error: unknown) => {
        // Already gone (removed by hand, or by a concurrent gc) is what was wanted.
        if (statusCode(error) !== 404) throw error;
      });
      if (!this.detached) await Promise.race([this.exit, delay(EXIT_FLUSH_MS * 4)]);
      this.closeStream();
      await this.ownPool?.closeAll();
    })();
    return this.stopping;
  }

  /**
   * Lets go of the container without stopping it (server shutdown that keeps agents running):
   * closes the stream and the exit watch; no exit is reported. Forwarders the worker made for
   * itself close too; a restarted server re-creates them on reattach.
   */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.waitAbort.abort();
    this.closeStream();
    this.dataListeners.clear();
    this.exitListeners.clear();
    void this.ownPool?.closeAll();
  }

  /**
   * CPU and memory use now. Takes about a second: the engine samples CPU twice to compute a rate.
   *
   * @throws Error from dockerode when the container is gone
   */
  async stats(): Promise<WorkerStats> {
    const raw = (await this.container.stats({ stream: false })) as EngineStats;
    return computeStats(raw);
  }

  private async attachStream(): Promise<void> {
    const stream = (await this.container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
      detachKeys: DETACH_KEYS,
    })) as unknown as Duplex;
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => this.emitData(this.decoder.write(chunk)));
    const ended = () => {
      if (this.streamEnded) return;
      this.streamEnded = true;
      this.emitData(this.decoder.end());
      this.maybeReportExit();
    };
    stream.on('end', ended);
    stream.on('close', ended);
    // A broken connection to the engine ends the stream; the wait request reports the exit.
    stream.on('error', ended);
  }

  private async inspectPid(): Promise<void> {
    try {
      const info = await this.container.inspect();
      this.hostPid = info.State.Pid || undefined;
    } catch {
      // Only informational; the exit watch reports a vanished container.
    }
  }

  private emitData(text: string): void {
    if (text === '' || this.detached) return;
    if (this.dataListeners.size === 0) {
      this.pending.push(text);
      return;
    }
    this.flushPending();
    for (const listener of this.dataListeners) listener(text);
  }

  private flushPending(): void {
    if (this.pending.length === 0 || this.dataListeners.size === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    for (const listener of this.dataListeners) listener(text);
  }

  private sendResize(cols: number, rows: number): void {
    if (this.exitKnown || this.detached) return;
    this.resizeChain = this.resizeChain.then(async () => {
      // Only the newest size matters when several queue up during a drag.
      if (this.size.cols !== cols || this.size.rows !== rows) return;
      await this.container.resize({ h: rows, w: cols }).catch(() => undefined);
    });
  }

  private repaint(cols: number, rows: number): void {
    const other = rows > 1 ? rows - 1 : rows + 1;
    this.resizeChain = this.resizeChain.then(async () => {
      await this.container.resize({ h: other, w: cols }).catch(() => undefined);
      // Let the program handle one SIGWINCH before the next, or it may read the final size twice
      // and, seeing no change, not redraw.
      await delay(50);
    });
    this.resize(cols, rows);
  }

  private watchExit(): void {
    void this.waitForExit().then((exit) => {
      if (!exit || this.detached) return;
      this.exitKnown = exit;
      this.maybeReportExit();
      // Output may still be on its way through the engine; report after it or after a pause.
      setTimeout(() => this.reportExit(), EXIT_FLUSH_MS).unref();
    });
  }

  private async waitForExit(): Promise<PaneExit | undefined> {
    for (let tries = 0; ; tries++) {
      try {
        const result = (await this.container.wait({ abortSignal: this.waitAbort.signal })) as {
          StatusCode: number;
        };
        return await this.describeExit(result.StatusCode);
      } catch (error) {
        if (this.detached) return undefined;
        if (statusCode(error) === 404)
          return { exitCode: null, signal: 'SIGKILL', reason: 'container removed' };
        // The long-poll can break (engine restart); ask again rather than declare the agent dead.
        const state = await this.container.inspect().then(
          (i) => i.State,
          () => undefined,
        );
        if (state && !state.Running) return this.describeExit(state.ExitCode);
        if (tries >= 3) {
          return { exitCode: null, reason: `lost contact with the Docker engine: ${engineMessage(error)}` };
        }
        await delay(1000);
      }
    }
  }

  /**
   * The exit with its reason. The engine sets `State.OOMKilled` when containerd's OOM event
   * arrives, and that event races the exit event (moby daemon/monitor.go handles each on its
   * own): a SIGKILLed container with a memory limit that this worker did not stop is asked again
   * for up to {@link OOM_EVENT_WAIT_MS} before its exit is called plain.
   */
  private async describeExit(code: number): Promise<PaneExit> {
    const deadline = Date.now() + OOM_EVENT_WAIT_MS;
    try {
      for (;;) {
        const info = await this.container.inspect();
        if (info.State.OOMKilled) return { exitCode: code, reason: 'out of memory' };
        const mayBeOom = code === 137 && !this.stopping && (info.HostConfig?.Memory ?? 0) > 0;
        if (!mayBeOom || Date.now() >= deadline) break;
        await delay(100);
      }
    } catch {
      // Removed already (kill); the code is all there is.
    }
    return { exitCode: code };
  }

  private maybeReportExit(): void {
    if (this.exitKnown && this.streamEnded) this.reportExit();
  }

  private reportExit(): void {
    if (this.exited || !this.exitKnown || this.detached) return;
    this.exited = this.exitKnown;
    this.flushPending();
    const exit = this.exited;
    for (const listener of this.exitListeners) listener(exit);
    this.exitListeners.clear();
    this.resolveExit(exit);
    this.closeStream();
  }

  private closeStream(): void {
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    stream.removeAllListeners('data');
    stream.on('error', () => {
      // Destroying a hijacked socket can surface ECONNRESET after we stopped caring.
    });
    stream.destroy();
  }
}

function parseForwards(label: string | undefined): ForwardedEndpoint[] {
  if (!label) return [];
  try {
    const list = JSON.parse(label) as ForwardedEndpoint[];
    return Array.isArray(list)
      ? list.filter(
          (f) =>
            typeof f?.port === 'number' &&
            typeof f.target?.host === 'string' &&
            typeof f.target.port === 'number',
        )
      : [];
  } catch {
    return [];
  }
}

/**
 * The engine's refusal to create container `name` as the error a user reads: IMAGE_MISSING for a
 * missing image, SPAWN_FAILED for a name taken or anything else.
 */
export function createError(error: unknown, name: string, image: string): OrchestraError {
  const message = engineMessage(error);
  const code = statusCode(error);
  if (code === 404 && /image/i.test(message)) {
    return new OrchestraError('IMAGE_MISSING', `the worker image ${image} is not built`, {
      hint: 'run `orchestra image build`',
      cause: error,
    });
  }
  if (code === 409) {
    return new OrchestraError('SPAWN_FAILED', `a container named ${name} already exists`, {
      hint: `remove it with \`docker rm -f ${name}\` or \`orchestra gc\``,
      cause: error,
    });
  }
  return new OrchestraError(
    'SPAWN_FAILED',
    `the Docker engine refused worker container ${name}: ${message}`,
    {
      hint: 'check the worker settings in orchestra.json and `orchestra doctor`',
      cause: error,
    },
  );
}
