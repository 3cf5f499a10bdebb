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
import { CONTAINER_PACKAGE_CACHE, containerSpec } from './container-spec.js';
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
 * told apart and removed); creating one that exists is a no-op in the engine. A new volume takes
 * the mode of the image's folder it is mounted on (Dockerfile.worker makes it 1777).
 */
async function packageCacheVolume(docker: Docker, options: ToolContainerOptions): Promise<string> {
  const name = packageCacheVolumeName(options.session, options.repo);
  await docker.createVolume({
    Name: name,
    Labels: { [LABEL_SESSION]: options.session, ...(options.repo ? { [LABEL_REPO]: options.repo } : {}) },
  });
  return name;
}

/**
 * npm's settings for the cache, when the worker's uid can write the mounted volume — an image
 * other than orchestra's may have no 1777 folder there; its setup then runs without the cache
 * rather than fail (no root container is ever started to fix the mode: DESIGN.md, "Security").
 */
async function cacheEnv(docker: Docker, id: string, worktree: string): Promise<Record<string, string>> {
  const probe = await execInContainer(id, ['sh', '-c', `test -w ${CONTAINER_PACKAGE_CACHE}`], {
    workingDir: worktree,
    timeoutMs: 10_000,
    docker,
  }).catch(() => undefined);
  if (probe?.exitCode !== 0) return {};
  // npm takes what the cache holds without asking the registry again (the lock file pins versions
  // and integrity); what it lacks it still fetches.
  return { npm_config_cache: `${CONTAINER_PACKAGE_CACHE}/npm`, npm_config_prefer_offline: 'true' };
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
    const env = {
      ...(options.env ?? {}),
      ...(options.packageCache ? await cacheEnv(docker, container.id, options.worktree) : {}),
    };
    return new ToolContainer(docker, container, container.id, options.worktree, env);
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
