import type Docker from 'dockerode';
import type { WorkerConfig } from '../config/schema.js';

/**
 * The security policy of a worker container as data (DESIGN.md, "Security"), pure so it can be
 * tested without an engine: an unprivileged user, all capabilities dropped, no-new-privileges,
 * pids/memory/CPU limits, a read-only root file system with tmpfs for `/tmp` and the home, and
 * three mounts — the attempt's own repository, the host's object store read-only (the
 * repository's alternate, so nothing is copied), and the attempt's run directory — plus, when
 * asked, the host's extra CA file read-only and (setup only) the session's package cache. Never
 * the host repository's `.git`, never the Docker socket.
 */

/** Where the attempt's run directory appears inside the container (DESIGN.md, "Agent status protocol"). */
export const CONTAINER_RUN_DIR = '/run/orchestra';
/** The container user's home: a tmpfs, since the root file system is read-only. */
export const CONTAINER_HOME = '/home/agent';
/**
 * Where a session's package cache volume is mounted (setup containers only). Dockerfile.worker
 * makes the folder mode 1777, and Docker gives a new volume that mode, so any worker uid can
 * write it; npm is pointed at it only when it can (tool-container.ts).
 */
export const CONTAINER_PACKAGE_CACHE = '/var/cache/orchestra';
/** Where the host's extra CA certificates (`NODE_EXTRA_CA_CERTS`) appear in a container, read-only. */
export const CONTAINER_CA_FILE = '/etc/orchestra/extra-ca.pem';

/** The worker user when orchestra runs as root: the image's `agent` user (Dockerfile.worker). */
export const DEFAULT_WORKER_USER = '1000:1000';

const MIB = 1024 * 1024;

/**
 * The `uid:gid` a worker runs as: `configured` (`worker.user`) when set; else the host user's, so
 * files written in the attempt's folder stay theirs — except that root is never passed on, and
 * becomes {@link DEFAULT_WORKER_USER}.
 *
 * @param host the server's uid and gid
 */
export function workerUser(configured: string | undefined, host: { uid: number; gid: number }): string {
  if (configured) return configured;
  if (host.uid === 0) return DEFAULT_WORKER_USER;
  return `${host.uid}:${host.gid}`;
}

/** The uid and gid of a `uid:gid` user string (a gid left out is the uid). */
export function parseUser(user: string): { uid: number; gid: number } {
  const [uid = '', gid = uid] = user.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** What one container of an attempt needs. */
export interface ContainerSpecInput {
  /** Container name, `orchestra-<session>-<repo>-<attemptId>[-role]` (container-labels.ts). */
  name: string;
  /** argv of the main process (under the image's tini). */
  command: string[];
  /** Environment; secrets only for the agent's own container. */
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The attempt's repository folder (absolute): mounted at the same path, the working directory. */
  worktree: string;
  /** The host repository's object directory (absolute): mounted read-only at the same path. */
  objectsDir: string;
  /** The attempt's run directory (absolute), mounted at {@link CONTAINER_RUN_DIR}. */
  runDir: string;
  config: WorkerConfig;
  /** `uid:gid` (see {@link workerUser}). */
  user: string;
  /** Docker network mode: `bridge` or `none` (`model-only` runs on `none`, see model-network.ts). */
  network: string;
  /** Agent panes get a TTY with open stdin; tool containers (checks, setup, export) do not. */
  tty: boolean;
  /** Mount the worktree read-only (read-only profiles). */
  readOnlyWorktree?: boolean;
  /** `[rows, cols]` when the engine takes the console size at create (API 1.42+). */
  consoleSize?: [number, number];
  /** `host:ip` entries for the container's /etc/hosts: model-only maps endpoint names to loopback aliases. */
  extraHosts?: string[];
  /**
   * A Docker volume (the session's package cache) mounted at {@link CONTAINER_PACKAGE_CACHE},
   * npm's cache inside it. Setup containers only: anything that ran agent code could poison it.
   */
  packageCache?: string;
  /**
   * The host's extra CA certificates file (absolute; its `NODE_EXTRA_CA_CERTS`), mounted
   * read-only at {@link CONTAINER_CA_FILE} and named by the container's `NODE_EXTRA_CA_CERTS`, so
   * Node and npm inside trust what they trust on the host (a TLS-inspecting proxy).
   */
  caFile?: string;
}

function tmpfsOptions(sizeMb: number | undefined, extra = ''): string {
  // Docker's tmpfs default is noexec; agents run test binaries and build tools from /tmp and $HOME.
  return `rw,exec,nosuid,nodev${extra}${sizeMb === undefined ? '' : `,size=${sizeMb}m`}`;
}

/** The engine's create options for one worker container (see the module comment). */
export function containerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const { config } = input;
  const { uid, gid } = parseUser(input.user);
  const hostConfig: Docker.HostConfig = {
    Mounts: [
      {
        Type: 'bind',
        Source: input.worktree,
        Target: input.worktree,
        ReadOnly: input.readOnlyWorktree === true,
      },
      { Type: 'bind', Source: input.objectsDir, Target: input.objectsDir, ReadOnly: true },
      { Type: 'bind', Source: input.runDir, Target: CONTAINER_RUN_DIR, ReadOnly: false },
    ],
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: config.pids,
    Memory: config.memoryMb * MIB,
    // Equal to Memory: no swap, so a memory hog is killed instead of thrashing the host.
    MemorySwap: config.memoryMb * MIB,
    NanoCpus: Math.round(config.cpus * 1e9),
    ReadonlyRootfs: true,
    Tmpfs: {
      '/tmp': tmpfsOptions(config.tmpTmpfsMb),
      [CONTAINER_HOME]: tmpfsOptions(config.homeTmpfsMb, `,uid=${uid},gid=${gid},mode=0700`),
    },
    NetworkMode: input.network,
  };
  if (input.packageCache) {
    hostConfig.Mounts?.push({ Type: 'volume', Source: input.packageCache, Target: CONTAINER_PACKAGE_CACHE });
  }
  if (input.caFile) {
    hostConfig.Mounts?.push({
      Type: 'bind',
      Source: input.caFile,
      Target: CONTAINER_CA_FILE,
      ReadOnly: true,
    });
  }
  if (input.consoleSize) hostConfig.ConsoleSize = input.consoleSize;
  if (input.extraHosts && input.extraHosts.length > 0) hostConfig.ExtraHosts = input.extraHosts;
  const env: Record<string, string> = {
    ...(input.tty ? { TERM: 'xterm-256color' } : {}),
    ...input.env,
    ...(input.caFile ? { NODE_EXTRA_CA_CERTS: CONTAINER_CA_FILE } : {}),
    HOME: CONTAINER_HOME,
    ORCHESTRA_RUN_DIR: CONTAINER_RUN_DIR,
  };
  return {
    name: input.name,
    Image: config.image,
    Cmd: input.command,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: input.labels,
    WorkingDir: input.worktree,
    User: input.user,
    Tty: input.tty,
    OpenStdin: input.tty,
    StdinOnce: false,
    AttachStdin: input.tty,
    AttachStdout: input.tty,
    AttachStderr: input.tty,
    HostConfig: hostConfig,
  };
}
