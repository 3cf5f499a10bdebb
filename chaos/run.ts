/**
 * `npm run chaos`: runs orchestra's queue on a real repository again and again, injecting faults
 * at random (seeded) points, and checks after each run that nothing was lost, done twice or
 * archived with the wrong outcome.
 *
 *   npm run chaos                            20 runs, seeds 1..20
 *   npm run chaos -- --runs 50 --seed 100    50 runs, seeds 100..149
 *   npm run chaos -- --seed 17 --runs 1      replay one run
 *   npm run chaos -- --faults sigkill,disk-full     only these fault kinds
 *   npm run chaos -- --sabotage all --runs 12       break each invariant on purpose, one a run (self-test)
 *   npm run chaos -- --keep                  keep the directories of runs with broken invariants (--keep-all: every run)
 *   npm run chaos -- --docker                agents in Docker workers (default: sandbox local)
 *   npm run chaos -- --max-parallel 3        maxParallel (default 2, with best-of-3)
 *
 * One run: a tmpfs-backed repository with a real check (`node test.js`), 2–4 queued tasks (one
 * best-of-3, a dependsOn chain), maxParallel 2, the project's scripted model server in this
 * process (behind a small proxy for malformed answers), and `orchestra server` processes it
 * kills and starts again. Prints one line per run and a summary; exits 1 when any invariant broke.
 * The CLI and servers run the built dist/ (`npm run build` first).
 */

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { distProblem } from '../scripts/dist-freshness.js';
import { FaultRunner, type Injected } from './lib/faults.js';
import {
  type Broken,
  checkInvariants,
  type EndObservations,
  INVARIANT_KINDS,
  type InvariantKind,
  taskStates,
} from './lib/invariants.js';
import { Monitor } from './lib/monitor.js';
import { describeFault, FAULT_KINDS, type FaultKind, makePlan, STALL_SUPPORTED } from './lib/plan.js';
import type { ProcInfo } from './lib/procs.js';
import { Rng } from './lib/rng.js';
import { SABOTAGE_KINDS, sabotageAfterEnd, sabotageBeforeEnd, sabotageDuringRun } from './lib/sabotage.js';
import { dockerContainers, sleep, World } from './lib/world.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  runs: number;
  seed: number;
  docker: boolean;
  keep: boolean;
  keepAll: boolean;
  verbose: boolean;
  kinds: FaultKind[] | undefined;
  timeBoundMs: number;
  watchdogMs: number;
  sabotage: Set<InvariantKind>;
  /** `--sabotage all`: run i breaks invariant kind i (mod the kinds), one kind a run. */
  sabotageCycle: boolean;
  maxParallel: number;
}

interface RunReport {
  seed: number;
  planned: string[];
  injected: Injected[];
  durationMs: number;
  broken: Broken[];
  /** `task-01 done(a2) merged`, one per task. */
  outcomes: string[];
  /** Done tasks autoMerge did not land on main (not an invariant: reported for information). */
  unmerged: string[];
  keptAt?: string;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parse(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      docker: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'keep-all': { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      faults: { type: 'string' },
      'time-bound': { type: 'string', default: '180' },
      watchdog: { type: 'string', default: '25' },
      sabotage: { type: 'string' },
      'max-parallel': { type: 'string', default: '2' },
    },
  });
  const kinds = values.faults?.split(',').map((k) => k.trim()) as FaultKind[] | undefined;
  for (const k of kinds ?? []) {
    if (!FAULT_KINDS.includes(k))
      throw new Error(`unknown fault kind "${k}"; kinds: ${FAULT_KINDS.join(', ')}`);
  }
  const sabotageCycle = values.sabotage === 'all';
  const sabotage = new Set<InvariantKind>(
    sabotageCycle ? [] : ((values.sabotage?.split(',').map((k) => k.trim()) ?? []) as InvariantKind[]),
  );
  for (const k of sabotage) {
    if (!SABOTAGE_KINDS.includes(k))
      throw new Error(`cannot sabotage "${k}"; kinds: ${SABOTAGE_KINDS.join(', ')}`);
  }
  return {
    runs: Number(values.runs),
    seed: Number(values.seed),
    docker: values.docker ?? false,
    keep: values.keep ?? false,
    keepAll: values['keep-all'] ?? false,
    verbose: values.verbose ?? false,
    kinds,
    timeBoundMs: Number(values['time-bound']) * 1000,
    watchdogMs: Number(values.watchdog) * 1000,
    sabotage,
    sabotageCycle,
    maxParallel: Number(values['max-parallel']),
  };
}

