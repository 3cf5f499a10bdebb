import type { CommandEnv } from '../cli/command-env.js';
import { loadConfig } from '../config/load.js';
import { defaultConfig } from '../config/schema.js';
import { findRepoRoot } from '../git/repo.js';
import type { AgentCliRequest } from './agent-clis.js';
import { buildWorkerImage, workerImageStatus } from './image.js';

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
