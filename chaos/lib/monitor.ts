import { join } from 'node:path';
import { sleep, type World } from './world.js';

/**
 * Watches the run while it goes: an attempt the store calls `running` must have its agent
 * process. One whose agent has been gone for {@link ORPHAN_MS} while a server was up (and had been
 * for a while, so a restart's resume is not mistaken for it) is orphaned: nothing will ever finish
 * it, even if a later restart happens to pick it up and hide it at the end.
 */

const ORPHAN_MS = 15_000;
/** A server this young may still be resuming its attempts. */
const SETTLE_MS = 8000;
const EVERY_MS = 500;

export interface Orphan {
  attempt: string;
  atMs: number;
  detail: string;
}

export class Monitor {
  readonly orphans: Orphan[] = [];
  private readonly missingSince = new Map<string, number>();
  private readonly reported = new Set<string>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private serverSince = new Map<number, number>();

  constructor(private readonly world: World) {}

  start(): void {
    if (this.world.options.docker) return; // the agent is a container's process there
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.tick();
      await sleep(EVERY_MS);
    }
  }

  private tick(): void {
    const server = this.world.current;
    const now = Date.now();
    if (!server || this.world.down) {
      this.missingSince.clear();
      return;
    }
    if (!this.serverSince.has(server.n)) this.serverSince.set(server.n, now);
    if (now - this.serverSince.get(server.n)! < SETTLE_MS) {
      this.missingSince.clear();
      return;
    }
    const state = this.world.state();
    if (!state) return;
    const agents = new Set(this.world.agents().map((p) => p.runDir));
    for (const a of Object.values(state.attempts)) {
      if (a.state !== 'running' || (a.sandbox && a.sandbox !== 'local')) {
        this.missingSince.delete(a.id);
        continue;
      }
      if (agents.has(a.runDir) || agents.has(join(this.world.paths.runs, a.id))) {
        this.missingSince.delete(a.id);
        continue;
      }
      const since = this.missingSince.get(a.id) ?? now;
      this.missingSince.set(a.id, since);
      if (now - since >= ORPHAN_MS && !this.reported.has(a.id)) {
        this.reported.add(a.id);
        this.orphans.push({
          attempt: a.id,
          atMs: this.world.elapsed,
          detail: `${a.id} has been "running" in the store with no agent process for ${ORPHAN_MS / 1000}s (server ${server.n} up; pane ${a.paneId ?? '?'})`,
        });
        this.world.options.log(`  orphaned attempt: ${a.id}`);
      }
    }
  }
}
