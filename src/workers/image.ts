import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { errorMessage, OrchestraError, type OrchestraErrorCode } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';
import {
  AGENT_CLIS_DIR,
  AGENT_CLIS_LABEL,
  type AgentCliRequest,
  npmCpu,
  stageAgentClis,
} from './agent-clis.js';
import { dockerClient } from './docker-engine.js';

/** The worker image's Dockerfile, relative to the package root. */
export const WORKER_DOCKERFILE = 'Dockerfile.worker';
/** The bundled built-in agent (made by scripts/bundle-agent.mjs), relative to the package root. */
export const AGENT_BUNDLE = 'dist-worker/orchestra-agent.mjs';
/** Image label holding {@link workerImageVersion} of the files the image was built from. */
export const IMAGE_VERSION_LABEL = 'orchestra.image-version';

// Wanted codes, not yet in errors.ts: IMAGE_BUILD_FAILED and IMAGE_FILES_MISSING.
const BUILD_FAILED: OrchestraErrorCode = 'IMAGE_BUILD_FAILED';
const FILES_MISSING: OrchestraErrorCode = 'IMAGE_BUILD_FAILED';

/** Lines of a failing step's output kept for the error: enough for a compiler or apt error. */
const FAILED_STEP_TAIL_LINES = 30;

async function readRequired(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new OrchestraError(FILES_MISSING, `cannot read the ${what} ${file}: ${errorMessage(error)}`, {
      hint:
        what === 'agent bundle'
          ? 'run `npm run build` (it bundles the agent into dist-worker/) and try again'
          : 'reinstall orchestra: the worker image cannot be built without it',
      cause: error,
    });
  }
}

/**
 * The worker image version of the files in `context`: the first 16 hex digits of the SHA-256 of
 * Dockerfile.worker, a NUL, and the agent bundle.
 *
 * @throws OrchestraError when either file cannot be read
 */
export async function workerImageVersion(
  context = packageRoot(),
  dockerfile = WORKER_DOCKERFILE,
): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readRequired(path.join(context, dockerfile), 'worker Dockerfile'));
  hash.update('\0');
  hash.update(await readRequired(path.join(context, AGENT_BUNDLE), 'agent bundle'));
  return hash.digest('hex').slice(0, 16);
}

/** Options of {@link buildWorkerImage}. */
export interface BuildWorkerImageOptions {
  /** Tag to give the image, e.g. `orchestra-worker:latest`. */
  tag: string;
  /** Dockerfile path relative to `context` (default Dockerfile.worker). */
  dockerfile?: string;
  /** Directory holding the Dockerfile and dist-worker/ (default: the package root). */
  context?: string;
  /** Build args such as `BASE_IMAGE`; IMAGE_VERSION and AGENT_CLIS are set here. */
  buildArgs?: Record<string, string>;
  /** Agent CLIs to install on this machine with npm and copy into the image (agent-clis.ts). */
  agentClis?: readonly AgentCliRequest[];
  /** Rebuild every layer instead of reusing cached ones. */
  noCache?: boolean;
  /** Each line of build output as it arrives (no trailing newline). */
  onProgress?: (line: string) => void;
  docker?: Docker;
}

/** The classic builder colours a RUN step's stderr; progress lines and errors are plain text. */
function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** One JSON object of the engine's build stream (classic builder). */
interface BuildEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * Builds the worker image through the engine's build API. The context sent is a staging folder
 * holding only Dockerfile.worker, the agent bundle and agent-clis/ (the CLIs asked for, installed
 * here with npm; empty without), never node_modules or the user's repository.
 *
 * @returns the image id (`sha256:...`), the version written into its label, and the agent CLIs
 *   installed (`name@version`)
 * @throws OrchestraError when a file is missing, npm cannot install a CLI, or the build fails; a
 *   failing step's message carries the last lines of its output
 */
