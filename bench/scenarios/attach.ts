import type { BenchContext } from '../lib/context.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { OrchestraServer } from '../lib/orchestra-server.js';
import { rssKiB } from '../lib/process-control.js';
import type { PtyClient } from '../lib/pty-client.js';
import { median, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep, withTimeout } from '../lib/waiting.js';

export const ATTACH_PANES = 16;
export const ATTACH_HISTORY_LINES = 10_000;
const COLS = 200;
const ROWS = 60;

/** One attach must show its complete first frame within this long, ms. */
const ATTACH_TIMEOUT_MS = 20_000;

/** Filling 16 panes with history must be done within this long, ms. */
const FILL_TIMEOUT_MS = 60_000;

/** The last lines of each pane that a complete screen must show (every pane is taller than this). */
const VISIBLE_LINES_CHECKED = 8;

/** Pause after the complete frame before the client's RSS is read, ms. */
const RSS_SETTLE_MS = 500;

export type AttachSystem = 'orchestra attach' | 'orchestra in-process' | 'tmux attach';

export interface AttachRow {
  system: AttachSystem;
  /** What "complete" meant for this row. */
  measure: string;
  runsMs: number[];
  medianMs: number | null;
  /** PTY clients: time from spawn to the client's first output byte, per run and median (ms). */
  firstOutputMs?: number[];
  firstOutputMedianMs?: number | null;
  /** PTY clients: the client process's RSS (VmRSS) 0.5 s after its complete frame, per run and median, MiB. */
  clientRssMiB?: number[];
  clientRssMedianMiB?: number | null;
  error?: string;
}

/** What a complete first frame shows for one pane: its title and its last lines of output. */
interface Expectation {
  title: string;
  lastLines: string[];
}

/** Pane `i`'s name and the command that fills its history, then idles. */
function paneName(i: number): string {
  return `bp${String(i).padStart(2, '0')}`;
}

function fillCommand(name: string): string[] {
  return ['sh', '-c', `seq -f '${name} %g' 1 ${ATTACH_HISTORY_LINES}; exec sleep 100000`];
}

function expectation(title: string, name: string): Expectation {
  const lastLines: string[] = [];
  for (let n = ATTACH_HISTORY_LINES - VISIBLE_LINES_CHECKED + 1; n <= ATTACH_HISTORY_LINES; n++)
    lastLines.push(`${name} ${n}`);
  return { title, lastLines };
}

/** True when `screen` (rows of text) shows every pane's title and last lines. */
function isComplete(screen: string[], expectations: Expectation[]): boolean {
  const text = screen.join('\n');
  return expectations.every(
    (e) => text.includes(e.title) && e.lastLines.every((line) => text.includes(line)),
  );
}

/** Figures of one PTY attach: ms from spawning the client, and its RSS. */
interface AttachTiming {
  /** Arrival of the output after which the screen was complete, ms. */
  completeMs: number;
  /** Arrival of the first output byte (the client is running and has reached its server), ms. */
  firstOutputMs: number;
  /** Client RSS 0.5 s after the complete frame, KiB. */
  rssKiB: number;
}

/** Waits for `client` (just spawned) to show a complete first frame, then reads its RSS. */
async function timeToCompleteFrame(client: PtyClient, expectations: Expectation[]): Promise<AttachTiming> {
  let lastArrival = client.startedAt;
  let firstArrival: number | undefined;
  let checking = false;
  let recheck = false;
  const timing = await withTimeout(
    new Promise<Omit<AttachTiming, 'rssKiB'>>((resolve) => {
      const check = async () => {
        if (checking) {
          recheck = true;
          return;
        }
        checking = true;
        do {
          recheck = false;
          const arrival = lastArrival;
          await client.settled();
          if (isComplete(client.screenText(), expectations)) {
            stop();
            resolve({
              completeMs: arrival - client.startedAt,
              firstOutputMs: (firstArrival ?? arrival) - client.startedAt,
            });
            return;
          }
        } while (recheck);
        checking = false;
      };
      const stop = client.onData((_data, at) => {
        firstArrival ??= at;
        lastArrival = at;
        void check();
      });
    }),
    ATTACH_TIMEOUT_MS,
    'complete first frame',
  );
  await sleep(RSS_SETTLE_MS);
  return { ...timing, rssKiB: rssKiB(client.pid) };
}

