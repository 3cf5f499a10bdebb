import type { BenchContext } from '../lib/context.js';
import { stripEscapes } from '../lib/escapes.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { ORCHESTRA_BIN, OrchestraServer } from '../lib/orchestra-server.js';
import { PtyClient } from '../lib/pty-client.js';
import { percentile, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep, withTimeout } from '../lib/waiting.js';

/** Keys measured per system back to back (the brief's figure). */
export const ECHO_KEYS = 1_000;

/**
 * How keys are sent. Back to back: the next key right after the previous echo (the brief's
 * measure; it also shows any per-frame throttling at its worst). Paced: a pause between keys, as
 * a fast typist leaves (40 ms is 25 keys a second), where every echo meets an idle process.
 */
export const PACINGS = [
  { name: 'back-to-back', keys: ECHO_KEYS, gapMs: 0 },
  { name: 'paced 40 ms', keys: 150, gapMs: 40 },
] as const;

/** Keys sent first and not counted (JIT warm-up, first allocations). */
const WARMUP_KEYS = 30;

/** A key whose echo has not come back within this long fails the run, ms. */
const KEY_TIMEOUT_MS = 2_000;

const COLS = 200;
const ROWS = 60;

/** Keys cycle through the lower-case letters; `cat` on a cooked tty echoes each at once. */
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export type EchoSystem = 'orchestra' | 'orchestra-tui' | 'tmux';

export interface EchoRow {
  system: EchoSystem;
  /** How the key went in and the echo was seen. */
  path: string;
  pacing: string;
  keys: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Every sample, ms, in order (rounded to µs). */
  samplesMs: number[];
  error?: string;
}

/** Something to type into: sends a key, and reports when output showing it arrived. */
interface TypingTarget {
  path: string;
  send(key: string): void;
  /** Resolves with the arrival time (performance.now() ms) of the output that shows `key`. */
  expect(key: string): Promise<number>;
  /** The pane's text as its server has it (to check that the keys really went through the pane). */
  paneText(): Promise<string>;
}

/**
 * An echo detector over a stream of chunks: after `expect(key)`, output is collected until its
 * text (escape sequences removed) contains the key.
 */
class EchoWatcher {
  private pending: { key: string; text: string; resolve: (at: number) => void } | undefined;

  expect(key: string): Promise<number> {
    return new Promise((resolve) => {
      this.pending = { key, text: '', resolve };
    });
  }

  push(chunk: string, at: number): void {
    const pending = this.pending;
    if (!pending) return;
    pending.text += chunk;
    if (stripEscapes(pending.text).includes(pending.key)) {
      this.pending = undefined;
      pending.resolve(at);
    }
  }
}

/**
 * Types warm-up keys, then each pacing's keys, one at a time, each after the previous one's echo
 * (and the pacing's gap), and checks at the end that the pane shows the keys.
 * @throws Error when an echo does not come within 2 s, or the pane does not show the keys
 */
async function typeAll(target: TypingTarget): Promise<Array<{ pacing: string; samples: number[] }>> {
  let sent = '';
  const typeOne = async (): Promise<number> => {
    const key = LETTERS[sent.length % LETTERS.length]!;
    const echoed = target.expect(key);
    const t0 = performance.now();
    target.send(key);
    sent += key;
    const at = await withTimeout(echoed, KEY_TIMEOUT_MS, `echo of key ${sent.length}`);
    return at - t0;
  };
  for (let i = 0; i < WARMUP_KEYS; i++) await typeOne();
  const results: Array<{ pacing: string; samples: number[] }> = [];
  for (const pacing of PACINGS) {
    const samples: number[] = [];
    for (let i = 0; i < pacing.keys; i++) {
      if (pacing.gapMs > 0) await sleep(pacing.gapMs);
      samples.push(await typeOne());
    }
    results.push({ pacing: pacing.name, samples });
  }
  // The echo must have come through the pane, not from a client terminal left in echo mode.
  const expected = sent.slice(-40);
  const text = (await target.paneText()).replace(/\n/g, '').trimEnd();
  if (!text.endsWith(expected)) {
    throw new Error(`the pane does not show the keys sent (expected it to end with "${expected}")`);
  }
  return results;
}

function rows(
  system: EchoSystem,
  path: string,
  results: Array<{ pacing: string; samples: number[] }>,
): EchoRow[] {
  return results.map(({ pacing, samples }) => ({
    system,
    path,
    pacing,
    keys: samples.length,
    p50Ms: round(percentile(samples, 50), 3),
    p99Ms: round(percentile(samples, 99), 3),
    maxMs: round(Math.max(...samples), 3),
    samplesMs: samples.map((s) => round(s, 3) ?? 0),
  }));
}

