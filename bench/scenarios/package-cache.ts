import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultConfig } from '../../src/config/schema.js';
import { packageCacheVolumeName } from '../../src/workers/container-labels.js';
import { workerUser } from '../../src/workers/container-spec.js';
import { dockerClient, probeDocker } from '../../src/workers/docker-engine.js';
import { hostIds } from '../../src/workers/docker-worker.js';
import { workerImageStatus } from '../../src/workers/image.js';
import { handOver, openShell, type ShellPlace } from '../../src/workers/shells.js';
import type { BenchContext } from '../lib/context.js';
import { median, round } from '../lib/stats.js';

const execFileAsync = promisify(execFile);

/**
 * Issue 13.3: `npm ci` in an attempt's setup container, the first attempt of a session (empty
 * package cache volume) against the second (the volume the first filled). Each round starts from a
 * new volume. The project ({@link PROJECT}) is locked by the host's npm.
 */

/** What is installed: a web server, a compiler and a linter, 175 packages with their trees. */
const PROJECT = {
  name: 'bench-package-cache',
  version: '1.0.0',
  private: true,
  dependencies: { express: '4.21.2', typescript: '5.6.3', eslint: '8.57.1' },
};
/** One `npm ci` may take this long (the registry through a proxy), ms. */
const NPM_CI_TIMEOUT_MS = 5 * 60_000;

/** Seconds of the first and the second attempt's `npm ci`, per round and median. */
export interface PackageCacheResults {
  image: string;
  packages?: number;
  firstSeconds: number[];
  secondSeconds: number[];
  medianFirstSeconds: number | null;
  medianSecondSeconds: number | null;
  skipped?: string;
  error?: string;
}

/** Runs the scenario; an engine or image that is not there is `skipped`, a failing npm an `error`. */
export async function runPackageCache(
  ctx: BenchContext,
  options: { rounds: number },
): Promise<PackageCacheResults> {
  const config = { ...defaultConfig().worker, cpus: 2, memoryMb: 2048 };
  const results: PackageCacheResults = {
    image: config.image,
    firstSeconds: [],
    secondSeconds: [],
    medianFirstSeconds: null,
    medianSecondSeconds: null,
  };
  const probe = await probeDocker(ctx.env);
  if (!probe.reachable) return { ...results, skipped: `no Docker engine: ${probe.reason}` };
  if (!(await workerImageStatus(config.image)).present) {
    return { ...results, skipped: `no ${config.image} image (orchestra image build)` };
  }
  const base = join(ctx.dir, 'package-cache');
  const project = join(base, 'project');
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'package.json'), `${JSON.stringify(PROJECT, null, 2)}\n`);
  // The lock file, as the repository would have it.
  await execFileAsync(
    'npm',
    ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
    {
      cwd: project,
      env: ctx.env,
    },
  );
  const lock = JSON.parse(await readFile(join(project, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, unknown>;
  };
  results.packages = Object.keys(lock.packages ?? {}).filter((k) => k !== '').length;

  const docker = dockerClient(ctx.env);
  const session = ctx.name('cache');
  const volume = packageCacheVolumeName(session, base);
  ctx.cleanup.add(`package cache volume ${volume}`, async () => {
    await docker
      .getVolume(volume)
      .remove()
      .catch(() => {});
  });
  const objectsDir = join(base, 'objects');
  await mkdir(objectsDir, { recursive: true });

  const npmCi = async (attemptId: string): Promise<number> => {
    const worktree = join(base, attemptId);
    const runDir = join(base, `${attemptId}-run`);
    await cp(project, worktree, { recursive: true });
    await mkdir(runDir, { recursive: true });
    const user = workerUser(undefined, hostIds());
    // As the attempt runner does: an unprivileged worker (orchestra as root) must own its files.
    await handOver([worktree, runDir], user);
    const place: ShellPlace = {
      sandbox: 'docker',
      session,
      repo: base,
      taskId: attemptId.replace(/-a\d+$/, ''),
      attemptId,
      worktree,
      runDir,
      objectsDir,
      config,
      user,
      env: ctx.env,
    };
    const shell = await openShell(place, 'setup');
    try {
      let output = '';
      const started = process.hrtime.bigint();
      const result = await shell.run('npm ci --no-audit --no-fund --ignore-scripts', {
        timeoutMs: NPM_CI_TIMEOUT_MS,
        onOutput: (chunk) => {
          output += chunk;
        },
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (result.exitCode !== 0) {
        const hint = /SELF_SIGNED|UNABLE_TO_GET_ISSUER|certificate/.test(output)
          ? ' (behind a TLS-inspecting proxy: set NODE_EXTRA_CA_CERTS to its CA file)'
          : '';
        throw new Error(
          `npm ci exited ${result.exitCode}${hint}: ${output.trim().split('\n').slice(-12).join(' / ')}`,
        );
      }
      return seconds;
    } finally {
      await shell.dispose();
    }
  };

  try {
    for (let r = 0; r < options.rounds; r++) {
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => {});
      const first = await npmCi(`task-${r * 2 + 1}-a1`);
      const second = await npmCi(`task-${r * 2 + 2}-a1`);
      results.firstSeconds.push(round(first, 2) ?? first);
      results.secondSeconds.push(round(second, 2) ?? second);
      ctx.log(`  round ${r + 1}: first ${first.toFixed(2)} s, second ${second.toFixed(2)} s`);
    }
  } catch (error) {
    results.error = error instanceof Error ? error.message : String(error);
  }
  results.medianFirstSeconds = round(median(results.firstSeconds), 2);
  results.medianSecondSeconds = round(median(results.secondSeconds), 2);
  return results;
}