function timingFigures(
  runs: AttachTiming[],
): Pick<
  AttachRow,
  'runsMs' | 'medianMs' | 'firstOutputMs' | 'firstOutputMedianMs' | 'clientRssMiB' | 'clientRssMedianMiB'
> {
  return {
    runsMs: runs.map((r) => round(r.completeMs, 1) ?? 0),
    medianMs: round(median(runs.map((r) => r.completeMs)), 1),
    firstOutputMs: runs.map((r) => round(r.firstOutputMs, 1) ?? 0),
    firstOutputMedianMs: round(median(runs.map((r) => r.firstOutputMs)), 1),
    clientRssMiB: runs.map((r) => round(r.rssKiB / 1024, 1) ?? 0),
    clientRssMedianMiB: round(median(runs.map((r) => r.rssKiB / 1024)), 1),
  };
}

/**
 * One side of the comparison: set up once (16 filled panes), then attached to once per round.
 * Each `attach` call is one measured run.
 */
interface AttachSide {
  system: AttachSystem;
  measure: string;
  setup(): Promise<void>;
  /** One measured attach: its figures, with the client gone again afterwards. */
  attach(): Promise<AttachTiming | number>;
  teardown(): Promise<void>;
}

/** orchestra: 16 filled panes; rounds of `orchestra attach` on a PTY and of an in-process client. */
function orchestraSides(ctx: BenchContext): [AttachSide, AttachSide] {
  let server: OrchestraServer | undefined;
  const expectations: Expectation[] = [];
  const noClients = () =>
    pollUntil(
      async () => (await server!.request<unknown[]>({ cmd: 'list-clients' })).length === 0,
      5_000,
      'client to detach',
      20,
    );
  const tui: AttachSide = {
    system: 'orchestra attach',
    measure: 'spawn `orchestra attach` on a 200x60 PTY → screen shows all 16 titles and last 8 lines',
    async setup() {
      const s = await OrchestraServer.startIn(ctx, 'att');
      server = s;
      // A client of the attach size first, so the panes start (and fill) at the size they are shown.
      const sizer = await MirrorClient.connect({ session: s.session, env: ctx.env, cols: COLS, rows: ROWS });
      sizer.close();
      const ids: number[] = [];
      for (let i = 0; i < ATTACH_PANES; i++)
        ids.push((await s.newPane(fillCommand(paneName(i)), paneName(i))).id);
      for (const [i, id] of ids.entries()) {
        const name = paneName(i);
        await pollUntil(
          async () => (await s.capture(id)).includes(`${name} ${ATTACH_HISTORY_LINES}`),
          FILL_TIMEOUT_MS,
          `orchestra pane ${name} to fill`,
          100,
        );
      }
      const panes = await s.request<Array<{ index: number; name: string }>>({ cmd: 'list-panes' });
      for (const p of panes) expectations.push(expectation(`${p.index}: ${p.name}`, p.name));
      await noClients();
    },
    async attach() {
      const s = server!;
      const client = s.attach(COLS, ROWS, 'attach', true);
      try {
        return await timeToCompleteFrame(client, expectations);
      } finally {
        await client.close();
        await noClients();
      }
    },
    async teardown() {
      await server?.stop();
    },
  };
  const inProcess: AttachSide = {
    system: 'orchestra in-process',
    measure: 'connectSession (attach mode) → layout + all 16 snapshots replayed into MirrorPanes',
    async setup() {},
    async attach() {
      const t0 = performance.now();
      const client = await MirrorClient.connect({
        session: server!.session,
        env: ctx.env,
        cols: COLS,
        rows: ROWS,
      });
      try {
        await withTimeout(
          client.waitFor(() => client.complete && (client.layout?.panes.length ?? 0) === ATTACH_PANES),
          ATTACH_TIMEOUT_MS,
          'in-process attach',
        );
        return performance.now() - t0;
      } finally {
        client.close();
        await noClients();
      }
    },
    async teardown() {},
  };
  return [tui, inProcess];
}

