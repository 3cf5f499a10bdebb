import type { BenchContext } from '../lib/context.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { OrchestraServer } from '../lib/orchestra-server.js';
import { rssKiB } from '../lib/process-control.js';
import type { PtyClient } from '../lib/pty-client.js';
import { median, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep } from '../lib/waiting.js';

/** Pane counts at which the idle server's RSS is read. */
export const IDLE_PANE_COUNTS = [1, 16, 64] as const;

/** Panes filled with history at once for the history figure (the delta is divided by this). */
const HISTORY_PANES = 4;

/** Lines printed into each history pane: more than the 10,000-line limit, so history is full. */
const HISTORY_FILL_LINES = 10_100;

/** Pause before reading RSS so that allocation bursts (spawns, parsing) have settled, ms. */
const SETTLE_MS = 1_500;

const COLS = 200;
const ROWS = 60;

export interface MemoryRow {
  system: 'orchestra' | 'tmux';
  /** Server RSS, MiB, with 0 (orchestra only: right after start), 1, 16 and 64 idle panes. */
  rssMiB: Record<string, number | null>;
  /** (RSS64 - RSS1) / 63, MiB. */
  perIdlePaneMiB: number | null;
  /** Server RSS growth per pane when each of 4 idle 80-column panes fills its 10,000-line history, MiB. */
  perHistoryPaneMiB: number | null;
  /** Server RSS before and after the history fill, MiB. */
  history?: { beforeMiB: number; afterMiB: number; panes: number; cols: number };
  /** tmux only: windows used when 64 panes no longer fit in one. */
  windows?: number;
  /** A fresh server per round with one idle pane (and, for orchestra, no tasks), and a client attached to it. */
  oneIdlePane?: OneIdlePaneFigures;
  error?: string;
}

/** RSS of a server with one idle pane and of the real client attached to it, per round and median, MiB. */
export interface OneIdlePaneFigures {
  /** Server RSS before any client attached. */
  serverRssMiB: number[];
  serverRssMedianMiB: number | null;
  /** RSS of the real client process (`orchestra attach`, `tmux attach`) once it has drawn the pane. */
  clientRssMiB: number[];
  clientRssMedianMiB: number | null;
}

const mib = (kib: number) => round(kib / 1024, 1) ?? 0;

/** RSS after the settle pause, KiB. */
async function settledRss(read: () => number): Promise<number> {
  await sleep(SETTLE_MS);
  return read();
}

/** Each history pane waits for Enter, then prints 80-column lines until its history is full, then idles. */
function historyCommand(): string[] {
  return ['sh', '-c', `read x; seq -f '%080g' 1 ${HISTORY_FILL_LINES}; exec sleep 100000`];
}

const lastHistoryLine = `${'0'.repeat(80 - String(HISTORY_FILL_LINES).length)}${HISTORY_FILL_LINES}`;

async function orchestraIdle(ctx: BenchContext, row: MemoryRow): Promise<void> {
  const server = await OrchestraServer.startIn(ctx, 'mem');
  try {
    const sizer = await MirrorClient.connect({
      session: server.session,
      env: ctx.env,
      cols: COLS,
      rows: ROWS,
    });
    sizer.close();
    row.rssMiB['0'] = mib(await settledRss(() => server.rssKiB()));
    let count = 0;
    for (const target of IDLE_PANE_COUNTS) {
      while (count < target) {
        await server.newPane(['sleep', '100000'], `idle${count}`);
        count++;
      }
      row.rssMiB[String(target)] = mib(await settledRss(() => server.rssKiB()));
      ctx.log(`  orchestra ${target} idle panes: ${row.rssMiB[String(target)]} MiB`);
    }
  } finally {
    await server.stop();
  }
}

