import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process the benchmark starts (orchestra servers, tmux servers, clients, and through them
 * every pane) carries this variable with this run's id, so that a final sweep can find and end
 * exactly those processes — by pid, never by name — whatever went wrong before.
 */
export const RUN_MARKER_VAR = 'ORCHESTRA_BENCH_RUN';

/** How long one cleanup step may take before the next one runs anyway, ms. */
const STEP_TIMEOUT_MS = 5_000;

/** A registered cleanup step. */
export interface CleanupHandle {
  /** Runs the step now, unless it already ran. */
  run(): Promise<void>;
  /** Drops the step without running it (its owner has taken over). */
  forget(): void;
}

/**
 * Cleanup actions, run last-in first-out. Each step is bounded and its failure is reported, not
 * thrown, so that one stuck server never keeps the others (or the temp directory) alive.
 */
export class Cleanup {
  private readonly steps: Array<{ label: string; run: () => unknown }> = [];
  private running: Promise<void> | undefined;

  constructor(private readonly log: (line: string) => void = () => {}) {}

  /**
   * Registers `run`; the handle runs it now (once) or drops it, in both cases unregistering it.
   * Once `runAll` has started, a new step runs at once: whatever a scenario still starts while the
   * benchmark is stopping is stopped too.
   */
  add(label: string, run: () => unknown): CleanupHandle {
    const step = { label, run };
    if (this.running) {
      const done = this.runStep(step);
      return { run: () => done, forget: () => {} };
    }
    this.steps.push(step);
    const remove = () => {
      const index = this.steps.indexOf(step);
      if (index < 0) return false;
      this.steps.splice(index, 1);
      return true;
    };
    return {
      run: async () => {
        if (remove()) await this.runStep(step);
      },
      forget: () => {
        remove();
      },
    };
  }

  /** Runs every registered step, newest first. Safe to call more than once. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) await this.runStep(this.steps.pop()!);
    })();
    return this.running;
  }

  private async runStep(step: { label: string; run: () => unknown }): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(step.run),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), STEP_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      this.log(`cleanup "${step.label}" failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Pids of our own processes whose environment holds `RUN_MARKER_VAR=runId` (this process excluded). */
export function markedProcesses(runId: string): number[] {
  const needle = Buffer.from(`\0${RUN_MARKER_VAR}=${runId}\0`);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      // environ is readable only for our own processes, which is exactly the set we may end.
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
      if (environ.includes(needle)) pids.push(pid);
    } catch {
      // Gone, or someone else's process: not ours to end.
    }
  }
  return pids;
}

/** SIGKILLs every process of this run that is still alive; returns how many there were. */
export function killMarkedProcesses(runId: string): number {
  const pids = markedProcesses(runId);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Exited between the scan and the kill.
    }
  }
  return pids.length;
}
