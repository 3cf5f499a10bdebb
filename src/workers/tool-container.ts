import type Docker from 'dockerode';
import type { WorkerConfig } from '../config/schema.js';
import {
  LABEL_ATTEMPT,
  LABEL_REPO,
  LABEL_SESSION,
  LABEL_TASK,
  packageCacheVolumeName,
  workerContainerName,
} from './container-labels.js';
import { containerSpec } from './container-spec.js';
import { dockerClient } from './docker-engine.js';
import { execInContainer } from './docker-exec.js';
import { createError } from './docker-worker.js';
import type { ShellResult, ShellRunOptions, WorkerShell } from './worker-shell.js';

/**
 * A short-lived container for the commands of an attempt that are not the agent: setup, the check
 * gate, export, the merge gate. Same image, mounts and limits as the agent's container, but no
 * secret in its environment (DESIGN.md, "Security"), no TTY, and `sleep` as its main process so
 * each command is a `docker exec`. Removed when disposed.
 */

/** What a tool container is for; the last part of its name (`orchestra-<session>-<repo>-<attempt>-<role>`). */
export type ToolRole = 'setup' | 'checks' | 'merge';

/** Options of {@link ToolContainer.start}. */
export interface ToolContainerOptions {
  session: string;
  /** The host repository's top level (absolute), for the repository label. */
  repo?: string;
  taskId: string;
  attemptId: string;
  role: ToolRole;
  /** The repository folder (absolute) commands run in. */
  worktree: string;
  /** The host's object directory (absolute), mounted read-only. */
  objectsDir: string;
  /** The attempt's run directory (absolute). */
  runDir: string;
  config: WorkerConfig;
  /** `uid:gid`. */
  user: string;
  /** Docker network mode: `bridge` for setup, `none` for checks unless the worker has `bridge`. */
  network: string;
  /** Non-secret variables for every command. */
  env?: Record<string, string>;
  /** Mount the session's package cache (setup only; see container-spec.ts). */
  packageCache?: boolean;
  /** The host's extra CA file (see {@link ContainerSpecInput.caFile}). */
  caFile?: string;
  docker?: Docker;
}

/**
 * The session's package cache volume, made when missing with the session's labels (so it can be
 * told apart and removed) and its top folder made mode 1777 by a one-off container of the image as
 * root (the owner of a new volume; no capability needed, no network), so that the worker's uid can
 * write it whatever image it is.
 *
 * @throws Error from the engine when the volume cannot be made or prepared
 */
async function packageCacheVolume(docker: Docker, options: ToolContainerOptions): Promise<string> {
  const name = packageCacheVolumeName(options.session, options.repo);
  const exists = await docker
    .getVolume(name)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (exists) return name;
  await docker.createVolume({
    Name: name,
    Labels: { [LABEL_SESSION]: options.session, ...(options.repo ? { [LABEL_REPO]: options.repo } : {}) },
  });
  const init = await docker.createContainer({
    Image: options.config.image,
    User: '0:0',
    Entrypoint: ['chmod', '1777', '/cache'],
    Cmd: [],
    Labels: { [LABEL_SESSION]: options.session, ...(options.repo ? { [LABEL_REPO]: options.repo } : {}) },
    HostConfig: {
      Mounts: [{ Type: 'volume', Source: name, Target: '/cache' }],
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
    },
  });
  try {
    await init.start();
    const { StatusCode } = (await init.wait()) as { StatusCode: number };
    if (StatusCode !== 0) throw new Error(`preparing the package cache volume ${name} exited ${StatusCode}`);
  } finally {
    await init.remove({ force: true }).catch(() => {});
  }
  return name;
}

/** The main process: it only has to stay up until the container is removed (~68 years). */
const IDLE_COMMAND = ['sleep', '2147483647'];

/** A running tool container and the shell into it. */
export class ToolContainer implements WorkerShell {
  readonly kind = 'docker';
  private disposed: Promise<void> | undefined;

  private constructor(
    private readonly docker: Docker,
    private readonly container: Docker.Container,
    /** Container id. */
    readonly id: string,
    readonly worktree: string,
    private readonly env: Record<string, string>,
  ) {}

  /**
   * Creates and starts the container. A leftover of the same name (a server killed while it ran)
   * is removed first.
   *
   * @throws OrchestraError IMAGE_MISSING or SPAWN_FAILED when the engine refuses
   */
  static async start(options: ToolContainerOptions): Promise<ToolContainer> {
    const docker = options.docker ?? dockerClient();
    const name = workerContainerName(options.session, `${options.attemptId}-${options.role}`, options.repo);
    await docker
      .getContainer(name)
      .remove({ force: true })
      .catch(() => {
        // None there: the usual case.
      });
    let container: Docker.Container;
    try {
      const cache = options.packageCache ? await packageCacheVolume(docker, options) : undefined;
      container = await docker.createContainer(
        containerSpec({
          name,
          command: IDLE_COMMAND,
          env: options.env ?? {},
          labels: {
            [LABEL_SESSION]: options.session,
            ...(options.repo ? { [LABEL_REPO]: options.repo } : {}),
            [LABEL_TASK]: options.taskId,
            [LABEL_ATTEMPT]: `${options.attemptId}-${options.role}`,
          },
          worktree: options.worktree,
          objectsDir: options.objectsDir,
          runDir: options.runDir,
          config: options.config,
          user: options.user,
          network: options.network,
          tty: false,
          ...(cache ? { packageCache: cache } : {}),
          ...(options.caFile ? { caFile: options.caFile } : {}),
        }),
      );
      await container.start();
    } catch (error) {
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => {});
      throw createError(error, name, options.config.image);
    }
    return new ToolContainer(docker, container, container.id, options.worktree, options.env ?? {});
  }

  async run(command: string, options: ShellRunOptions): Promise<ShellResult> {
    const result = await execInContainer(this.id, ['sh', '-c', command], {
      workingDir: this.worktree,
      env: { ...this.env, ...(options.env ?? {}) },
      timeoutMs: options.timeoutMs,
      docker: this.docker,
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
      ...(options.captureStdout ? { captureStdout: true } : {}),
    });
    if (result.timedOut) {
      // Docker cannot end one exec: stop the whole container, so nothing keeps running.
      await this.dispose();
    }
    return result;
  }

  dispose(): Promise<void> {
    this.disposed ??= this.container
      .remove({ force: true })
      .then(() => undefined)
      .catch(() => {
        // Already gone (removed by hand or by gc): what was wanted.
      });
    return this.disposed;
  }
}
