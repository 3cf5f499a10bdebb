import { join } from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { MarkerScanner, PRINT_DONE_MARKER } from '../lib/marker.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { OrchestraServer } from '../lib/orchestra-server.js';
import { cpuSeconds } from '../lib/process-control.js';
import { PtyClient } from '../lib/pty-client.js';
import { median } from '../lib/stats.js';
import { writeMixedText } from '../lib/text-fixture.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep, withTimeout } from '../lib/waiting.js';

/** Client size for every throughput run (the attach scenario's size too). */
const COLS = 200;
const ROWS = 60;

/** Size of the `cat` fixture: 50 MB (decimal, as MB/s is reported). */
export const CAT_BYTES = 50_000_000;

/** Upper bound of `seq`. */
export const SEQ_COUNT = 3_000_000;

/** One run may take this long before it counts as failed, ms. */
const RUN_TIMEOUT_MS = 90_000;

export interface Workload {
  name: string;
  /** Shell script that prints the output, then the done marker. */
  script: string;
  /** Bytes the program prints (before the PTY turns \n into \r\n). */
  bytes: number;
}

export type ThroughputSystem = 'orchestra' | 'orchestra-tui' | 'tmux' | 'raw-pty';

export interface ThroughputRow {
  workload: string;
  system: ThroughputSystem;
  bytes: number;
  /** Seconds per run, from starting the pane to the client seeing the marker. */
  runs: number[];
  medianSeconds: number;
  /** Decimal MB (10^6 bytes) per second at the median. */
  mbPerSecond: number;
  /**
   * CPU seconds (user + system) the multiplexer used per run: server and client process (for the
   * in-process row, the server and this benchmark process, which is the client), not the workload
   * program itself. Absent for the raw PTY.
   */
  cpuRuns?: number[];
  medianCpuSeconds?: number;
  /** orchestra: snapshots beyond the first per run, i.e. times the server dropped output for the client. */
  redraws?: number[];
  error?: string;
}

/** Bytes `seq 1 n` prints. */
function seqBytes(n: number): number {
  let total = 0;
  for (let digits = 1, low = 1; low <= n; digits++, low *= 10) {
    const high = Math.min(n, low * 10 - 1);
    total += (high - low + 1) * (digits + 1);
  }
  return total;
}

/** Builds the fixtures: the 50 MB text file in the run's temp dir. */
export async function throughputWorkloads(ctx: BenchContext): Promise<Workload[]> {
  const file = join(ctx.dir, 'mixed-50MB.txt');
  const bytes = await writeMixedText(file, CAT_BYTES);
  return [
    { name: 'cat 50 MB text', script: `cat '${file}'; ${PRINT_DONE_MARKER}`, bytes },
    {
      name: `seq 1 ${SEQ_COUNT}`,
      script: `seq 1 ${SEQ_COUNT}; ${PRINT_DONE_MARKER}`,
      bytes: seqBytes(SEQ_COUNT),
    },
  ];
}

function row(
  workload: Workload,
  system: ThroughputSystem,
  runs: number[],
  extra: Partial<ThroughputRow> = {},
): ThroughputRow {
  const seconds = median(runs);
  return {
    workload: workload.name,
    system,
    bytes: workload.bytes,
    runs,
    medianSeconds: seconds,
    mbPerSecond: workload.bytes / 1e6 / seconds,
    ...extra,
  };
}

/** The CPU fields of a row, when its runs measured CPU. */
function cpuFigures(runs: RunResult[]): Pick<ThroughputRow, 'cpuRuns' | 'medianCpuSeconds'> {
  const cpu = runs.flatMap((r) => (r.cpuSeconds === undefined ? [] : [r.cpuSeconds]));
  if (cpu.length === 0) return {};
  return { cpuRuns: cpu.map((v) => Math.round(v * 100) / 100), medianCpuSeconds: median(cpu) };
}

/** The pane keeps running after the marker so that its exit cannot race the last output. */
function paneCommand(workload: Workload): string[] {
  return ['sh', '-c', `${workload.script}; exec sleep 100000`];
}

/** One measured run: seconds from starting the pane to the client seeing the marker. */
interface RunResult {
  seconds: number;
  /** orchestra in-process only: discard-and-redraws during the run. */
  redraws?: number;
  /** CPU seconds the server and client used during the run. */
  cpuSeconds?: number;
}

/**
 * Measures the CPU that `pids` (and, with `self`, this process) use from now until the returned
 * function is called; that function returns seconds (user + system).
 */
