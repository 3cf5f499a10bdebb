import { OrchestraError } from '../common/errors.js';
import type { SandboxMode } from '../config/schema.js';
import { type DockerProbe, imagePresent, probeDocker } from './docker-engine.js';

/** Where an attempt's worker runs, and what the user should hear about the choice. */
export type SandboxChoice =
  | { kind: 'docker'; image: string; warning?: string }
  | {
      kind: 'local';
      /** Set when Docker was wanted (`auto`) but could not be used: one line for the log and TUI. */
      warning?: string;
    };

/** How to reach the engine; replaceable so a caller can reuse probes it already made. */
export interface SandboxProbes {
  probe?: (env: NodeJS.ProcessEnv) => Promise<DockerProbe>;
  imagePresent?: (image: string, env: NodeJS.ProcessEnv) => Promise<boolean | undefined>;
  /**
   * Whether the image was built from the current Dockerfile.worker and agent bundle; undefined
   * when it cannot be told. Default: compare the image's version label (image.ts).
   */
  imageCurrent?: (image: string, env: NodeJS.ProcessEnv) => Promise<boolean | undefined>;
}

async function defaultImageCurrent(image: string, env: NodeJS.ProcessEnv): Promise<boolean | undefined> {
  try {
    const { workerImageStatus } = await import('./image.js');
    const { dockerClient } = await import('./docker-engine.js');
    return (await workerImageStatus(image, { docker: dockerClient(env, 10_000) })).current;
  } catch {
    return undefined;
  }
}

/**
 * Decides where a worker runs. `auto` picks Docker when the engine answers and the image is
 * present, else a local process with a warning; `docker` insists; `local` never asks the engine.
 * An agent's or profile's `sandbox` overrides the configured mode.
 *
 * @param mode the config's `sandbox`
 * @param override the agent's or profile's `sandbox`, when it has one
 * @param options.image the config's `worker.image`
 * @param options.env environment with DOCKER_HOST and friends (default `process.env`)
 * @throws OrchestraError when the mode is `docker` and the engine is down or the image missing
 */
export async function chooseSandbox(
  mode: SandboxMode,
  override: SandboxMode | undefined,
  options: { image: string; env?: NodeJS.ProcessEnv } & SandboxProbes,
): Promise<SandboxChoice> {
  const effective = override ?? mode;
  if (effective === 'local') return { kind: 'local' };
  const env = options.env ?? process.env;
  const docker = await (options.probe ?? probeDocker)(env);
  if (!docker.reachable) {
    if (effective === 'docker') {
      throw new OrchestraError(
        'DOCKER_UNAVAILABLE',
        `sandbox is "docker" but ${docker.reason ?? 'the Docker engine does not answer'}`,
        {
          hint: 'start the Docker engine, or set "sandbox" to "auto" or "local" in .orchestra/orchestra.json',
        },
      );
    }
    return {
      kind: 'local',
      warning: `Docker unavailable (${docker.reason}); running agents as local processes`,
    };
  }
  const present = await (options.imagePresent ?? imagePresent)(options.image, env);
  if (present !== true) {
    const why =
      present === false
        ? `the worker image ${options.image} is not built`
        : `the worker image ${options.image} could not be inspected`;
    if (effective === 'docker') {
      throw new OrchestraError(
        present === false ? 'IMAGE_MISSING' : 'DOCKER_UNAVAILABLE',
        `sandbox is "docker" but ${why}`,
        {
          hint: 'run `orchestra image build`',
        },
      );
    }
    return {
      kind: 'local',
      warning: `${why} (run \`orchestra image build\`); running agents as local processes`,
    };
  }
  // An image built from an older agent may not speak what this orchestra expects of it (the
  // inbox of the check gate): auto runs locally instead; docker uses it, with a warning.
  const current = await (options.imageCurrent ?? (options.probe ? async () => true : defaultImageCurrent))(
    options.image,
    env,
  );
  if (current === false) {
    const warning = `the worker image ${options.image} is out of date (run \`orchestra image build\`)`;
    if (effective === 'auto')
      return { kind: 'local', warning: `${warning}; running agents as local processes` };
    return { kind: 'docker', image: options.image, warning };
  }
  return { kind: 'docker', image: options.image };
}