async function orchestraHistory(ctx: BenchContext, row: MemoryRow): Promise<void> {
  const server = await OrchestraServer.startIn(ctx, 'memh');
  try {
    // Stacked panes the full width of an 80-column client: every pane is 80 columns wide.
    await server.request({ cmd: 'select-layout', layout: 'even-vertical' });
    const sizer = await MirrorClient.connect({
      session: server.session,
      env: ctx.env,
      cols: 80,
      rows: HISTORY_PANES * 25 + 1,
    });
    sizer.close();
    const ids: number[] = [];
    for (let i = 0; i < HISTORY_PANES; i++) ids.push((await server.newPane(historyCommand(), `hist${i}`)).id);
    const panes = await server.request<Array<{ cols: number }>>({ cmd: 'list-panes' });
    const before = await settledRss(() => server.rssKiB());
    for (const id of ids)
      await server.request({ cmd: 'send-keys', pane: `%${id}`, data: Buffer.from('\r').toString('base64') });
    for (const id of ids) {
      await pollUntil(
        async () => (await server.capture(id)).includes(lastHistoryLine),
        60_000,
        'history fill',
        100,
      );
    }
    const after = await settledRss(() => server.rssKiB());
    row.history = {
      beforeMiB: mib(before),
      afterMiB: mib(after),
      panes: HISTORY_PANES,
      cols: panes[0]?.cols ?? 0,
    };
    row.perHistoryPaneMiB = mib((after - before) / HISTORY_PANES);
    ctx.log(`  orchestra history: ${row.perHistoryPaneMiB} MiB per pane`);
  } finally {
    await server.stop();
  }
}

