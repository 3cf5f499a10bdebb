import { freemem } from 'node:os';
import { resolveAgent } from '../agents/adapters/registry.js';
import type { OrchestraConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ReadonlyState } from '../store/schema.js';
import { compareTaskIds, taskNumber } from '../tasks/naming.js';
import type { TaskFile } from '../tasks/task-file.js';
import { type DependencyState, dependencyState } from './board.js';

/**
 * Admission (issue 6, "Scheduler"): which queued task may start now, and when an attempt may
 * take a slot. A task starts when its dependencies are met, its agent's secrets are there, the
 * autonomy loop does not hold it back, and an attempt of it could start now (`maxParallel`, and
 * fewer when memory is short). A task that cannot start as things are is held back with a reason,
 * which the board shows and the person is told once.
 */

/**
 * Memory an attempt needs before another may start, bytes: a local agent (Node, git, a test run)
 * rarely needs more; a Docker worker reserves its configured limit instead.
 */
const LOCAL_ATTEMPT_MEMORY_BYTES = 512 * 1024 * 1024;

/** One attempt round's claim on `maxParallel`; `release` is idempotent. */
export interface Slot {
  release(): void;
}

/** What admission asks of the scheduler. */
export interface AdmissionHost {
  /** The session's config; `maxParallel` may change while the server runs (read each time). */
  readonly config: OrchestraConfig;
  /** The server's environment: where an agent's secrets are looked for. */
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** The autonomy loop, when it is on: whether it holds `task` back now (paused, capped...). */
  readonly autonomy: { holds(task: TaskFile): boolean } | undefined;
  /** A status-bar message for the person. */
  say(message: string): void;
  /** A slot came free: the queue should be looked at again. */
  slotFreed(): void;
  /** Free memory, bytes; os.freemem when not given. */
  freemem?: () => number;
  /** When the account's rate limit an agent waits out ends (ms since the epoch), if one does now. */
  rateLimitedUntil?: () => number | undefined;
}

/** A task admitted: to run, or to fail at once because a dependency failed (`failedDependency`). */
export interface Admitted {
  task: TaskFile;
  failedDependency?: string;
}

/** The slots, the tasks starting and the tasks held back, with the rule for what starts next. */
export class Admission {
  private readonly slotWaiters: Array<() => void> = [];
  /** The rate limit last told about (told once, not every tick). */
  private toldLimitedUntil: number | undefined;
  private activeAttempts = 0;
  /** Tasks admitted whose first attempt has not asked for a slot yet. */
  private readonly starting = new Set<string>();
  /** Queued tasks that cannot start as things are, with why (shown on the board). */
  private readonly blockedReasons = new Map<string, string>();

  constructor(private readonly host: AdmissionHost) {}

  /** Attempt rounds holding a slot now. */
  get active(): number {
    return this.activeAttempts;
  }

  /** Why each held-back queued task cannot start, by task id. */
  get blocked(): ReadonlyMap<string, string> {
    return this.blockedReasons;
  }

  /** True while task `id` is admitted and its first attempt has not asked for a slot yet. */
  isStarting(id: string): boolean {
    return this.starting.has(id);
  }

  /** Task `id`'s attempt is asking for its slot (or its run ended): it is starting no longer. */
  started(id: string): void {
    this.starting.delete(id);
  }

  /** How many attempts may hold a slot at once now: `maxParallel`, fewer when memory is short. */
  capacity(): number {
    const perAttempt =
      this.host.config.sandbox === 'local'
        ? LOCAL_ATTEMPT_MEMORY_BYTES
        : this.host.config.worker.memoryMb * 1024 * 1024;
    const free = (this.host.freemem ?? freemem)();
    // Keep one attempt's worth free for the machine itself.
    const byMemory = Math.max(1, Math.floor(free / perAttempt) - 1 + this.activeAttempts);
    return Math.min(this.host.config.maxParallel, byMemory);
  }

  /**
   * Waits for a free attempt slot (maxParallel and memory), in the order asked. A slot is held by
   * one round of one attempt, from its start to its outcome, and by nothing else: a slot holder
   * never waits for another slot, so no mix of strategies, `n` and `maxParallel` can deadlock.
   */
  acquireSlot(): Promise<Slot> {
    const slot = (): Slot => {
      this.activeAttempts++;
      let held = true;
      return {
        release: () => {
          if (!held) return;
          held = false;
          this.activeAttempts = Math.max(0, this.activeAttempts - 1);
          this.host.slotFreed();
        },
      };
    };
    if (this.activeAttempts < this.capacity() && this.slotWaiters.length === 0) {
      return Promise.resolve(slot());
    }
    return new Promise((resolve) => {
      this.slotWaiters.push(() => resolve(slot()));
    });
  }

  /** Returns `slot` when the round `run` starts has its outcome, whatever it is. */
  holdSlotFor(slot: Slot, run: () => Promise<unknown>): void {
    run().then(slot.release, slot.release);
  }