/** Polls `probe` until it returns an empty list or `ms` pass; returns its last answer. */
async function settle(probe: () => ProcInfo[], ms: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + ms;
  let last = probe();
  while (last.length > 0 && Date.now() < deadline) {
    await sleep(250);
    last = probe();
  }
  return last;
}

async function waitForQueue(
  world: World,
  faults: FaultRunner,
  timeBoundMs: number,
  watchdogMs: number,
): Promise<{ outcome: 'finished' | 'stuck'; detail?: string }> {
  let signature = '';
  let changedAt = Date.now();
  let archivedAt: number | undefined;
  for (;;) {
    const state = world.state();
    const allArchived = world.plan.tasks.every((t) =>
      ['archived', 'dropped'].includes(state?.tasks[t.id]?.state ?? ''),
    );
    const queued = world.queueFiles('tasks').length;
    if (allArchived) {
      archivedAt ??= Date.now();
      // A queued file the store calls archived is the archive invariant's to report.
      if (queued === 0 || Date.now() - archivedAt > 3000) return { outcome: 'finished' };
    } else archivedAt = undefined;
    const now = Date.now();
    const next = world.progressSignature();
    if (next !== signature || world.down || faults.holding) {
      signature = next;
      changedAt = now;
    }
    if (world.elapsed > timeBoundMs) {
      return {
        outcome: 'stuck',
        detail: `not finished within ${timeBoundMs / 1000}s: ${taskStates(state, world.plan.tasks)}`,
      };
    }
    if (now - changedAt > watchdogMs) {
      return {
        outcome: 'stuck',
        detail: `no progress for ${watchdogMs / 1000}s at +${(world.elapsed / 1000).toFixed(0)}s: ${taskStates(state, world.plan.tasks)}`,
      };
    }
    await sleep(250);
  }
}

/** Lets auto-merges that started at the archive finish (a merge gate is a folder under worktrees/). */
async function waitForMerges(world: World): Promise<void> {
  const started = Date.now();
  let quiet = 0;
  while (Date.now() - started < 15_000) {
    const state = world.state();
    const done = world.plan.tasks.filter((t) => state?.tasks[t.id]?.archivedAs?.startsWith('done/'));
    if (done.every((t) => state?.tasks[t.id]?.mergedCommit)) return;
    let gates = 0;
    try {
      gates = readdirSync(world.paths.worktrees).filter((d) => d.startsWith('merge-')).length;
    } catch {}
    quiet = gates === 0 ? quiet + 1 : 0;
    if (quiet >= 4 && Date.now() - started > 1500) return;
    await sleep(300);
  }
}

