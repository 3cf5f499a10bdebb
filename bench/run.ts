/**
 * `npm run bench`: orchestra side by side with tmux, measured in the same run on the same machine.
 *
 *   npm run bench                          all scenarios
 *   npm run bench -- --only echo,attach    some of them (throughput, echo, commands, attach, memory, docker,
 *                                          cache)
 *   npm run bench -- --rounds 2            fewer alternating rounds (default 5) while iterating
 *   npm run bench -- --no-tui              skip the real-TUI rows (throughput and echo)
 *   npm run bench -- --profile             V8 CPU profiles of the orchestra processes, in bench/out/profiles/<session>/
 *                                          (summarise: node --import tsx bench/profile-summary.ts <files>)
 *   npm run bench -- --deadline 120        stop (and clean up) after this many seconds (default 900)
 *
 * Every scenario measures orchestra and tmux in alternating rounds (orchestra, tmux, orchestra, ...;
 * docker excepted: it compares local and docker panes). Prints one table per scenario, then a
 * summary of issue 12's measures — orchestra median, tmux median, ratio, target, met / NOT MET — and
 * writes the same figures to bench/out/results.json. Everything it starts lives
 * in one temp directory and carries a run marker in its environment; it is all ended and removed at
 * the end, on failure, on Ctrl-C, and when the whole run exceeds its deadline.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { distProblem } from '../scripts/dist-freshness.js';
import { Cleanup, killMarkedProcesses, RUN_MARKER_VAR } from './lib/cleanup.js';
import type { BenchContext } from './lib/context.js';
import { type BenchResults, dockerFailed, formatReport } from './lib/report.js';
import { runAttach } from './scenarios/attach.js';
import { runCommands } from './scenarios/commands.js';
import { runDocker } from './scenarios/docker.js';
import { runEchoLatency } from './scenarios/echo-latency.js';
import { runMemory } from './scenarios/memory.js';
import { runPackageCache } from './scenarios/package-cache.js';
import { runThroughput } from './scenarios/throughput.js';

/**
 * The whole benchmark must end within 15 minutes on 2 cores (5 rounds of everything take about
 * 5 minutes on an idle machine, longer on a busy one); past this it stops and cleans up, s.
 */
const DEFAULT_DEADLINE_SECONDS = 900;

/** Alternating rounds per scenario unless `--rounds` says otherwise. */
const DEFAULT_ROUNDS = 5;

