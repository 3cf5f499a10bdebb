import type { BenchContext } from '../lib/context.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { ORCHESTRA_BIN, OrchestraServer } from '../lib/orchestra-server.js';
import { PtyClient } from '../lib/pty-client.js';
import { median, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep, withTimeout } from '../lib/waiting.js';

export const ATTACH_PANES = 16;
export const ATTACH_HISTORY_LINES = 10_000;
const ATTACH_RUNS = 5;
const COLS = 200;
const ROWS = 60;

/** One attach must show its complete first frame within this long, ms. */
const ATTACH_TIMEOUT_MS = 20_000;

/** Filling 16 panes with history must be done within this long, ms. */
const FILL_TIMEOUT_MS = 60_000;

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
  error?: string;
}

/** What a complete first frame shows for one pane: its title and the last line of its output. */
interface Expectation {
  title: string;
  lastLine: string;
}

/** Pane `i`'s name and the command that fills its history, then idles. */
function paneName(i: number): string {
  return `bp${String(i).padStart(2, '0')}`;
}

function fillCommand(name: string): string[] {
  return ['sh', '-c', `seq -f '${name} %g' 1 ${ATTACH_HISTORY_LINES}; exec sleep 100000`];
}

/** True when `screen` (rows of text) shows every pane's title and last line. */
function isComplete(screen: string[], expectations: Expectation[]): boolean {
  const text = screen.join('\n');
  return expectations.every((e) => text.includes(e.title) && text.includes(e.lastLine));
}

/** Times of one PTY attach, ms from spawning the client. */
interface AttachTiming {
  /** Arrival of the output after which the screen was complete. */
  completeMs: number;
  /** Arrival of the first output byte (the client is running and has reached its server). */
  firstOutputMs: number;
}