  /**
   * One look at the queue: hands free slots to the attempts waiting for them, then goes through
   * `queue` (the watcher's parsed files) in natural order and returns the tasks that may start now,
   * in that order. A task `running` already has, or whose record in `state` has ended, is passed
   * over; one held back gets (or keeps) its reason in {@link blocked}, told once per reason.
   */
  admit(queue: readonly TaskFile[], state: ReadonlyState, running: { has(id: string): boolean }): Admitted[] {
    while (this.slotWaiters.length > 0 && this.activeAttempts < this.capacity()) this.slotWaiters.shift()!();
    // The account is rate-limited: a new attempt would only wait too (or make it worse).
    const limited = this.host.rateLimitedUntil?.();
    if (limited !== undefined) {
      if (this.toldLimitedUntil !== limited) {
        this.toldLimitedUntil = limited;
        this.host.say(
          `rate-limited until ${new Date(limited).toTimeString().slice(0, 5)}: no new attempt starts before`,
        );
      }
      return [];
    }
    this.toldLimitedUntil = undefined;
    const tasks = [...queue].sort((a, b) => compareTaskIds(a.id, b.id));
    for (const id of this.blockedReasons.keys())
      if (!tasks.some((t) => t.id === id)) this.blockedReasons.delete(id);
    const queued = new Map(tasks.map((t) => [taskNumber(t.id), t]));
    const admitted: Admitted[] = [];
    for (const task of tasks) {
      if (running.has(task.id)) continue;
      const record = state.tasks[task.id];
      if (record && ['archived', 'dropped'].includes(record.state)) continue;
      // The autonomy loop holds its tasks back while paused, capped, or after its cycle stopped;
      // with autonomy turned off, nothing it queued starts by itself.
      if ((record === undefined || record.state === 'queued') && task.meta.origin === 'autonomy') {
        if (!this.host.autonomy) {
          this.block(
            task.id,
            'autonomy is off',
            `${task.id} waits: autonomy is off (turn it on, or \`orchestra task rm\` it)`,
          );
          continue;
        }
        if (this.host.autonomy.holds(task)) continue;
      }
      // See dependencyState, the one rule.
      const deps: DependencyState = dependencyState(task, { tasks: state.tasks, queued });
      if (typeof deps === 'object' && 'blocked' in deps) {
        this.block(task.id, deps.blocked, `${task.id} blocked: ${deps.blocked}`);
        continue;
      }
      if (deps === 'waiting') {
        this.blockedReasons.delete(task.id);
        continue;
      }
      const missing = typeof deps === 'object' ? undefined : this.missingKeyOf(task);
      if (missing) {
        // Kept, not deleted first: the same reason is told once, not on every tick (issue 12).
        this.block(
          task.id,
          `its agent needs ${missing.join(' or ')}, which this server does not have`,
          `no ${missing[0]}: export it, then \`orchestra tui\` hands it to this server`,
        );
        continue;
      }
      this.blockedReasons.delete(task.id);
      // A task admitted only when an attempt could start now; its further attempts queue for slots.
      const resuming =
        record?.state === 'running' || record?.state === 'succeeded' || record?.state === 'failed';
      // Tasks admitted that have not asked for their first slot yet count too: otherwise one look
      // would admit the whole queue while the first task is still reading its strategy.
      if (!resuming && this.activeAttempts + this.slotWaiters.length + this.starting.size >= this.capacity())
        break;
      if (typeof deps === 'object') {
        admitted.push({ task, failedDependency: deps.failed });
        continue;
      }
      if (!resuming) this.starting.add(task.id);
      admitted.push({ task });
    }
    return admitted;
  }

  /** Holds a queued task back with `reason` (the board's), telling the person once per reason. */
  private block(id: string, reason: string, message: string): void {
    if (this.blockedReasons.get(id) === reason) return;
    this.blockedReasons.set(id, reason);
    this.host.logger.warn({ task: id, reason }, 'task blocked');
    this.host.say(message);
  }

  /**
   * The secrets `task`'s agent needs of which the server has none (`['ANTHROPIC_API_KEY',
   * 'ANTHROPIC_AUTH_TOKEN']`: one would do), or undefined when it can run. An agent the config
   * does not know is left to fail at its start, with that reason.
   */
  missingKeyOf(task: TaskFile): readonly string[] | undefined {
    let required: readonly string[] | undefined;
    try {
      required = resolveAgent(this.host.config, task.meta.agent).adapter.requiredEnv;
    } catch {
      return undefined;
    }
    if (!required?.length || required.some((name) => this.host.env[name])) return undefined;
    return required;
  }

  /** The secrets the tasks of `queue` that are not `running` wait for, each once. */
  missingEnv(queue: readonly TaskFile[], running: { has(id: string): boolean }): string[] {
    const missing = new Set<string>();
    for (const task of queue) {
      if (running.has(task.id)) continue;
      for (const name of this.missingKeyOf(task) ?? []) missing.add(name);
    }
    return [...missing];
  }
}