const SCENARIOS = ['throughput', 'echo', 'commands', 'attach', 'memory', 'docker', 'cache'] as const;
type Scenario = (typeof SCENARIOS)[number];

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(repoRoot, 'bench', 'out');

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function tmuxVersion(): string {
  try {
    return execFileSync('tmux', ['-V'], { encoding: 'utf8' }).trim();
  } catch {
    return 'tmux not found';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      rounds: { type: 'string', default: String(DEFAULT_ROUNDS) },
      /** The earlier name of --rounds. */
      runs: { type: 'string' },
      'no-tui': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      deadline: { type: 'string', default: String(DEFAULT_DEADLINE_SECONDS) },
    },
  });
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...SCENARIOS];
  const unknown = only.filter((s) => !SCENARIOS.includes(s as Scenario));
  if (unknown.length > 0) {
    log(`unknown scenario(s): ${unknown.join(', ')} (known: ${SCENARIOS.join(', ')})`);
    return 2;
  }
  const rounds = Math.max(1, Number.parseInt(values.runs ?? values.rounds, 10) || DEFAULT_ROUNDS);
  const tui = !values['no-tui'];
  const deadlineMs = (Number.parseFloat(values.deadline) || DEFAULT_DEADLINE_SECONDS) * 1000;
  const buildWarning = distProblem(repoRoot, 'the servers and `orchestra attach`');
  if (buildWarning) log(`warning: ${buildWarning}`);

  const startedAt = Date.now();
  const runId = `${process.pid.toString(36)}${startedAt.toString(36).slice(-4)}`;
  const dir = await mkdtemp(join(tmpdir(), 'orchestra-bench-'));
  const cleanup = new Cleanup(log);
  // Registered first, so it runs last: after every server and client has been stopped.
  cleanup.add('temp dir', () => rm(dir, { recursive: true, force: true }));
  cleanup.add('leftover processes', () => {
    const killed = killMarkedProcesses(runId);
    if (killed > 0) log(`cleanup: killed ${killed} leftover process(es) of this run`);
  });

  const finishAndExit = (code: number, why: string) => {
    log(why);
    void cleanup
      .runAll()
      // A tmux command in flight may still have started a server after the sweep: sweep again.
      .then(() => new Promise((resolve) => setTimeout(resolve, 300)))
      .then(() => killMarkedProcesses(runId))
      .finally(() => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => finishAndExit(130, `${signal}: stopping and cleaning up`);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  const watchdog = setTimeout(
    () => finishAndExit(1, `the benchmark exceeded ${deadlineMs / 1000} s: stopping and cleaning up`),
    deadlineMs,
  );

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ORCHESTRA_TMPDIR: dir,
    TMUX_TMPDIR: dir,
    [RUN_MARKER_VAR]: runId,
    LANG: process.env.LANG || 'C.UTF-8',
  };
  for (const name of ['TMUX', 'TMUX_PANE', 'ORCHESTRA_SESSION', 'ORCHESTRA_CLIENT']) delete env[name];
  const profileDir = join(outDir, 'profiles');
  if (values.profile) mkdirSync(profileDir, { recursive: true });
  let counter = 0;
  const ctx: BenchContext = {
    runId,
    dir,
    env,
    cleanup,
    nodeFlags: (label) => (values.profile ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, label)] : []),
    log,
    name: (prefix) => `b${runId}-${prefix}${counter++}`,
  };

  const results: BenchResults = {
    date: new Date(startedAt).toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      tmux: tmuxVersion(),
      loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
    },
    rounds,
    ...(buildWarning ? { warning: buildWarning } : {}),
    durationSeconds: 0,
  };

  const scenario = async <T>(name: Scenario, run: () => Promise<T>): Promise<T | { error: string }> => {
    const t0 = Date.now();
    log(`== ${name}`);
    try {
      const result = await run();
      log(`== ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`== ${name} FAILED: ${message}`);
      return { error: message };
    }
  };

  try {
    if (only.includes('throughput'))
      results.throughput = await scenario('throughput', () => runThroughput(ctx, { rounds, tui }));
    if (only.includes('echo'))
      results.echo = await scenario('echo', () => runEchoLatency(ctx, { rounds, tui }));
    if (only.includes('commands'))
      results.commands = await scenario('commands', () => runCommands(ctx, { rounds }));
    if (only.includes('attach')) results.attach = await scenario('attach', () => runAttach(ctx, { rounds }));
    if (only.includes('memory')) results.memory = await scenario('memory', () => runMemory(ctx, { rounds }));
    if (only.includes('docker')) results.docker = await scenario('docker', () => runDocker(ctx));
    if (only.includes('cache'))
      results.packageCache = await scenario('cache', () =>
        runPackageCache(ctx, { rounds: Math.min(rounds, 3) }),
      );
  } finally {
    clearTimeout(watchdog);
    await cleanup.runAll();
  }
  results.durationSeconds = Math.round((Date.now() - startedAt) / 100) / 10;
  results.machine.loadAverageAtEnd = loadavg().map((v) => Math.round(v * 100) / 100);

  process.stdout.write(`${formatReport(results)}\n`);
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'results.json');
  await writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  log(`figures written to ${jsonPath}`);
  // Missed targets are results; a scenario or system that could not be measured is a failure.
  const failed =
    [results.throughput, results.echo, results.commands, results.attach, results.memory].some(
      (part) => part !== undefined && (!Array.isArray(part) || part.some((row) => row.error !== undefined)),
    ) ||
    dockerFailed(results.docker) ||
    results.packageCache?.error !== undefined;
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