async function runOne(seed: number, opts: Options): Promise<RunReport> {
  const rng = new Rng(seed);
  const plan = makePlan(seed, rng, opts.kinds ? { kinds: opts.kinds } : {});
  const quiet = (line: string) => {
    if (opts.verbose) log(line);
  };
  const world = await World.create(plan, {
    docker: opts.docker,
    tmpfs: true,
    maxParallel: opts.maxParallel,
    log: quiet,
  });
  const faults = new FaultRunner(world, rng.fork(3));
  const monitor = new Monitor(world);
  const report: RunReport = {
    seed,
    planned: plan.faults.map(describeFault),
    injected: [],
    durationMs: 0,
    broken: [],
    outcomes: [],
    unmerged: [],
  };
  quiet(
    `seed ${seed}: ${plan.tasks.map((t) => `${t.id} ${t.strategy}${t.dependsOn ? `→${t.dependsOn}` : ''}`).join(', ')}; repo ${world.root}`,
  );
  try {
    world.startServer();
    await world.waitReady();
    faults.start();
    monitor.start();
    await sabotageDuringRun(world, opts.sabotage);
    const timeBound = opts.sabotage.has('stuck') ? 3000 : opts.timeBoundMs;
    const queue = await waitForQueue(world, faults, timeBound, opts.watchdogMs);
    await faults.stop();
    await monitor.stop();
    if (!world.current) {
      world.startServer();
      await world.waitReady();
    }
    const end: EndObservations = {
      outcome: queue.outcome,
      ...(queue.detail ? { stuckDetail: queue.detail } : {}),
      agentsAfterQueue: [],
      afterKillServer: [],
      containersAfterQueue: [],
      observations: faults.observations,
      orphans: monitor.orphans,
    };
    const undo = sabotageBeforeEnd(world, opts.sabotage);
    if (queue.outcome === 'finished') {
      await waitForMerges(world);
      // Finished attempts were told to finish: no agent may still run.
      end.agentsAfterQueue = await settle(() => world.agents(), 10_000);
      if (opts.docker) end.containersAfterQueue = dockerContainers(world.session);
    }
    const probe = await world.cli(['list-panes', '-t', world.session, '--json'], 15_000);
    if (probe.code !== 0) {
      end.finalProbe = `the server did not answer list-panes at the end (${probe.timedOut ? 'timed out after 15 s' : probe.stderr.trim().split('\n')[0]})`;
    }
    undo();
    const server = world.current;
    if (server) server.expected = true;
    await world.cli(['kill-server', '-t', world.session], 15_000);
    if (server && server.exit === undefined) {
      await Promise.race([server.exited, sleep(15_000)]);
      if (server.exit === undefined) {
        end.killServerHung = `server pid ${server.pid} still running 15 s after kill-server`;
        await world.signalServer('SIGKILL');
      }
    }
    end.afterKillServer = await settle(() => world.marked(), 8000);
    sabotageAfterEnd(world, opts.sabotage);
    report.injected = [...faults.injected, ...faults.modelFaultsServed()].sort((a, b) => a.id - b.id);
    report.broken = checkInvariants(world, faults, end);
    const state = world.state();
    report.unmerged = plan.tasks
      .filter((t) => state?.tasks[t.id]?.archivedAs?.startsWith('done/') && !state.tasks[t.id]?.mergedCommit)
      .map((t) => t.id);
    report.outcomes = plan.tasks.map((t) => {
      const r = state?.tasks[t.id];
      const where = r?.archivedAs?.split('/')[0];
      const winner = r?.resultBranch?.split('/').pop();
      return `${t.id} ${where ?? r?.state ?? '?'}${winner ? `(${winner})` : ''}${r?.mergedCommit ? '+merged' : ''}`;
    });
    if (opts.verbose && report.broken.length) log(world.readLogs());
  } catch (error) {
    report.broken.push({
      kind: 'harness',
      detail: `the run itself failed: ${(error as Error).stack ?? error}`,
    });
  } finally {
    report.durationMs = world.elapsed;
    const keep = opts.keepAll || (opts.keep && report.broken.length > 0);
    await world.dispose(keep);
    if (keep) report.keptAt = world.base;
  }
  return report;
}