function cpuMeter(pids: number[], self = false): () => number {
  const before = pids.map(cpuSeconds);
  const selfBefore = process.cpuUsage();
  return () => {
    const own = self
      ? (() => {
          const d = process.cpuUsage(selfBefore);
          return (d.user + d.system) / 1e6;
        })()
      : 0;
    return pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - before[i]!, own);
  };
}

/**
 * A system under test, set up once and then asked for one run at a time, so that the runs of all
 * systems interleave and share whatever else the machine is doing at that moment.
 */
interface Runner {
  system: ThroughputSystem;
  setup(): Promise<void>;
  run(workload: Workload): Promise<RunResult>;
  teardown(): Promise<void>;
}

/** orchestra with one in-process attach client (MirrorPane parser and acks, like the TUI without drawing). */
function orchestraRunner(ctx: BenchContext): Runner {
  let server: OrchestraServer | undefined;
  let client: MirrorClient | undefined;
  let scanner = new MarkerScanner();
  return {
    system: 'orchestra',
    async setup() {
      server = await OrchestraServer.startIn(ctx, 'tp');
      client = await MirrorClient.connect({
        session: server.session,
        env: ctx.env,
        cols: COLS,
        rows: ROWS,
        onOutput: (_pane, data, at) => scanner.push(data, at),
        // After a discard-and-redraw the marker may reach the client inside a snapshot.
        onSnapshot: (_pane, snapshot, at) => scanner.push(snapshot.data, at),
      });
    },
    async run(workload) {
      const s = server!;
      const c = client!;
      scanner = new MarkerScanner();
      const snapshotsBefore = c.snapshots;
      const cpu = cpuMeter([s.pid], true);
      const t0 = performance.now();
      const pane = await s.newPane(paneCommand(workload), 'tp');
      const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `orchestra ${workload.name}`);
      const cpuUsed = cpu();
      const redraws = c.snapshots - snapshotsBefore - 1;
      await s.request({ cmd: 'kill-pane', pane: `%${pane.id}` });
      await withTimeout(
        c.waitFor(() => (c.layout?.panes.length ?? 0) === 0),
        10_000,
        'pane removal',
      );
      return { seconds: (at - t0) / 1000, redraws, cpuSeconds: cpuUsed };
    },
    async teardown() {
      client?.close();
      await server?.stop();
    },
  };
}

/** orchestra with the real full-screen client (`orchestra attach`) on a node-pty, as tmux is measured. */
function orchestraTuiRunner(ctx: BenchContext): Runner {
  let server: OrchestraServer | undefined;
  let client: PtyClient | undefined;
  let scanner = new MarkerScanner();
  return {
    system: 'orchestra-tui',
    async setup() {
      const s = await OrchestraServer.startIn(ctx, 'tpt');
      server = s;
      client = s.attach(COLS, ROWS, 'throughput');
      client.onData((data, at) => scanner.push(data, at));
      await s.waitForClient();
      await sleep(300);
    },
    async run(workload) {
      const s = server!;
      scanner = new MarkerScanner();
      const cpu = cpuMeter([s.pid, client!.pid]);
      const t0 = performance.now();
      const pane = await s.newPane(paneCommand(workload), 'tp');
      const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `orchestra TUI ${workload.name}`);
      const cpuUsed = cpu();
      await s.request({ cmd: 'kill-pane', pane: `%${pane.id}` });
      await pollUntil(
        async () => (await s.request<unknown[]>({ cmd: 'list-panes' })).length === 0,
        10_000,
        'pane removal',
      );
      // Let the client draw the empty window, so the next run's marker cannot be an old frame's.
      await sleep(100);
      return { seconds: (at - t0) / 1000, cpuSeconds: cpuUsed };
    },
    async teardown() {
      await client?.close();
      await server?.stop();
    },
  };
}

