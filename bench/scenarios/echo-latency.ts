import type { BenchContext } from '../lib/context.js';
import { stripEscapes } from '../lib/escapes.js';
import { MirrorClient } from '../lib/mirror-client.js';
import { OrchestraServer } from '../lib/orchestra-server.js';
import type { PtyClient } from '../lib/pty-client.js';
import { percentile, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep, withTimeout } from '../lib/waiting.js';

/**
 * How keys are sent, per round. Back to back: the next key right after the previous echo (it also
 * shows any per-frame throttling at its worst). Paced: a 30 ms pause before each key, as a fast
 * typist leaves, where every echo meets an idle process. Over the default 5 rounds that is 1,000
 * back-to-back and 300 paced keys per system.
 */
export const PACINGS = [
  { name: 'back-to-back', keysPerRound: 200, gapMs: 0 },
  { name: 'paced 30 ms', keysPerRound: 60, gapMs: 30 },
] as const;

/** Keys sent first and not counted (JIT warm-up, first allocations). */
const WARMUP_KEYS = 30;

/** A key whose echo has not come back within this long fails the run, ms. */
const KEY_TIMEOUT_MS = 2_000;

const COLS = 200;
const ROWS = 60;

/** Keys cycle through the lower-case letters; the pane's tty echoes each at once. */
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export type EchoSystem = 'orchestra' | 'orchestra-tui' | 'tmux';

export interface EchoRow {
  system: EchoSystem;
  /** How the key went in and the echo was seen. */
  path: string;
  pacing: string;
  /** Keys measured, all rounds together. */
  keys: number;
  /** Percentiles over every key of every round, ms. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** p99 of each round alone, ms (how stable the figure is). */
  roundP99Ms: number[];
  /** Every sample, ms, in order (rounded to µs). */
  samplesMs: number[];
  error?: string;
}

/** The pane program: the tty echoes each key at once; `cat` drains it, so the line never fills. */
export const ECHO_PANE_COMMAND = ['sh', '-c', 'stty -icanon; exec cat >/dev/null'];

/**
 * A system to type into, set up once and then typed into round by round, so that the rounds of
 * all systems interleave and share whatever else the machine is doing at that moment.
 */
interface TypingTarget {
  system: EchoSystem;
  path: string;
  /** Starts the server and client; resolves when keys can be typed. */
  setup(): Promise<void>;
  send(key: string): void;
  /** Resolves with the arrival time (performance.now() ms) of the output that shows `key`. */
  expect(key: string): Promise<number>;
  /** The pane's text as its server has it (to check that the keys really went through the pane). */
  paneText(): Promise<string>;
  teardown(): Promise<void>;
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

/** Types keys into one target, each after the previous one's echo; remembers what it sent. */
class Typist {
  sent = '';

  constructor(readonly target: TypingTarget) {}

  /**
   * Types one key and returns its echo latency, ms.
   * @throws Error when the echo does not come within 2 s
   */
  async typeOne(): Promise<number> {
    const key = LETTERS[this.sent.length % LETTERS.length]!;
    const echoed = this.target.expect(key);
    const t0 = performance.now();
    this.target.send(key);
    this.sent += key;
    const at = await withTimeout(echoed, KEY_TIMEOUT_MS, `echo of key ${this.sent.length}`);
    return at - t0;
  }

  /** One round: each pacing's keys in turn; latencies per pacing, ms. */
  async round(): Promise<number[][]> {
    const out: number[][] = [];
    for (const pacing of PACINGS) {
      const samples: number[] = [];
      for (let i = 0; i < pacing.keysPerRound; i++) {
        if (pacing.gapMs > 0) await sleep(pacing.gapMs);
        samples.push(await this.typeOne());
      }
      out.push(samples);
    }
    return out;
  }

