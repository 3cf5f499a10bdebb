import type { CommandEnv } from '../cli/command-env.js';
import { OrchestraError } from '../common/errors.js';
import { loadConfig } from '../config/load.js';
import { defaultConfig } from '../config/schema.js';
import { findRepoRoot } from '../git/repo.js';
import type { AgentCliRequest } from './agent-clis.js';
import { dockerClient } from './docker-engine.js';
import { hostDocker, workerHosts } from './hosts.js';
import { buildWorkerImage, workerImageStatus } from './image.js';
import { shipImage } from './image-ship.js';

/** Options of `orchestra image build` (commander's camel-cased flags). */
export interface ImageBuildCommandOptions {
  /** Image tag; default: `worker.image` of the repository's config, else orchestra-worker:latest. */
  tag?: string;
  /** BASE_IMAGE build arg (default debian:bookworm-slim, see scripts/build-base-image.sh). */
  base?: string;
  /** Also install Claude Code / Codex in the image: true for the latest, or an npm version or tag. */
  claude?: boolean | string;
  codex?: boolean | string;
  /** Also install Aider (pip, inside the build). */
  aider?: boolean;
  noCache?: boolean;
  /** Print only the summary, not every build line. */
  quiet?: boolean;
  json?: boolean;
}

async function configuredTag(env: CommandEnv): Promise<string> {
  try {
    const root = await findRepoRoot(env.cwd);
    return (await loadConfig(root, { env: env.env })).config.worker.image;
  } catch {
    // Outside a repository (or with a config problem, which other commands report) the default
    // tag is still the right one to build.
    return defaultConfig().worker.image;
  }
}

/**
 * The action of `orchestra image build`: builds Dockerfile.worker with the bundled agent, streams
 * the build output, and prints the image's id, version, size and how long it took.
 *
 * @throws OrchestraError when the bundle is missing or the build fails (with the failing step's output)
 */
export async function runImageBuildCommand(opts: ImageBuildCommandOptions, env: CommandEnv): Promise<void> {
  const tag = opts.tag ?? (await configuredTag(env));
  const buildArgs: Record<string, string> = {};
  if (opts.base) buildArgs.BASE_IMAGE = opts.base;
  if (opts.aider) buildArgs.INSTALL_AIDER = '1';
  const agentClis: AgentCliRequest[] = [];
  for (const cli of ['claude', 'codex'] as const) {
    const wanted = opts[cli];
    if (wanted) agentClis.push(typeof wanted === 'string' ? { cli, version: wanted } : { cli });
  }
  const started = Date.now();
  const quiet = opts.quiet === true || opts.json === true;
  const {
    id,
    version,
    agentClis: installed,
  } = await buildWorkerImage({
    tag,
    buildArgs,
    agentClis,
    noCache: opts.noCache === true,
    onProgress: quiet ? undefined : (line) => env.output.err(line),
  });
  const seconds = (Date.now() - started) / 1000;
  const status = await workerImageStatus(tag);
  const sizeMb = status.sizeBytes === undefined ? undefined : Math.round(status.sizeBytes / 1e6);
  if (opts.json) {
    env.output.out(
      JSON.stringify(
        { tag, id, version, agentClis: installed, seconds, sizeBytes: status.sizeBytes },
        null,
        2,
      ),
    );
  } else {
    env.output.out(
      `built ${tag} (${id.replace(/^sha256:/, '').slice(0, 12)}, version ${version}${sizeMb === undefined ? '' : `, ${sizeMb} MB`}${installed.length > 0 ? `, with ${installed.join(' ')}` : ''}) in ${seconds.toFixed(1)} s`,
    );
  }
}

/**
 * The action of `orchestra image ship <host>`: puts this machine's worker image on the named host
 * of `worker.hosts` (engine to engine, no registry), with progress on stderr; says whether it
 * shipped it or the host had it already.
 *
 * @throws OrchestraError USAGE for a host the config does not name or this machine's own;
 *   IMAGE_MISSING / IMAGE_BUILD_FAILED from {@link shipImage}
 */
export async function runImageShipCommand(
  hostName: string,
  opts: { quiet?: boolean; json?: boolean },
  env: CommandEnv,
): Promise<void> {
  const root = await findRepoRoot(env.cwd);
  const { config } = await loadConfig(root, { env: env.env });
  const hosts = workerHosts(config);
  const host = hosts.find((h) => h.name === hostName);
  if (!host) {
    throw new OrchestraError('USAGE', `no worker host named ${JSON.stringify(hostName)}`, {
      hint: `the hosts are ${hosts.map((h) => h.name).join(', ')} (worker.hosts; see \`orchestra hosts\`)`,
    });
  }
  if (host.address.kind === 'local') {
    throw new OrchestraError('USAGE', `${hostName} is this machine's engine: its image is built here`, {
      hint: 'run `orchestra image build`',
    });
  }
  const tag = config.worker.image;
  const quiet = opts.quiet === true || opts.json === true;
  const result = await shipImage({
    from: dockerClient(env.env),
    to: await hostDocker(host, env.env),
    tag,
    ...(quiet ? {} : { onProgress: (line: string) => env.output.err(line) }),
  });
  if (opts.json) env.output.out(JSON.stringify({ host: hostName, tag, ...result }, null, 2));
  else if (result.action === 'already') env.output.out(`${hostName} has ${tag} already (the same image)`);
  else {
    env.output.out(
      `shipped ${tag} to ${hostName}: ${Math.round(result.bytes / 1e6)} MB in ${result.seconds.toFixed(1)} s (saved here, loaded there; nothing was built)`,
    );
  }
}