/** tmux with one real attached client on a node-pty (tmux renders only for attached clients). */
function tmuxRunner(ctx: BenchContext): Runner {
  const tmux = new TmuxServer({ socket: ctx.name('tp'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  let client: PtyClient | undefined;
  let scanner = new MarkerScanner();
  return {
    system: 'tmux',
    async setup() {
      await tmux.start('tp', COLS, ROWS, ['sleep', '100000']);
      const c = tmux.attach('tp', COLS, ROWS, false);
      client = c;
      c.onData((data, at) => scanner.push(data, at));
      await pollUntil(() => c.received > 0, 10_000, 'tmux client first draw');
      await sleep(300);
    },
    async run(workload) {
      scanner = new MarkerScanner();
      const cpu = cpuMeter([tmux.pid, client!.pid]);
      const t0 = performance.now();
      const window = (
        await tmux.run(['new-window', '-P', '-F', '#{window_id}', '-t', 'tp:', ...paneCommand(workload)])
      ).trim();
      const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `tmux ${workload.name}`);
      const cpuUsed = cpu();
      await tmux.run(['kill-window', '-t', window]);
      await sleep(100);
      return { seconds: (at - t0) / 1000, cpuSeconds: cpuUsed };
    },
    async teardown() {
      await client?.close();
      await tmux.stop();
    },
  };
}

/** The baseline: node-pty runs the script directly and this process drains it. */
function rawRunner(ctx: BenchContext): Runner {
  return {
    system: 'raw-pty',
    async setup() {},
    async run(workload) {
      const scanner = new MarkerScanner();
      const t0 = performance.now();
      const child = new PtyClient({
        file: paneCommand(workload)[0]!,
        args: paneCommand(workload).slice(1),
        cwd: ctx.dir,
        env: ctx.env,
        cols: COLS,
        rows: ROWS,
        cleanup: ctx.cleanup,
        label: 'raw pty',
      });
      child.onData((data, at) => scanner.push(data, at));
      try {
        const at = await withTimeout(scanner.wait(), RUN_TIMEOUT_MS, `raw ${workload.name}`);
        return { seconds: (at - t0) / 1000 };
      } finally {
        await child.close();
      }
    },
    async teardown() {},
  };
}

const LABELS: Record<ThroughputSystem, string> = {
  orchestra: 'orchestra',
  'orchestra-tui': 'orch. TUI',
  tmux: 'tmux',
  'raw-pty': 'raw pty',
};

/**
 * Scenario 1: time for one pane to print each workload while one client is attached; orchestra
 * (in-process client, and the real TUI), tmux (real client) and the raw PTY; wall seconds and the
 * multiplexer's CPU seconds per run. `rounds` runs per system and workload, interleaved across
 * systems (orchestra, orchestra TUI, tmux, raw, orchestra, ...). A system that fails gets rows with `error` set; the others carry on.
 */
export async function runThroughput(
  ctx: BenchContext,
  options: { rounds: number; tui: boolean },
): Promise<ThroughputRow[]> {
  ctx.log('  writing the 50 MB fixture');
  const workloads = await throughputWorkloads(ctx);
  const runners = [orchestraRunner(ctx), orchestraTuiRunner(ctx), tmuxRunner(ctx), rawRunner(ctx)].filter(
    (r) => options.tui || r.system !== 'orchestra-tui',
  );
  const failed = new Map<ThroughputSystem, string>();
  const results = new Map<string, RunResult[]>();
  const fail = (runner: Runner, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  ${runner.system} failed: ${message}`);
    failed.set(runner.system, message);
  };
  try {
    for (const runner of runners) await runner.setup().catch((error) => fail(runner, error));
    for (const workload of workloads) {
      for (let i = 0; i < options.rounds; i++) {
        for (const runner of runners) {
          if (failed.has(runner.system)) continue;
          try {
            const result = await runner.run(workload);
            const key = `${workload.name}\0${runner.system}`;
            results.set(key, [...(results.get(key) ?? []), result]);
            const cpu = result.cpuSeconds === undefined ? '' : `, ${result.cpuSeconds.toFixed(2)} CPU-s`;
            ctx.log(
              `  ${LABELS[runner.system].padEnd(10)} ${workload.name} round ${i + 1}: ${result.seconds.toFixed(2)} s${cpu}`,
            );
          } catch (error) {
            fail(runner, error);
          }
        }
      }
    }
  } finally {
    for (const runner of runners) await runner.teardown().catch((error) => fail(runner, error));
  }
  const rows: ThroughputRow[] = [];
  for (const workload of workloads) {
    for (const runner of runners) {
      const runs = results.get(`${workload.name}\0${runner.system}`) ?? [];
      const error = failed.get(runner.system);
      rows.push(
        row(
          workload,
          runner.system,
          runs.map((r) => r.seconds),
          {
            ...(runner.system === 'orchestra' ? { redraws: runs.map((r) => r.redraws ?? 0) } : {}),
            ...cpuFigures(runs),
            ...(error ? { error } : {}),
          },
        ),
      );
    }
  }
  return rows;
}