function formatRun(r: RunReport): string[] {
  const kinds = [...new Set(r.broken.map((b) => b.kind))];
  const faults = r.injected.map((f) => f.kind).join(', ') || 'none';
  const lines = [
    `seed ${String(r.seed).padEnd(5)} ${(r.durationMs / 1000).toFixed(1).padStart(6)}s  faults [${faults}]  ${
      kinds.length ? `BROKEN: ${kinds.join(', ')}` : 'ok'
    }`,
  ];
  if (r.outcomes.length) lines.push(`    tasks: ${r.outcomes.join(', ')}`);
  for (const b of r.broken) lines.push(`    ${b.kind}: ${b.detail.replace(/\s+/g, ' ').slice(0, 400)}`);
  if (r.injected.length)
    lines.push(
      `    injected: ${r.injected.map((f) => `${f.kind}${f.atMs !== undefined ? `@${(f.atMs / 1000).toFixed(1)}s` : ''} (${f.detail})`).join('; ')}`,
    );
  if (r.keptAt) lines.push(`    kept: ${r.keptAt}`);
  return lines;
}

function summary(reports: RunReport[], opts: Options, wallMs: number): string[] {
  const out = [
    '',
    `== chaos summary: ${reports.length} runs in ${(wallMs / 60_000).toFixed(1)} min (seeds ${opts.seed}..${opts.seed + opts.runs - 1}, ${opts.docker ? 'docker' : 'local'}, maxParallel ${opts.maxParallel}) ==`,
  ];
  const faultCounts = new Map<string, number>();
  for (const r of reports)
    for (const f of r.injected) faultCounts.set(f.kind, (faultCounts.get(f.kind) ?? 0) + 1);
  out.push(
    `faults injected: ${
      [...faultCounts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  if (!STALL_SUPPORTED)
    out.push(
      'faults skipped: model-stall (no `stallAfterEvents` in src/model-server/scenario.ts on this branch)',
    );
  const byKind = new Map<InvariantKind, { runs: number[]; count: number }>();
  for (const r of reports) {
    for (const b of r.broken) {
      const entry = byKind.get(b.kind) ?? { runs: [], count: 0 };
      entry.count++;
      if (!entry.runs.includes(r.seed)) entry.runs.push(r.seed);
      byKind.set(b.kind, entry);
    }
  }
  const unmerged = reports.filter((r) => r.unmerged.length > 0);
  if (unmerged.length) {
    const count = unmerged.reduce((n, r) => n + r.unmerged.length, 0);
    const seeds = unmerged.slice(0, 6).map((r) => r.seed);
    out.push(
      `not an invariant: ${count} done task(s) never merged by autoMerge, e.g. seeds ${seeds.join(', ')}`,
    );
  }
  const brokenRuns = reports.filter((r) => r.broken.length > 0).length;
  out.push(`runs with broken invariants: ${brokenRuns} of ${reports.length}`);
  for (const kind of INVARIANT_KINDS) {
    const e = byKind.get(kind);
    if (!e) continue;
    out.push(
      `  ${kind.padEnd(27)} ${String(e.count).padStart(3)} in ${e.runs.length} run(s), e.g. seeds ${e.runs.slice(0, 6).join(', ')}`,
    );
  }
  return out;
}

async function main(): Promise<number> {
  const opts = parse();
  const stale = distProblem(repoRoot, 'the servers and the CLI');
  if (stale) {
    log(`chaos: ${stale}`);
    if (stale.includes('missing')) return 2;
  }
  if (process.getuid?.() !== 0) log('chaos: not root, so no tmpfs: disk-full faults are skipped');
  const reports: RunReport[] = [];
  const started = Date.now();
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    log('chaos: interrupted; finishing the current run');
  });
  for (let i = 0; i < opts.runs && !interrupted; i++) {
    const sabotage = opts.sabotageCycle
      ? new Set([SABOTAGE_KINDS[i % SABOTAGE_KINDS.length]!])
      : opts.sabotage;
    if (sabotage.size) log(`(sabotage: ${[...sabotage].join(', ')})`);
    const report = await runOne(opts.seed + i, { ...opts, sabotage });
    reports.push(report);
    for (const line of formatRun(report)) log(line);
  }
  for (const line of summary(reports, opts, Date.now() - started)) log(line);
  return reports.some((r) => r.broken.length > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
