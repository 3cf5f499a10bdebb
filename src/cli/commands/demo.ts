import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { applyEdits, modify } from 'jsonc-parser';
import { ORCHESTRA_BIN } from '../../agents/adapters/orchestra.js';
import { OrchestraError } from '../../common/errors.js';
import { createSampleRepo, SAMPLE_TASKS } from '../../demo/sample-repo.js';
import { DEMO_AUTONOMY_GOAL, demoAutonomyScenarioFile, demoScenarioFile } from '../../demo/scenarios.js';
import { addTask, listTasks } from '../../tasks/queue.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { formatTable } from '../output.js';
import { runInit } from './init.js';

/** The demo's model API key: not a secret, the scripted server accepts anything. */
export const DEMO_API_KEY = 'orchestra-demo-scripted-model';

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Waits until the scripted model server answers its health check. */
async function waitForHealth(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new OrchestraError('SPAWN_FAILED', `the scripted model server at ${url} did not start`, {
    hint: 'see .orchestra/logs/model-server.log in the demo repository',
  });
}

/**
 * The autonomous mode of `orchestra demo --autonomy`: a cycle starts after 6 s without a keystroke,
 * rests 30 s, and the daily task cap (the two tasks of the first cycle) refuses the second.
 */
export const DEMO_AUTONOMY = {
  enabled: true,
  goal: DEMO_AUTONOMY_GOAL,
  idleMinutes: 0.1,
  cooldownMinutes: 0.5,
  maxTasksPerCycle: 3,
  maxTasksPerDay: 2,
  budgetUsdPerDay: 5,
} as const;

/**
 * Sets up the demo repository and starts its scripted model server (detached, so agents keep
 * working after you detach). Returns the environment the session must run with.
 *
 * @param autonomy no queued tasks; the autonomous mode ({@link DEMO_AUTONOMY}) plans them
 */
export async function setUpDemo(
  target: string,
  env: CommandEnv,
  timings?: { delayMs: number; chunkDelayMs: number },
  autonomy = false,
): Promise<{ env: NodeJS.ProcessEnv; modelPid: number; modelUrl: string }> {
  await createSampleRepo(target);
  await runInit({ ...env, cwd: target });
  const { paths } = await repoContext(target);
  let text = await readFile(paths.config, 'utf8');
  // The sample's own test suite is the check every attempt must pass; 3 at once shows best-of-3.
  text = applyEdits(text, modify(text, ['check'], ['npm test'], {}));
  text = applyEdits(text, modify(text, ['maxParallel'], autonomy ? 2 : 3, {}));
  if (autonomy) text = applyEdits(text, modify(text, ['autonomy'], DEMO_AUTONOMY, {}));
  await writeFile(paths.config, text);
  if (!autonomy) for (const task of SAMPLE_TASKS) await addTask(paths, { text: task });
  const scenario = join(paths.dir, 'demo-scenario.json');
  const scenarios = autonomy ? demoAutonomyScenarioFile(timings) : demoScenarioFile(timings);
  await writeFile(scenario, JSON.stringify(scenarios, null, 1));
  const port = await freePort();
  const log = openSync(join(paths.logs, 'model-server.log'), 'a');
  const child = spawn(
    process.execPath,
    [ORCHESTRA_BIN, 'model-server', '--scenario', scenario, '--port', String(port)],
    {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: target,
    },
  );
  closeSync(log);
  child.unref();
  const modelUrl = `http://127.0.0.1:${port}`;
  await waitForHealth(modelUrl);
  await writeFile(join(paths.dir, 'demo-model-server.pid'), `${child.pid}\n`);
  return {
    env: { ...env.env, ANTHROPIC_BASE_URL: modelUrl, ANTHROPIC_API_KEY: DEMO_API_KEY },
    modelPid: child.pid ?? 0,
    modelUrl,
  };
}

/**
 * The demo runs its agents in Docker when the engine answers: builds the worker image first when it
 * is missing or out of date. Any failure (no base image offline, say) only means local panes.
 */
async function ensureDemoImage(env: CommandEnv): Promise<void> {
  const { probeDocker } = await import('../../workers/docker-engine.js');
  if (!(await probeDocker(env.env)).reachable) return;
  const { buildWorkerImage, workerImageStatus } = await import('../../workers/image.js');
  const { defaultConfig } = await import('../../config/schema.js');
  const tag = defaultConfig().worker.image;
  try {
    const status = await workerImageStatus(tag);
    if (status.present && status.current) return;
    env.output.out(`building the worker image ${tag} for Docker workers (once; about a minute)…`);
    await buildWorkerImage({ tag });
  } catch (error) {
    env.output.out(
      `could not build ${tag} (${(error as Error).message.split('\n')[0]}); agents will run as local processes`,
    );
  }
}

/** Registers `orchestra demo`. */
export function registerDemoCommand(program: Command, env: CommandEnv): void {
  program
    .command('demo')
    .description(
      'a sample repository with a test suite and three queued tasks, run by scripted agents in the TUI',
    )
    .argument('[dir]', 'where to create it (default: a new temporary directory)')
    .option('--no-tui', 'set it up and start nothing but the scripted model server')
    .option(
      '--autonomy',
      'queue nothing: the autonomous mode plans the tasks toward a goal, runs them, rests',
    )
    .action(async (dir: string | undefined, opts: { tui: boolean; autonomy?: boolean }) => {
      const target = dir ? resolve(env.cwd, dir) : await mkdtemp(join(tmpdir(), 'orchestra-demo-'));
      const existing = await readdir(target).catch(() => []);
      if (existing.length > 0) {
        throw new OrchestraError('USAGE', `${target} is not empty`, {
          hint: 'give a new or empty directory',
        });
      }
      await ensureDemoImage(env);
      const demo = await setUpDemo(target, env, undefined, opts.autonomy === true);
      const { paths } = await repoContext(target);
      env.output.out(`demo repository: ${target}`);
      env.output.out(`scripted model (not a real one) at ${demo.modelUrl}, pid ${demo.modelPid}`);
      if (opts.autonomy) {
        env.output.out(`autonomous mode, goal: ${DEMO_AUTONOMY_GOAL}`);
        env.output.out(
          `a cycle starts after ${DEMO_AUTONOMY.idleMinutes * 60} s without a keystroke; the status bar shows its phase (auto: …)`,
        );
      } else {
        const rows = [['ID', 'STRATEGY', 'TITLE']];
        for (const t of await listTasks(paths)) rows.push([t.id, t.strategy ?? '-', t.title ?? '']);
        for (const line of formatTable(rows)) env.output.out(line);
      }
      if (!opts.tui || !process.stdout.isTTY || !process.stdin.isTTY) {
        env.output.out(
          `open it with: cd ${target} && ANTHROPIC_BASE_URL=${demo.modelUrl} ANTHROPIC_API_KEY=${DEMO_API_KEY} orchestra tui`,
        );
        return;
      }
      // The CLI is handed in (as to the TUI's `:` prompt): importing main.ts here would be a cycle.
      if (!env.run) {
        throw new OrchestraError('INTERNAL', 'the TUI cannot be started from here', {
          hint: `run: cd ${target} && orchestra tui`,
        });
      }
      const code = await env.run(['tui'], { ...env, cwd: target, env: demo.env });
      env.output.out(
        `the session goes on in the background; stop it with: cd ${target} && orchestra kill-server; kill ${demo.modelPid}`,
      );
      if (code !== 0) process.exitCode = code;
    });
}
