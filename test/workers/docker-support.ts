/**
 * Shared by the Docker worker tests: whether to skip (no engine), building the worker image once,
 * a real repository with an attempt worktree, and reading a worker's output.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import lockfile from 'proper-lockfile';
import { packageRoot } from '../../src/common/paths.js';
import type { WorkerConfig } from '../../src/config/schema.js';
import { defaultConfig } from '../../src/config/schema.js';
import { seedAttemptRepo } from '../../src/git/attempt-repo.js';
import type { PaneExit, PaneProcess } from '../../src/panes/pane-process.js';
import { AGENT_CLI_PACKAGES, type AgentCliRequest } from '../../src/workers/agent-clis.js';
import { workerUser } from '../../src/workers/container-spec.js';
import { dockerClient, probeDocker } from '../../src/workers/docker-engine.js';
import { hostIds } from '../../src/workers/docker-worker.js';
import { AGENT_BUNDLE, buildWorkerImage, workerImageStatus } from '../../src/workers/image.js';
import { removeSessionContainers } from '../../src/workers/session-containers.js';
import { handOver } from '../../src/workers/shells.js';

const run = promisify(execFile);

/** The image the tests run: the one users build by default. */
export const TEST_IMAGE = defaultConfig().worker.image;

/**
 * Why the Docker tests cannot run here, or undefined when they can. With `CI` set a missing engine
 * is a failure, not a skip: CI machines have one, so its absence is a broken setup.
 */
export async function dockerSkipReason(): Promise<string | undefined> {
  const probe = await probeDocker();
  if (probe.reachable) return undefined;
  if (process.env.CI) throw new Error(`CI is set but no Docker engine answers: ${probe.reason}`);
  return `no Docker engine: ${probe.reason}`;
}

/**
 * Makes sure the worker image `tag` exists and matches the current Dockerfile and bundle, and has
 * exactly the agent CLIs of `agentClis` (versions given), building the bundle and the image when
 * not. Test files run in parallel, so a lock keeps it to one build.
 */
export async function ensureWorkerImage(
  tag = TEST_IMAGE,
  agentClis: (AgentCliRequest & { version: string })[] = [],
): Promise<void> {
  const lockTarget = path.join(os.tmpdir(), 'orchestra-worker-image-build');
  await writeFile(lockTarget, '', { flag: 'a' });
  const release = await lockfile.lock(lockTarget, {
    retries: { retries: 600, minTimeout: 500, maxTimeout: 1000 },
    stale: 15 * 60_000,
  });
  try {
    const bundle = path.join(packageRoot(), AGENT_BUNDLE);
    try {
      await access(bundle);
    } catch {
      const script = path.join(packageRoot(), 'scripts', 'bundle-agent.mjs');
      const { bundleAgent } = (await import(script)) as { bundleAgent: () => Promise<unknown> };
      await bundleAgent();
    }
    const status = await workerImageStatus(tag);
    const wanted = agentClis.map(({ cli, version }) => `${AGENT_CLI_PACKAGES[cli]}@${version}`).join(' ');
    if (status.present && status.current && (status.agentClis ?? []).join(' ') === wanted) return;
    const started = Date.now();
    const lines: string[] = [];
    const { id } = await buildWorkerImage({ tag, agentClis, onProgress: (line) => lines.push(line) });
    const size = (await workerImageStatus(tag)).sizeBytes ?? 0;
    process.stderr.write(
      `# built ${tag} ${id.slice(7, 19)} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${Math.round(size / 1e6)} MB\n`,
    );
  } finally {
    await release();
  }
}

/** A worker config for tests: small limits so a runaway test stays cheap. */
export function testWorkerConfig(overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    ...defaultConfig().worker,
    image: TEST_IMAGE,
    cpus: 1,
    memoryMb: 512,
    pids: 256,
    network: 'bridge',
    ...overrides,
  };
}

/** A unique session name per test file, so `after` can remove exactly its containers. */
export function testSession(name: string): string {
  return `test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

/** Removes the session's containers and volumes (the `after` hook of every Docker test file). */
export async function cleanupSession(session: string): Promise<void> {
  const docker = dockerClient();
  await removeSessionContainers(session, docker);
  const { Volumes } = await docker.listVolumes({ filters: { label: [`orchestra.session=${session}`] } });
  for (const volume of Volumes ?? [])
    await docker
      .getVolume(volume.Name)
      .remove()
      .catch(() => {});
}

/** A real repository with one commit and an attempt worktree on its own branch. */
export interface TestRepo {
  dir: string;
  root: string;
  gitDir: string;
  /** The host's object directory: the attempt repository's alternate, mounted read-only. */
  objectsDir: string;
  worktree: string;
  runDir: string;
  branch: string;
}

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd });
  return stdout.trim();
}

/** Makes a temp dir holding a repository, an attempt worktree (as orchestra lays it out) and a run dir. */
export async function makeRepo(attemptId = 'task-01-a1'): Promise<TestRepo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  const root = path.join(dir, 'repo');
  await mkdir(root);
  await git(root, 'init', '-q', '-b', 'main');
  await git(root, 'config', 'user.name', 'Test');
  await git(root, 'config', 'user.email', 'test@example.invalid');
  await writeFile(path.join(root, 'README.md'), 'host-only readme\n');
  await git(root, 'add', '.');
  await git(root, 'commit', '-qm', 'initial');
  const branch = `orchestra/task-01/a1`;
  const worktree = path.join(root, '.orchestra', 'worktrees', attemptId);
  // The attempt's own repository, as the attempt runner makes it (git/attempt-repo.ts).
  await seedAttemptRepo({
    root,
    dir: worktree,
    branch,
    base: await git(root, 'rev-parse', 'HEAD'),
    checkout: true,
  });
  const runDir = path.join(root, '.orchestra', 'runs', attemptId);
  await mkdir(runDir, { recursive: true });
  // As the attempt runner does: an unprivileged worker (orchestra as root) must own its files.
  await handOver([worktree, runDir], workerUser(undefined, hostIds()));
  return {
    dir,
    root,
    gitDir: path.join(root, '.git'),
    objectsDir: path.join(root, '.git', 'objects'),
    worktree,
    runDir,
    branch,
  };
}

export async function removeRepo(repo: TestRepo | undefined): Promise<void> {
  if (repo) await rm(repo.dir, { recursive: true, force: true });
}

/** Everything a pane process printed, with waiting for a pattern. */
export class Output {
  text = '';
  private waiters: (() => void)[] = [];

  constructor(process: PaneProcess) {
    process.onData((data) => {
      this.text += data;
      for (const w of this.waiters) w();
    });
  }

  /**
   * Resolves when the output matches `pattern`.
   *
   * @throws Error naming the pattern and showing the output so far after `timeoutMs`
   */
  waitFor(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const matches = () =>
      typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text);
    if (matches()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!matches()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(
          new Error(`timed out waiting for ${String(pattern)}; output so far: ${JSON.stringify(this.text)}`),
        );
      }, timeoutMs);
      this.waiters.push(check);
    });
  }
}

/** The exit of a pane process, or a rejection after `timeoutMs`. */
export function exitOf(process: PaneProcess, timeoutMs = 15_000): Promise<PaneExit> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs);
    process.onExit((exit) => {
      clearTimeout(timer);
      resolve(exit);
    });
  });
}