/** Waits for `client` (just spawned) to show a complete first frame. */
async function timeToCompleteFrame(client: PtyClient, expectations: Expectation[]): Promise<AttachTiming> {
  let lastArrival = client.startedAt;
  let firstArrival: number | undefined;
  let checking = false;
  let recheck = false;
  return withTimeout(
    new Promise<AttachTiming>((resolve) => {
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
}

function timingFigures(
  runs: AttachTiming[],
): Pick<AttachRow, 'runsMs' | 'medianMs' | 'firstOutputMs' | 'firstOutputMedianMs'> {
  return {
    runsMs: runs.map((r) => round(r.completeMs, 1) ?? 0),
    medianMs: round(median(runs.map((r) => r.completeMs)), 1),
    firstOutputMs: runs.map((r) => round(r.firstOutputMs, 1) ?? 0),
    firstOutputMedianMs: round(median(runs.map((r) => r.firstOutputMs)), 1),
  };
}

/** orchestra: 16 filled panes, then `orchestra attach` 5 times and an in-process client 5 times. */
async function runOrchestra(ctx: BenchContext): Promise<AttachRow[]> {
  const server = await OrchestraServer.start({
    session: ctx.name('att'),
    dir: ctx.dir,
    env: ctx.env,
    cleanup: ctx.cleanup,
    nodeFlags: ctx.nodeFlags,
  });
  try {
    // A client of the attach size first, so the panes start (and fill) at the size they are shown.
    const sizer = await MirrorClient.connect({
      session: server.session,
      env: ctx.env,
      cols: COLS,
      rows: ROWS,
    });
    sizer.close();
    const expectations: Expectation[] = [];
    const ids: number[] = [];
    for (let i = 0; i < ATTACH_PANES; i++) {
      const name = paneName(i);
      const pane = await server.newPane(fillCommand(name), name);
      ids.push(pane.id);
    }
    for (const [i, id] of ids.entries()) {
      const name = paneName(i);
      await pollUntil(
        async () => (await server.capture(id)).includes(`${name} ${ATTACH_HISTORY_LINES}`),
        FILL_TIMEOUT_MS,
        `orchestra pane ${name} to fill`,
        100,
      );
    }
    const panes = await server.request<Array<{ index: number; name: string }>>({ cmd: 'list-panes' });
    for (const p of panes)
      expectations.push({ title: `${p.index}: ${p.name}`, lastLine: `${p.name} ${ATTACH_HISTORY_LINES}` });
    await sleep(500);

    const noClients = () =>
      pollUntil(
        async () => (await server.request<unknown[]>({ cmd: 'list-clients' })).length === 0,
        5_000,
        'client to detach',
        20,
      );
    const tuiRuns: AttachTiming[] = [];
    for (let run = 0; run < ATTACH_RUNS; run++) {
      const client = new PtyClient({
        file: process.execPath,
        args: [...ctx.nodeFlags(`${server.session}-attach`), ORCHESTRA_BIN, 'attach', '-t', server.session],
        cwd: ctx.dir,
        env: ctx.env,
        cols: COLS,
        rows: ROWS,
        cleanup: ctx.cleanup,
        label: 'orchestra attach (attach)',
        screen: true,
      });
      try {
        const timing = await timeToCompleteFrame(client, expectations);
        tuiRuns.push(timing);
        ctx.log(
          `  orchestra attach run ${run + 1}: ${timing.completeMs.toFixed(1)} ms (first output ${timing.firstOutputMs.toFixed(1)} ms)`,
        );
      } finally {
        await client.close();
      }
      await noClients();
    }

    const inProcessRuns: number[] = [];
    for (let run = 0; run < ATTACH_RUNS; run++) {
      const t0 = performance.now();
      const client = await MirrorClient.connect({
        session: server.session,
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
        const ms = performance.now() - t0;
        inProcessRuns.push(ms);
        ctx.log(`  orchestra in-process run ${run + 1}: ${ms.toFixed(1)} ms`);
      } finally {
        client.close();
      }
      await noClients();
    }
    return [
      {
        system: 'orchestra attach',
        measure: 'spawn `orchestra attach` on a 200x60 PTY → screen shows all 16 titles and last lines',
        ...timingFigures(tuiRuns),
      },
      {
        system: 'orchestra in-process',
        measure: 'connectSession (attach mode) → layout + all 16 snapshots replayed into MirrorPanes',
        runsMs: inProcessRuns.map((v) => round(v, 1) ?? 0),
        medianMs: round(median(inProcessRuns), 1),
      },
    ];
  } finally {
    await server.stop();
  }
}

/** tmux: the same 16 panes (titles in the pane borders, as orchestra shows them), `tmux attach` 5 times. */
async function runTmux(ctx: BenchContext): Promise<AttachRow> {
  const tmux = new TmuxServer({ socket: ctx.name('att'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    await tmux.start('att', COLS, ROWS, fillCommand(paneName(0)), [
      ['pane-border-status', 'top'],
      ['pane-border-format', '#{pane_index}: #{pane_title}'],
    ]);
    const first = (await tmux.run(['display-message', '-p', '-t', 'att:', '#{pane_id}'])).trim();
    await tmux.run(['select-pane', '-t', first, '-T', paneName(0)]);
    for (let i = 1; i < ATTACH_PANES; i++) {
      const id = (
        await tmux.run(['split-window', '-P', '-F', '#{pane_id}', '-t', 'att:', ...fillCommand(paneName(i))])
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
    }
    const expectations = panes.map((p) => ({
      title: `${p.index}: ${p.title}`,
      lastLine: `${p.title} ${ATTACH_HISTORY_LINES}`,
    }));
    await sleep(500);
    const runs: AttachTiming[] = [];
    for (let run = 0; run < ATTACH_RUNS; run++) {
      const client = tmux.attach('att', COLS, ROWS, true);
      try {
        const timing = await timeToCompleteFrame(client, expectations);
        runs.push(timing);
        ctx.log(
          `  tmux attach run ${run + 1}: ${timing.completeMs.toFixed(1)} ms (first output ${timing.firstOutputMs.toFixed(1)} ms)`,
        );
      } finally {
        await client.close();
      }
      await pollUntil(
        async () => (await tmux.run(['list-clients'])).trim() === '',
        5_000,
        'tmux client to detach',
        20,
      );
    }
    return {
      system: 'tmux attach',
      measure: 'spawn `tmux attach` on a 200x60 PTY → screen shows all 16 border titles and last lines',
      ...timingFigures(runs),
    };
  } finally {
    await tmux.stop();
  }
}

/** Scenario 3: time to a complete first frame when attaching to 16 panes with 10,000 lines of history each. */
export async function runAttach(ctx: BenchContext): Promise<AttachRow[]> {
  const rows: AttachRow[] = [];
  try {
    rows.push(...(await runOrchestra(ctx)));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  orchestra failed: ${message}`);
    rows.push({ system: 'orchestra attach', measure: '', runsMs: [], medianMs: null, error: message });
  }
  try {
    rows.push(await runTmux(ctx));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  tmux failed: ${message}`);
    rows.push({ system: 'tmux attach', measure: '', runsMs: [], medianMs: null, error: message });
  }
  return rows;
}
