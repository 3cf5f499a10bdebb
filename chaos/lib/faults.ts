import { connect, type Socket } from 'node:net';
import { VERSION } from '../../src/cli/version.js';
import { encodeFrame, FrameType, NO_PANE } from '../../src/protocol/frame.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import type { AttemptState } from '../../src/store/schema.js';
import {
  AGENT_API_ATTEMPTS,
  type FaultKind,
  type FaultPlan,
  SCRIPTED_MODEL_FAULTS,
  type Trigger,
} from './plan.js';
import type { Rng } from './rng.js';
import { sleep, type World } from './world.js';

/**
 * Carries out a run's host-side faults at their triggers — server kills, kill-pane, a full disk,
 * a client that never reads, a commit on the base branch — and, at the end, works out which of
 * the model faults the scripted server and proxy actually served.
 */

export interface Injected {
  id: number;
  kind: FaultKind;
  /** ms since the run started; undefined for model faults (served some time during the run). */
  atMs?: number;
  detail: string;
}

/** Something a fault saw go wrong on its own (not an invariant of the end state). */
export interface FaultObservation {
  kind: 'server-unresponsive' | 'server-hang-on-term';
  detail: string;
}

export class FaultRunner {
  readonly injected: Injected[] = [];
  readonly observations: FaultObservation[] = [];
  /** Attempts whose agent pane the harness killed. */
  readonly killedPanes = new Set<string>();
  /** Time windows (ms since start) when the disk was full. */
  readonly diskFull: Array<{ from: number; to: number }> = [];
  private readonly controller = new AbortController();
  private readonly running: Promise<void>[] = [];
  /** Server kills and restarts one at a time. */
  private serverLock: Promise<void> = Promise.resolve();
  private readonly sockets = new Set<Socket>();
  private commits = 0;
  private holdingDisk = 0;

  /** True while the harness holds the disk full (the session cannot progress then). */
  get holding(): boolean {
    return this.holdingDisk > 0;
  }