async function tmuxIdle(ctx: BenchContext, row: MemoryRow): Promise<void> {
  const tmux = new TmuxServer({ socket: ctx.name('mem'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    await tmux.start('mem', COLS, ROWS, ['sleep', '100000']);
    let count = 1;
    let windows = 1;
    for (const target of IDLE_PANE_COUNTS) {
      while (count < target) {
        try {
          await tmux.run([
            'split-window',
            '-d',
            '-t',
            'mem:',
            'sleep',
            '100000',
            ';',
            'select-layout',
            '-t',
            'mem:',
            'tiled',
          ]);
        } catch {
          // "no space for new pane": carry on in a new window, as a tmux user would.
          await tmux.run(['new-window', '-d', '-t', 'mem:', 'sleep', '100000']);
          windows++;
        }
        count++;
      }
      row.rssMiB[String(target)] = mib(await settledRss(() => tmux.rssKiB()));
      ctx.log(`  tmux ${target} idle panes: ${row.rssMiB[String(target)]} MiB`);
    }
    row.windows = windows;
  } finally {
    await tmux.stop();
  }
}

async function tmuxHistory(ctx: BenchContext, row: MemoryRow): Promise<void> {
  const tmux = new TmuxServer({ socket: ctx.name('memh'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    await tmux.start('memh', 80, HISTORY_PANES * 25 + 1, historyCommand());
    for (let i = 1; i < HISTORY_PANES; i++) {
      await tmux.run([
        'split-window',
        '-t',
        'memh:',
        ...historyCommand(),
        ';',
        'select-layout',
        '-t',
        'memh:',
        'even-vertical',
      ]);
    }
    const listing = (await tmux.run(['list-panes', '-t', 'memh:', '-F', '#{pane_id} #{pane_width}']))
      .trim()
      .split('\n');
    const ids = listing.map((line) => line.split(' ')[0]!);
    const before = await settledRss(() => tmux.rssKiB());
    for (const id of ids) await tmux.run(['send-keys', '-t', id, 'Enter']);
    for (const id of ids) {
      await pollUntil(
        async () => (await tmux.capture(id)).includes(lastHistoryLine),
        60_000,
        'history fill',
        100,
      );
    }
    const after = await settledRss(() => tmux.rssKiB());
    row.history = {
      beforeMiB: mib(before),
      afterMiB: mib(after),
      panes: ids.length,
      cols: Number(listing[0]?.split(' ')[1] ?? 0),
    };
    row.perHistoryPaneMiB = mib((after - before) / ids.length);
    ctx.log(`  tmux history: ${row.perHistoryPaneMiB} MiB per pane`);
  } finally {
    await tmux.stop();
  }
}

/** Server and client RSS of one round, KiB. */
interface RssPair {
  server: number;
  client: number;
}

/** Waits until the client on a PTY has drawn `text`, then for the settle pause. */
async function drawn(client: PtyClient, text: string): Promise<void> {
  await pollUntil(
    async () => {
      await client.settled();
      return client.screenText().some((row) => row.includes(text));
    },
    15_000,
    `client to draw "${text}"`,
    50,
  );
  await sleep(SETTLE_MS);
}

/** Text the idle pane prints, so the client's screen shows that it has drawn the pane. */
const IDLE_PANE_TEXT = 'idle-pane-ready';

/** The command line holds `idle-pane""-ready`, so a title showing it cannot pass for the output. */
function idlePaneCommand(): string[] {
  return ['sh', '-c', `echo ${IDLE_PANE_TEXT.slice(0, 9)}""${IDLE_PANE_TEXT.slice(9)}; exec sleep 100000`];
}

/** orchestra: a fresh server, one idle pane, its RSS; then `orchestra attach`, its RSS once drawn. */
async function orchestraOneIdlePane(ctx: BenchContext): Promise<RssPair> {
  const server = await OrchestraServer.startIn(ctx, 'mem1');
  try {
    await server.newPane(idlePaneCommand(), 'idle');
    const serverKiB = await settledRss(() => server.rssKiB());
    const client = server.attach(COLS, ROWS, 'memory', true);
    try {
      await drawn(client, IDLE_PANE_TEXT);
      return { server: serverKiB, client: rssKiB(client.pid) };
    } finally {
      await client.close();
    }
  } finally {
    await server.stop();
  }
}

/** tmux: a fresh server with one idle pane, its RSS; then `tmux attach`, its RSS once drawn. */
async function tmuxOneIdlePane(ctx: BenchContext): Promise<RssPair> {
  const tmux = new TmuxServer({ socket: ctx.name('mem1'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    await tmux.start('mem1', COLS, ROWS, idlePaneCommand());
    const serverKiB = await settledRss(() => tmux.rssKiB());
    const client = tmux.attach('mem1', COLS, ROWS, true);
    try {
      await drawn(client, IDLE_PANE_TEXT);
      return { server: serverKiB, client: rssKiB(client.pid) };
    } finally {
      await client.close();
    }
  } finally {
    await tmux.stop();
  }
}

function oneIdlePaneFigures(pairs: RssPair[]): OneIdlePaneFigures {
  return {
    serverRssMiB: pairs.map((p) => mib(p.server)),
    serverRssMedianMiB: round(median(pairs.map((p) => p.server / 1024)), 1),
    clientRssMiB: pairs.map((p) => mib(p.client)),
    clientRssMedianMiB: round(median(pairs.map((p) => p.client / 1024)), 1),
  };
}

function perIdlePane(row: MemoryRow): number | null {
  const one = row.rssMiB['1'];
  const many = row.rssMiB['64'];
  if (one == null || many == null) return null;
  return round((many - one) / 63, 2);
}

/**
 * Scenario 4: memory. First `rounds` alternating rounds (orchestra, tmux, orchestra, ...) of a fresh
 * server with one idle pane: server RSS, then the RSS of the real client attached to it. Then, once
 * per system, server RSS with 1, 16 and 64 idle panes, and the cost of a full 10,000-line history.
 * All MiB (VmRSS).
 */
export async function runMemory(ctx: BenchContext, options: { rounds: number }): Promise<MemoryRow[]> {
  const systems = [
    { system: 'orchestra', oneIdle: orchestraOneIdlePane, idle: orchestraIdle, history: orchestraHistory },
    { system: 'tmux', oneIdle: tmuxOneIdlePane, idle: tmuxIdle, history: tmuxHistory },
  ] as const;
  const rows = new Map<string, MemoryRow>();
  const errors = new Map<string, string[]>();
  const pairs = new Map<string, RssPair[]>();
  for (const { system } of systems) {
    rows.set(system, { system, rssMiB: {}, perIdlePaneMiB: null, perHistoryPaneMiB: null });
    errors.set(system, []);
    pairs.set(system, []);
  }
  const fail = (system: string, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    errors.get(system)!.push(message);
    ctx.log(`  ${system} failed: ${message}`);
  };
  for (let round = 0; round < options.rounds; round++) {
    for (const { system, oneIdle } of systems) {
      // One failure is reported once; the other system's rounds carry on.
      if (errors.get(system)!.length > 0) continue;
      try {
        const pair = await oneIdle(ctx);
        pairs.get(system)!.push(pair);
        ctx.log(
          `  ${system.padEnd(9)} one idle pane, round ${round + 1}: server ${mib(pair.server)} MiB, client ${mib(pair.client)} MiB`,
        );
      } catch (error) {
        fail(system, error);
      }
    }
  }
  for (const { system, idle, history } of systems) {
    const row = rows.get(system)!;
    if (pairs.get(system)!.length > 0) row.oneIdlePane = oneIdlePaneFigures(pairs.get(system)!);
    for (const part of [idle, history]) {
      try {
        await part(ctx, row);
      } catch (error) {
        fail(system, error);
      }
    }
    row.perIdlePaneMiB = perIdlePane(row);
    const errs = errors.get(system)!;
    if (errs.length > 0) row.error = errs.join('; ');
  }
  return [...rows.values()];
}