/** tmux: the same 16 panes (titles in the pane borders, as orchestra shows them), `tmux attach` once per round. */
function tmuxSide(ctx: BenchContext): AttachSide {
  const tmux = new TmuxServer({ socket: ctx.name('att'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  const expectations: Expectation[] = [];
  return {
    system: 'tmux attach',
    measure: 'spawn `tmux attach` on a 200x60 PTY → screen shows all 16 border titles and last 8 lines',
    async setup() {
      await tmux.start('att', COLS, ROWS, fillCommand(paneName(0)), [
        ['pane-border-status', 'top'],
        ['pane-border-format', '#{pane_index}: #{pane_title}'],
      ]);
      const first = (await tmux.run(['display-message', '-p', '-t', 'att:', '#{pane_id}'])).trim();
      await tmux.run(['select-pane', '-t', first, '-T', paneName(0)]);
      for (let i = 1; i < ATTACH_PANES; i++) {
        const id = (
          await tmux.run([
            'split-window',
            '-P',
            '-F',
            '#{pane_id}',
            '-t',
            'att:',
            ...fillCommand(paneName(i)),
          ])
        ).trim();
        await tmux.run([
          'select-pane',
          '-t',
          id,
          '-T',
          paneName(i),
          ';',
          'select-layout',
          '-t',
          'att:',
          'tiled',
        ]);
      }
      const listing = await tmux.run([
        'list-panes',
        '-t',
        'att:',
        '-F',
        '#{pane_index} #{pane_id} #{pane_title}',
      ]);
      const panes = listing
        .trim()
        .split('\n')
        .map((line) => {
          const [index, id, title] = line.split(' ');
          return { index: index!, id: id!, title: title! };
        });
      if (panes.length !== ATTACH_PANES)
        throw new Error(`tmux has ${panes.length} panes, expected ${ATTACH_PANES}`);
      for (const p of panes) {
        await pollUntil(
          async () => (await tmux.capture(p.id)).includes(`${p.title} ${ATTACH_HISTORY_LINES}`),
          FILL_TIMEOUT_MS,
          `tmux pane ${p.title} to fill`,
          100,
        );
        expectations.push(expectation(`${p.index}: ${p.title}`, p.title));
      }
    },
    async attach() {
      const client = tmux.attach('att', COLS, ROWS, true);
      try {
        return await timeToCompleteFrame(client, expectations);
      } finally {
        await client.close();
        await pollUntil(
          async () => (await tmux.run(['list-clients'])).trim() === '',
          5_000,
          'tmux client to detach',
          20,
        );
      }
    },
    async teardown() {
      await tmux.stop();
    },
  };
}

/**
 * Scenario 3: attach to 16 panes with 10,000 lines of history each: ms from spawning the client
 * process to the moment its PTY shows the complete screen (every pane's title and last 8 lines),
 * and the client's RSS then (MiB). Both sessions are set up first; then `rounds` times: `orchestra
 * attach`, `tmux attach`, the in-process orchestra client.
 */
export async function runAttach(ctx: BenchContext, options: { rounds: number }): Promise<AttachRow[]> {
  const [tui, inProcess] = orchestraSides(ctx);
  const sides = [tui, tmuxSide(ctx), inProcess];
  const failed = new Map<AttachSystem, string>();
  const fail = (side: AttachSide, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  ${side.system} failed: ${message}`);
    failed.set(side.system, message);
    // The in-process client needs the orchestra server that `tui` set up.
    if (side === tui && !failed.has(inProcess.system)) failed.set(inProcess.system, message);
  };
  const runs = new Map<AttachSystem, Array<AttachTiming | number>>(sides.map((s) => [s.system, []]));
  try {
    for (const side of sides) await side.setup().catch((error) => fail(side, error));
    await sleep(500);
    for (let round = 0; round < options.rounds; round++) {
      for (const side of sides) {
        if (failed.has(side.system)) continue;
        try {
          const result = await side.attach();
          runs.get(side.system)!.push(result);
          const line =
            typeof result === 'number'
              ? `${result.toFixed(1)} ms`
              : `${result.completeMs.toFixed(1)} ms (first output ${result.firstOutputMs.toFixed(1)} ms, client RSS ${(result.rssKiB / 1024).toFixed(1)} MiB)`;
          ctx.log(`  ${side.system.padEnd(20)} round ${round + 1}: ${line}`);
        } catch (error) {
          fail(side, error);
        }
      }
    }
  } finally {
    for (const side of [...sides].reverse()) await side.teardown().catch((error) => fail(side, error));
  }
  return sides.map((side) => {
    const results = runs.get(side.system)!;
    const error = failed.get(side.system);
    const timings = results.filter((r): r is AttachTiming => typeof r !== 'number');
    const figures =
      timings.length > 0
        ? timingFigures(timings)
        : {
            runsMs: (results as number[]).map((v) => round(v, 1) ?? 0),
            medianMs: round(median(results as number[]), 1),
          };
    return { system: side.system, measure: side.measure, ...figures, ...(error ? { error } : {}) };
  });
}