/** orchestra: an attach-mode client sends Input frames and timestamps the Output frame with the echo. */
async function runOrchestra(ctx: BenchContext, path: string): Promise<EchoRow[]> {
  const server = await OrchestraServer.start({
    session: ctx.name('echo'),
    dir: ctx.dir,
    env: ctx.env,
    cleanup: ctx.cleanup,
    nodeFlags: ctx.nodeFlags,
  });
  const watcher = new EchoWatcher();
  let paneId = -1;
  const client = await MirrorClient.connect({
    session: server.session,
    env: ctx.env,
    cols: COLS,
    rows: ROWS,
    onOutput: (pane, data, at) => {
      if (pane === paneId) watcher.push(data.toString('utf8'), at);
    },
  });
  try {
    const pane = await server.newPane(['cat'], 'echo');
    paneId = pane.id;
    await withTimeout(
      client.waitFor(() => client.replayed.has(pane.id)),
      10_000,
      'snapshot of the echo pane',
    );
    await sleep(300);
    const results = await typeAll({
      path,
      send: (key) => client.server.input(pane.id, key),
      expect: (key) => watcher.expect(key),
      paneText: () => server.capture(pane.id),
    });
    return rows('orchestra', path, results);
  } finally {
    client.close();
    await server.stop();
  }
}

/** orchestra's real client: keys typed into `orchestra attach` on a node-pty, echo read from its output. */
async function runOrchestraTui(ctx: BenchContext, path: string): Promise<EchoRow[]> {
  const server = await OrchestraServer.start({
    session: ctx.name('echot'),
    dir: ctx.dir,
    env: ctx.env,
    cleanup: ctx.cleanup,
    nodeFlags: ctx.nodeFlags,
  });
  try {
    const pane = await server.newPane(['cat'], 'echo');
    const client = new PtyClient({
      file: process.execPath,
      args: [...ctx.nodeFlags(`${server.session}-attach`), ORCHESTRA_BIN, 'attach', '-t', server.session],
      cwd: ctx.dir,
      env: ctx.env,
      cols: COLS,
      rows: ROWS,
      cleanup: ctx.cleanup,
      label: 'orchestra attach (echo)',
    });
    try {
      const watcher = new EchoWatcher();
      client.onData((data, at) => watcher.push(data, at));
      await pollUntil(
        async () => (await server.request<unknown[]>({ cmd: 'list-clients' })).length > 0,
        15_000,
        'orchestra attach to connect',
        50,
      );
      // Let the first frame and the snapshot replay finish before typing.
      await sleep(800);
      const results = await typeAll({
        path,
        send: (key) => client.write(key),
        expect: (key) => watcher.expect(key),
        paneText: () => server.capture(pane.id),
      });
      return rows('orchestra-tui', path, results);
    } finally {
      await client.close();
    }
  } finally {
    await server.stop();
  }
}

/** tmux: keys typed into the attached client's PTY, echo read from that PTY's output. */
async function runTmux(ctx: BenchContext, path: string): Promise<EchoRow[]> {
  const tmux = new TmuxServer({ socket: ctx.name('echo'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    // No status line: its clock redraws could otherwise be taken for an echo.
    await tmux.start('echo', COLS, ROWS, ['cat'], [['status', 'off']]);
    const client = tmux.attach('echo', COLS, ROWS, false);
    try {
      const watcher = new EchoWatcher();
      client.onData((data, at) => watcher.push(data, at));
      await pollUntil(() => client.received > 0, 10_000, 'tmux client first draw');
      await sleep(500);
      const results = await typeAll({
        path,
        send: (key) => client.write(key),
        expect: (key) => watcher.expect(key),
        paneText: () => tmux.capture('echo:'),
      });
      return rows('tmux', path, results);
    } finally {
      await client.close();
    }
  } finally {
    await tmux.stop();
  }
}

/**
 * Scenario 2: keystroke echo latency, p50/p99 over 1,000 keys each sent after the previous echo,
 * then 150 keys with a 40 ms pause before each.
 */
export async function runEchoLatency(ctx: BenchContext, options: { tui: boolean }): Promise<EchoRow[]> {
  const all: Array<[EchoSystem, string, (path: string) => Promise<EchoRow[]>]> = [
    ['orchestra', 'in-process attach client: Input frame → Output frame', (p) => runOrchestra(ctx, p)],
    [
      'orchestra-tui',
      '`orchestra attach` on a PTY: key in → echo in its output',
      (p) => runOrchestraTui(ctx, p),
    ],
    ['tmux', 'tmux client on a PTY: key in → echo in its output', (p) => runTmux(ctx, p)],
  ];
  const out: EchoRow[] = [];
  for (const [system, path, run] of all) {
    if (system === 'orchestra-tui' && !options.tui) continue;
    try {
      const result = await run(path);
      for (const r of result) ctx.log(`  ${system} ${r.pacing}: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
      out.push(...result);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      ctx.log(`  ${system} failed: ${message}`);
      for (const pacing of PACINGS) {
        out.push({
          system,
          path,
          pacing: pacing.name,
          keys: 0,
          p50Ms: null,
          p99Ms: null,
          maxMs: null,
          samplesMs: [],
          error: message,
        });
      }
    }
  }
  return out;
}