  /**
   * The echo must have come through the pane, not from a client terminal left in echo mode.
   * @throws Error when the pane does not end with the last keys sent
   */
  async verify(): Promise<void> {
    const expected = this.sent.slice(-40);
    const text = (await this.target.paneText()).replace(/\n/g, '').trimEnd();
    if (!text.endsWith(expected)) {
      throw new Error(`the pane does not show the keys sent (expected it to end with "${expected}")`);
    }
  }
}

/** orchestra: an attach-mode client sends Input frames and timestamps the Output frame with the echo. */
function orchestraTarget(ctx: BenchContext): TypingTarget {
  let server: OrchestraServer | undefined;
  let client: MirrorClient | undefined;
  let paneId = -1;
  const watcher = new EchoWatcher();
  return {
    system: 'orchestra',
    path: 'in-process attach client: Input frame → Output frame',
    async setup() {
      const s = await OrchestraServer.startIn(ctx, 'echo');
      server = s;
      const c = await MirrorClient.connect({
        session: s.session,
        env: ctx.env,
        cols: COLS,
        rows: ROWS,
        onOutput: (pane, data, at) => {
          if (pane === paneId) watcher.push(data.toString('utf8'), at);
        },
      });
      client = c;
      const pane = await s.newPane(ECHO_PANE_COMMAND, 'echo');
      paneId = pane.id;
      await withTimeout(
        c.waitFor(() => c.replayed.has(pane.id)),
        10_000,
        'snapshot of the echo pane',
      );
      await sleep(300);
    },
    send: (key) => client!.server.input(paneId, key),
    expect: (key) => watcher.expect(key),
    paneText: () => server!.capture(paneId),
    async teardown() {
      client?.close();
      await server?.stop();
    },
  };
}

/** orchestra's real client: keys typed into `orchestra attach` on a node-pty, echo read from its output. */
function orchestraTuiTarget(ctx: BenchContext): TypingTarget {
  let server: OrchestraServer | undefined;
  let client: PtyClient | undefined;
  let paneId = -1;
  const watcher = new EchoWatcher();
  return {
    system: 'orchestra-tui',
    path: '`orchestra attach` on a PTY: key in → echo in its output',
    async setup() {
      const s = await OrchestraServer.startIn(ctx, 'echot');
      server = s;
      paneId = (await s.newPane(ECHO_PANE_COMMAND, 'echo')).id;
      const c = s.attach(COLS, ROWS, 'echo');
      client = c;
      c.onData((data, at) => watcher.push(data, at));
      await s.waitForClient();
      // Let the first frame and the snapshot replay finish before typing.
      await sleep(800);
    },
    send: (key) => client!.write(key),
    expect: (key) => watcher.expect(key),
    paneText: () => server!.capture(paneId),
    async teardown() {
      await client?.close();
      await server?.stop();
    },
  };
}

/** tmux: keys typed into the attached client's PTY, echo read from that PTY's output. */
function tmuxTarget(ctx: BenchContext): TypingTarget {
  const tmux = new TmuxServer({ socket: ctx.name('echo'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  let client: PtyClient | undefined;
  const watcher = new EchoWatcher();
  return {
    system: 'tmux',
    path: 'tmux client on a PTY: key in → echo in its output',
    async setup() {
      // No status line: its clock redraws could otherwise be taken for an echo.
      await tmux.start('echo', COLS, ROWS, ECHO_PANE_COMMAND, [['status', 'off']]);
      const c = tmux.attach('echo', COLS, ROWS, false);
      client = c;
      c.onData((data, at) => watcher.push(data, at));
      await pollUntil(() => c.received > 0, 10_000, 'tmux client first draw');
      await sleep(500);
    },
    send: (key) => client!.write(key),
    expect: (key) => watcher.expect(key),
    paneText: () => tmux.capture('echo:'),
    async teardown() {
      await client?.close();
      await tmux.stop();
    },
  };
}

function failedRows(target: TypingTarget, message: string): EchoRow[] {
  return PACINGS.map((pacing) => ({
    system: target.system,
    path: target.path,
    pacing: pacing.name,
    keys: 0,
    p50Ms: null,
    p99Ms: null,
    maxMs: null,
    roundP99Ms: [],
    samplesMs: [],
    error: message,
  }));
}

/**
 * Scenario 2: keystroke echo latency. Every system is set up at once; then, `rounds` times, each
 * system in turn types 200 keys back to back (each right after the previous echo) and 60 keys with
 * 30 ms before each. p50/p99/max over all rounds, ms. A system that fails gets rows with `error`;
 * the others carry on.
 */
export async function runEchoLatency(
  ctx: BenchContext,
  options: { tui: boolean; rounds: number },
): Promise<EchoRow[]> {
  const targets = [orchestraTarget(ctx), orchestraTuiTarget(ctx), tmuxTarget(ctx)].filter(
    (t) => options.tui || t.system !== 'orchestra-tui',
  );
  const typists = targets.map((t) => new Typist(t));
  const failed = new Map<EchoSystem, string>();
  const fail = (target: TypingTarget, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  ${target.system} failed: ${message}`);
    failed.set(target.system, message);
  };
  /** samples[system][pacing][round] */
  const samples = new Map<EchoSystem, number[][][]>(targets.map((t) => [t.system, PACINGS.map(() => [])]));
  try {
    for (const typist of typists) {
      try {
        await typist.target.setup();
        for (let i = 0; i < WARMUP_KEYS; i++) await typist.typeOne();
      } catch (error) {
        fail(typist.target, error);
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const typist of typists) {
        const system = typist.target.system;
        if (failed.has(system)) continue;
        try {
          const perPacing = await typist.round();
          for (const [i, s] of perPacing.entries()) samples.get(system)![i]!.push(s);
          const p99s = perPacing.map((s) => percentile(s, 99).toFixed(2)).join(' / ');
          ctx.log(`  ${system.padEnd(13)} round ${round + 1}: p99 ${p99s} ms (back-to-back / paced)`);
        } catch (error) {
          fail(typist.target, error);
        }
      }
    }
    for (const typist of typists) {
      if (!failed.has(typist.target.system))
        await typist.verify().catch((error) => fail(typist.target, error));
    }
  } finally {
    for (const target of targets) await target.teardown().catch((error) => fail(target, error));
  }
  const out: EchoRow[] = [];
  for (const target of targets) {
    const error = failed.get(target.system);
    if (error !== undefined) {
      out.push(...failedRows(target, error));
      continue;
    }
    PACINGS.forEach((pacing, i) => {
      const rounds = samples.get(target.system)![i]!;
      const all = rounds.flat();
      out.push({
        system: target.system,
        path: target.path,
        pacing: pacing.name,
        keys: all.length,
        p50Ms: round(percentile(all, 50), 3),
        p99Ms: round(percentile(all, 99), 3),
        maxMs: round(Math.max(...all), 3),
        roundP99Ms: rounds.map((r) => round(percentile(r, 99), 3) ?? 0),
        samplesMs: all.map((s) => round(s, 3) ?? 0),
      });
    });
  }
  return out;
}