export async function buildWorkerImage(
  options: BuildWorkerImageOptions,
): Promise<{ id: string; version: string; agentClis: string[] }> {
  const source = options.context ?? packageRoot();
  const dockerfile = options.dockerfile ?? WORKER_DOCKERFILE;
  const version = await workerImageVersion(source, dockerfile);
  const docker = options.docker ?? dockerClient();
  const staging = await mkdtemp(path.join(tmpdir(), 'orchestra-image-'));
  try {
    for (const file of [dockerfile, AGENT_BUNDLE]) {
      await mkdir(path.dirname(path.join(staging, file)), { recursive: true });
      await copyFile(path.join(source, file), path.join(staging, file));
    }
    const requests = options.agentClis ?? [];
    // The CLIs are for the engine's machine, which may not be this one's architecture.
    const arch = requests.length > 0 ? String((await docker.version()).Arch ?? 'amd64') : 'amd64';
    const agentClis = await stageAgentClis(staging, requests, npmCpu(arch), options.onProgress);
    const buildargs = { ...options.buildArgs, IMAGE_VERSION: version, AGENT_CLIS: agentClis.join(' ') };
    const id = await buildContext(docker, staging, dockerfile, buildargs, options);
    return { id, version, agentClis };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The build itself, from the staging folder `context`: returns the image id. */
async function buildContext(
  docker: Docker,
  context: string,
  dockerfile: string,
  buildargs: Record<string, string>,
  options: BuildWorkerImageOptions,
): Promise<string> {
  const previous = await docker
    .getImage(options.tag)
    .inspect()
    .then(
      (info) => (info as { Id: string }).Id,
      () => undefined,
    );
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(
      { context, src: [dockerfile, AGENT_BUNDLE, AGENT_CLIS_DIR] },
      { t: options.tag, dockerfile, buildargs, nocache: options.noCache === true, rm: true, forcerm: true },
    );
  } catch (error) {
    throw new OrchestraError(BUILD_FAILED, `the Docker engine refused the build: ${errorMessage(error)}`, {
      hint: 'check `orchestra doctor`; the engine must be reachable',
      cause: error,
    });
  }

  // Output of the current step only, so a failure shows what that step printed.
  let stepTail: string[] = [];
  let partial = '';
  let failure: string | undefined;
  let imageId: string | undefined;
  const emit = (line: string) => {
    if (/^Step \d+\/\d+ :/.test(line)) stepTail = [];
    stepTail.push(line);
    if (stepTail.length > FAILED_STEP_TAIL_LINES) stepTail.shift();
    options.onProgress?.(line);
  };
  const onEvent = (event: BuildEvent) => {
    if (event.error !== undefined) {
      failure = event.errorDetail?.message ?? event.error;
      return;
    }
    if (event.aux?.ID) imageId = event.aux.ID;
    const text =
      event.stream ?? (event.status ? `${event.status}${event.progress ? ` ${event.progress}` : ''}` : '');
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) emit(stripAnsi(line).trimEnd());
  };

  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      onEvent,
    );
  }).catch((error: unknown) => {
    failure ??= errorMessage(error);
  });
  if (partial) emit(stripAnsi(partial).trimEnd());

  if (failure !== undefined) {
    const tail = stepTail.filter((line) => line.trim() !== '').join('\n');
    throw new OrchestraError(
      BUILD_FAILED,
      `building ${options.tag} failed: ${failure}${tail ? `\n${tail}` : ''}`,
      {
        hint: "the lines above are the failing step's output; fix the cause (network, base image, build args) and run `orchestra image build` again",
      },
    );
  }
  if (!imageId) {
    // Older engines print only "Successfully built <short id>"; the tag is authoritative anyway.
    imageId = ((await docker.getImage(options.tag).inspect()) as { Id: string }).Id;
  }
  if (previous && previous !== imageId) {
    // The image this tag named before is now untagged: drop it, unless a container (a running
    // worker) or another tag still uses it, which the engine refuses without force.
    await docker
      .getImage(previous)
      .remove()
      .catch(() => undefined);
  }
  return imageId;
}

/** Whether the worker image exists and was built from the files at hand. */
export interface WorkerImageStatus {
  present: boolean;
  /**
   * True when the image's version label equals {@link workerImageVersion} of the current files;
   * false when it differs or the image is absent; undefined when the current files cannot be read.
   */
  current: boolean | undefined;
  /** The image's label, when present (`unknown` for an image built without orchestra). */
  version?: string;
  /** The version the current Dockerfile and bundle would give. */
  expected?: string;
  id?: string;
  /** Image size in bytes. */
  sizeBytes?: number;
  /** The agent CLIs in the image, `name@version` each (its {@link AGENT_CLIS_LABEL}); none: []. */
  agentClis?: string[];
}

/**
 * Inspects the worker image `tag` and compares its version label with the current files.
 * `options.expected`: their version, when the caller has it already (asking several engines).
 *
 * @throws Error from dockerode when the engine cannot be asked (anything but "no such image")
 */
export async function workerImageStatus(
  tag: string,
  options: { context?: string; docker?: Docker; expected?: string } = {},
): Promise<WorkerImageStatus> {
  const docker = options.docker ?? dockerClient(process.env, 10_000);
  let expected = options.expected;
  try {
    expected ??= await workerImageVersion(options.context ?? packageRoot());
  } catch {
    // An install without the bundle can still report presence; currency is then unknown.
  }
  let info: { Id: string; Size?: number; Config?: { Labels?: Record<string, string> | null } };
  try {
    info = await docker.getImage(tag).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return expected === undefined
        ? { present: false, current: false }
        : { present: false, current: false, expected };
    }
    throw error;
  }
  const version = info.Config?.Labels?.[IMAGE_VERSION_LABEL];
  const status: WorkerImageStatus = {
    present: true,
    current: expected === undefined ? undefined : version === expected,
    id: info.Id,
  };
  if (version !== undefined) status.version = version;
  if (expected !== undefined) status.expected = expected;
  if (info.Size !== undefined) status.sizeBytes = info.Size;
  const clis = info.Config?.Labels?.[AGENT_CLIS_LABEL];
  if (clis !== undefined) status.agentClis = clis.split(' ').filter(Boolean);
  return status;
}