  constructor(
    private readonly world: World,
    private readonly rng: Rng,
  ) {}

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): void {
    for (const fault of this.world.plan.faults) {
      if (!fault.trigger) continue;
      this.running.push(
        this.run(fault).catch((error: unknown) => {
          this.world.options.log(`  fault ${fault.id} ${fault.kind} failed: ${(error as Error).message}`);
        }),
      );
    }
  }

  /** Stops faults not yet fired, frees the disk, closes slow clients, waits for a restart under way. */
  async stop(): Promise<void> {
    this.controller.abort();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.running);
    await this.serverLock;
    await this.world.freeDisk();
  }

  private record(fault: FaultPlan, detail: string): void {
    const entry = { id: fault.id, kind: fault.kind, atMs: this.world.elapsed, detail };
    this.injected.push(entry);
    this.world.options.log(`  +${(entry.atMs / 1000).toFixed(1)}s ${fault.kind}: ${detail}`);
    void this.world.note(`fault ${fault.id} ${fault.kind}: ${detail}`);
  }

  /** Waits for the trigger; false when the run ended first. */
  private async triggered(trigger: Trigger): Promise<boolean> {
    if ('afterMs' in trigger) {
      await sleep(trigger.afterMs, this.signal);
      return !this.signal.aborted;
    }
    const want: AttemptState = trigger.whenState;
    while (!this.signal.aborted) {
      const state = this.world.state();
      if (state && Object.values(state.attempts).some((a) => a.state === want)) {
        await sleep(trigger.delayMs, this.signal);
        return !this.signal.aborted;
      }
      await sleep(100, this.signal);
    }
    return false;
  }

  private withServer<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serverLock.then(fn);
    this.serverLock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async run(fault: FaultPlan): Promise<void> {
    if (!(await this.triggered(fault.trigger!))) return;
    switch (fault.kind) {
      case 'sigkill':
      case 'sigterm':
        await this.withServer(async () => {
          if (this.signal.aborted || !(await this.world.waitReady(15_000))) return;
          const signal = fault.kind === 'sigkill' ? 'SIGKILL' : 'SIGTERM';
          this.world.down = true;
          const killed = await this.world.signalServer(signal);
          if (!killed) {
            this.world.down = false;
            return;
          }
          const pause = this.rng.int(200, 1500);
          this.record(fault, `${signal} server pid ${killed.pid}; restart after ${pause} ms`);
          if (killed.hung) {
            this.observations.push({
              kind: 'server-hang-on-term',
              detail: `server pid ${killed.pid} did not end within 20 s of ${signal}`,
            });
          }
          await sleep(pause);
          this.world.down = false;
          this.world.startServer();
          await this.world.waitReady();
        });
        return;
      case 'kill-pane':
        await this.withServer(() => this.killPane(fault));
        return;
      case 'disk-full': {
        if (!this.world.mount) return;
        const from = this.world.elapsed;
        this.holdingDisk++;
        try {
          await this.world.fillDisk();
          this.record(fault, `tmpfs filled for ${fault.holdMs} ms`);
          await sleep(fault.holdMs ?? 3000, this.signal);
          await this.world.freeDisk();
        } finally {
          this.holdingDisk--;
        }
        this.diskFull.push({ from, to: this.world.elapsed });
        return;
      }
      case 'slow-client':
        await this.slowClient(fault);
        return;
      case 'base-commit': {
        const k = ++this.commits;
        const sha = await this.world.baseCommit(k);
        if (sha) this.record(fault, `committed docs/base-${k}.md on main (${sha.slice(0, 10)})`);
        return;
      }
      default:
        return;
    }
  }

  /** `orchestra kill-pane` of a live agent pane, found with `orchestra list-panes --json`. */
  private async killPane(fault: FaultPlan): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!this.signal.aborted && Date.now() < deadline) {
      if (!this.world.current) {
        await sleep(200, this.signal);
        continue;
      }
      const listed = await this.world.cli(['list-panes', '-t', this.world.session, '--json']);
      let panes: Array<{ id: number; name: string; exited: boolean }> = [];
      try {
        panes = JSON.parse(listed.stdout);
      } catch {}
      const live = panes.filter((p) => /^task-\d+\/a\d+$/.test(p.name) && !p.exited);
      if (live.length > 0) {
        const pane = this.rng.pick(live);
        const attempt = pane.name.replace('/', '-');
        const result = await this.world.cli(['kill-pane', '-t', `${this.world.session}:%${pane.id}`]);
        if (result.code === 0) {
          this.killedPanes.add(attempt);
          this.record(fault, `kill-pane %${pane.id} (${attempt})`);
        } else {
          this.world.options.log(`  kill-pane %${pane.id} failed: ${result.stderr.trim().split('\n')[0]}`);
        }
        return;
      }
      await sleep(300, this.signal);
    }
  }

  /**
   * A client that connects, says HELLO as an attached client, asks for pane histories over and
   * over and never reads a byte; the server must stay up and keep answering others.
   */
  private async slowClient(fault: FaultPlan): Promise<void> {
    if (!(await this.world.waitReady(10_000)) || this.signal.aborted) return;
    const socket = connect(this.world.socketPath);
    this.sockets.add(socket);
    socket.on('error', () => {});
    await new Promise<void>((resolve) => {
      socket.once('connect', () => resolve());
      socket.once('error', () => resolve());
    });
    socket.pause();
    const hello = {
      protocol: PROTOCOL_VERSION,
      version: VERSION,
      mode: 'attach',
      cols: 200,
      rows: 60,
      term: 'xterm-256color',
      readOnly: true,
    };
    socket.write(encodeFrame(FrameType.Hello, NO_PANE, JSON.stringify(hello)));
    this.record(fault, `non-reading client for ${fault.holdMs} ms`);
    let id = 1;
    const until = Date.now() + (fault.holdMs ?? 5000);
    let probed = false;
    while (Date.now() < until && !this.signal.aborted && !socket.destroyed) {
      for (let pane = 1; pane <= 12; pane++) {
        const request = { kind: 'request', id: id++, command: { cmd: 'history', pane: `%${pane}` } };
        socket.write(encodeFrame(FrameType.Control, NO_PANE, JSON.stringify(request)));
      }
      if (!probed && Date.now() > until - (fault.holdMs ?? 5000) / 2) {
        probed = true;
        // Meanwhile a normal client must still get answers.
        const started = Date.now();
        const probe = await this.world.cli(['list-panes', '-t', this.world.session, '--json'], 15_000);
        if (probe.code !== 0 && this.world.current && !this.world.down) {
          this.observations.push({
            kind: 'server-unresponsive',
            detail: `list-panes failed after ${Date.now() - started} ms while a client did not read (${
              probe.timedOut ? 'timed out' : probe.stderr.trim().split('\n')[0]
            })`,
          });
        }
      }
      await sleep(50, this.signal);
    }
    socket.destroy();
    this.sockets.delete(socket);
  }

  /** Model faults that were served: scripted turns that went out, malformed answers the proxy gave. */
  modelFaultsServed(): Injected[] {
    const out: Injected[] = [];
    for (const fault of this.world.plan.faults) {
      if (fault.kind === 'model-malformed') {
        if (this.world.proxy.injected.has(fault.id)) {
          out.push({ id: fault.id, kind: fault.kind, detail: `${fault.attempt} request ${fault.request}` });
        }
        continue;
      }
      if (!SCRIPTED_MODEL_FAULTS.includes(fault.kind)) continue;
      const turns = this.world.faultTurns.get(fault.id) ?? [];
      const served = this.world.model.requests.filter(
        (r) => r.scenario === fault.attempt && r.turnIndex !== null && turns.includes(r.turnIndex),
      ).length;
      if (served > 0) {
        const note =
          fault.kind === 'model-exhaust'
            ? ` (${served}/${turns.length} errors, agent gives up after ${AGENT_API_ATTEMPTS})`
            : '';
        out.push({
          id: fault.id,
          kind: fault.kind,
          detail: `${fault.attempt} before turn ${fault.beforeTurn}${note}`,
        });
      }
    }
    return out;
  }
}
