import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatUsd } from '../agents/cost.js';
import { errorMessage, isOrchestraError, OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import { printable } from '../common/printable.js';
import type { AutonomyConfig, OrchestraConfig } from '../config/schema.js';
import { type GateResult, revertTipMerge } from '../git/merge.js';
import { git } from '../git/run-git.js';
import type { Logger } from '../log/logger.js';
import { upsertTask } from '../store/records.js';
import type {
  AutonomyPhase,
  AutonomyRecord,
  DeepReadonly,
  ReadonlyState,
  State,
  TaskRecord,
} from '../store/schema.js';
import type { StateStore } from '../store/store.js';
import { compareTaskIds, formatTaskId, queueFileName } from '../tasks/naming.js';
import { addTask, archiveTask, nextTaskNumber } from '../tasks/queue.js';
import { renderTaskFile, type TaskFile } from '../tasks/task-file.js';
import { learnFromTask } from './memory.js';
import { cycleFiles, readProposals, writeProposals } from './proposals.js';
import { selfImproveBrief } from './self-improve.js';

/**
 * The autonomous mode ("Infinite Orchestra", issue 11). When the session is idle — no task queued,
 * no attempt running, nobody typing for `idleMinutes` — a cycle runs:
 *
 *   idle → planning → executing → cooldown → idle …
 *
 * **planning**: a task of `kind: plan` is queued for the planner profile; the scheduler runs it
 * like any task, but its agent only reads the repository and calls `propose_task`, and the check
 * gate is skipped. Once it is archived, its proposals are read from its events file, rendered to
 * task files (origin autonomy, cycle N) and queued; malformed ones go to `rejected/`.
 * **executing**: the scheduler runs the cycle's tasks through the check gate. With
 * `stopOnFirstFailure`, the first failure archives the cycle's tasks that have not started as
 * "not run: cycle stopped". **cooldown**: `cooldownMinutes` of rest.
 *
 * A person's keystroke or a task added by hand pauses the cycle (`paused`): the scheduler starts
 * no more of its tasks (running attempts finish) until the session is idle again. A daily cap
 * (`maxTasksPerDay`, `budgetUsdPerDay`, UTC day) stops the loop for the day (`capped`).
 *
 * Crash safety: every phase change is written to the store before its effect, and each effect is
 * idempotent — the plan task and each proposal carry (cycle, index) in their front matter and are
 * found again rather than written twice — so a server killed anywhere goes on where it was.
 */

/** How often the loop looks at the session, ms: the idle clock and the cooldown tick by it. */
export const AUTONOMY_TICK_MS = 1000;

/** How the reason of a cycle's task archived without running begins. */
export const NOT_RUN_PREFIX = 'not run: ';

/** The reason a stopped cycle's tasks that never started are archived with. */
export const NOT_RUN_REASON = `${NOT_RUN_PREFIX}cycle stopped`;

/** How long a computed cap holds before it is worked out again, ms (holds() asks once per queued task per tick). */
const CAP_CACHE_MS = 1000;

/** Most archived tasks shown to the planner, newest first. */
const RECENT_TASKS = 10;

/** Longest failure reason shown to the planner per task, characters. */
const REASON_CHARS = 200;

/** What the loop needs from the session (the scheduler and the server provide it). */
export interface AutonomyHost {
  root: string;
  paths: OrchestraPaths;
  config: OrchestraConfig;
  store: StateStore;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** When a person last typed into a pane or pressed a key in an attached client, ms since the epoch. */
  lastActivityAt(): number;
  /**
   * What keeps the session busy: queued tasks (every origin), queued or running tasks of a person,
   * and attempts running.
   */
  work(): { queued: number; personTasks: number; running: number };
  /**
   * Archives a task that has not started to failed/ with `reason`.
   * @returns false when it had started (it runs on) or is not queued
   */
  archiveUnrun(id: string, reason: string): boolean;
  /**
   * What a task has spent so far, USD: its attempts (live ones too), judge and reviewer calls;
   * `unknown` counts its ended attempts whose cost nobody knows (an adapter without usage, an
   * events file the worker emptied).
   */
  taskSpend(record: DeepReadonly<TaskRecord>): { usd: number; unknown: number };
  /** Why the scheduler holds a queued task back (a missing API key), or undefined. */
  blockedReason(id: string): string | undefined;
  /**
   * Runs the setup and check commands on `commit` as the merge gate does (a worker without
   * secrets); used on the base branch's tip before a cycle.
   */
  gate(commit: string): Promise<GateResult>;
  /** Shows the phase on the status bar (`auto: planning`); undefined removes it. */
  showStatus(text: string | undefined): void;
  /** The clock, ms since the epoch (tests). */
  now?: () => number;
}

/** `orchestra autonomy status --json`. */
export interface AutonomyStatus {
  enabled: boolean;
  phase: AutonomyPhase;
  /** The latest cycle started, 0 before the first. */
  cycle: number;
  pausedByUser: boolean;
  /** Tasks the loop queued this UTC day (plan tasks not counted). */
  tasksToday: number;
  maxTasksPerDay?: number;
  /** USD spent by autonomous work this UTC day: planner, tasks, judge, reviewer and memory calls. */
  spentTodayUsd: number;
  budgetUsdPerDay?: number;
  /** When the next cycle may start (ISO 8601); undefined while a cycle runs or when paused. */
  nextStartAt?: string;
  /** Why the last cycle ended early, or why the loop waits (a cap). */
  reason?: string;
  /** This cycle's tasks, its plan task first. */
  tasks: string[];
}

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The autonomous loop of one session; see the module comment. Owned by the scheduler. */
export class AutonomyLoop {
  private timer: NodeJS.Timeout | undefined;
  /** The step running now; steps never overlap. */
  private stepping: Promise<void> | undefined;
  private seenActivity: number;
  /** When a person last added a task by hand, ms. */
  private handTaskAt = 0;
  /** A task was added by hand and the pause it asks for has not been recorded yet. */
  private pausePending = false;
  private capCache: { at: number; reason: string | undefined } | undefined;
  /** Memory updates, one at a time: each rewrites the whole file. */
  private memoryChain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly startedAt: number;

  constructor(private readonly host: AutonomyHost) {
    this.startedAt = this.now();
    this.seenActivity = host.lastActivityAt();
  }

  private get settings(): AutonomyConfig {
    return this.host.config.autonomy;
  }

  private now(): number {
    return this.host.now?.() ?? Date.now();
  }

  /** Starts the clock; the first step runs at once. */
  start(): void {
    this.timer = setInterval(() => void this.step(), AUTONOMY_TICK_MS);
    void this.step();
  }

  /** Stops the clock and waits for a step under way; nothing is undone (a restart goes on). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.stepping;
    await this.memoryChain;
  }

  /** The record in the store; a fresh one before the first cycle. */
  private record(state: ReadonlyState | State = this.host.store.read()): DeepReadonly<AutonomyRecord> {
    return state.autonomy ?? { cycle: 0, phase: 'idle', since: new Date(this.startedAt).toISOString() };
  }

  // ---- what the scheduler asks -------------------------------------------------------------------

  /**
   * Whether the scheduler must not start `task` now. One rule, worked out from the store each time
   * (so it holds across a restart, and before any step of the loop ran), for a task of the loop's
   * (front matter `origin: autonomy`) that has not started:
   * - the loop is paused or capped, or about to pause (a keystroke or a hand-added task it has not
   *   recorded yet);
   * - the daily budget is spent (a cycle under way starts nothing more; the task cap only keeps
   *   new cycles from starting: the tasks it counts are these);
   * - its cycle, the one executing, is stopping: with `stopOnFirstFailure` a task of it failed, or
   *   may be about to (every attempt of a running task ended, none passed) — the slot the failed
   *   attempt frees must not go to the next task before its task is archived.
   * A task a person retried is theirs and is never held.
   */
  holds(task: TaskFile): boolean {
    if (task.meta.origin !== 'autonomy') return false;
    const state = this.host.store.read();
    // A person's retry (it sets attemptOffset) makes the task theirs: nothing of the loop's holds it.
    if (state.tasks[task.id]?.attemptOffset !== undefined) return false;
    const record = this.record(state);
    if (record.phase === 'paused' || record.phase === 'capped') return true;
    const midCycle = record.phase === 'planning' || record.phase === 'executing';
    if (midCycle && (this.pausePending || this.host.lastActivityAt() > this.seenActivity)) return true;
    if (this.cachedBudgetReason() !== undefined) return true;
    if (task.meta.kind === 'plan' || record.phase !== 'executing' || task.meta.cycle !== record.cycle)
      return false;
    return this.settings.stopOnFirstFailure && this.cycleStopping(state, record.cycle);
  }

  /** Whether a task of `cycle` failed (not one archived unrun), or is about to. */
  private cycleStopping(state: ReadonlyState, cycle: number): boolean {
    for (const task of Object.values(state.tasks)) {
      if (task.origin !== 'autonomy' || task.kind === 'plan' || task.cycle !== cycle) continue;
      if (task.outcome === 'failed' && !task.error?.startsWith(NOT_RUN_PREFIX)) return true;
      if (task.state !== 'running') continue;
      const attempts = task.attempts.map((id) => state.attempts[id]).filter((a) => a !== undefined);
      const ended =
        attempts.length > 0 && attempts.every((a) => a.state === 'failed' || a.state === 'succeeded');
      if (ended && !attempts.some((a) => a.state === 'succeeded')) return true;
    }
    return false;
  }

  /** A task file appeared in the queue: one a person added pauses the cycle. */
  taskAdded(task: TaskFile): void {
    if (task.meta.origin === 'autonomy') return;
    this.personActed(`${task.id} was added by hand`);
  }

  /** A person acted on the queue (added or retried a task): the cycle pauses, the idle clock restarts. */
  personActed(why: string): void {
    this.handTaskAt = this.now();
    this.pausePending = true;
    void this.serial(async () => {
      this.pausePending = false;
      await this.personActive(why);
    });
  }

  /**
   * A task was archived. A failed task of the running cycle stops it when `stopOnFirstFailure`
   * (its queued tasks are archived unrun); a task that ran teaches the memory.
   */
  taskArchived(id: string, outcome: 'done' | 'failed', task: TaskFile): void {
    this.capCache = undefined;
    const record = this.record();
    const inCycle =
      task.meta.origin === 'autonomy' && task.meta.kind !== 'plan' && task.meta.cycle === record.cycle;
    if (inCycle && outcome === 'failed') void this.serial(() => this.checkExecution());
    const ran = (this.host.store.read().tasks[id]?.attempts.length ?? 0) > 0;
    if (task.meta.kind !== 'plan' && ran) this.learn(id, outcome, task);
  }

  // ---- commands -------------------------------------------------------------------------------

  /** `orchestra autonomy status`. */
  status(): AutonomyStatus {
    const state = this.host.store.read();
    const record = this.record(state);
    const today = this.today(state);
    const next = this.nextStartAt(record);
    return {
      enabled: this.settings.enabled,
      phase: record.phase,
      cycle: record.cycle,
      pausedByUser: record.pausedByUser === true,
      tasksToday: today.tasks,
      ...(this.settings.maxTasksPerDay !== undefined ? { maxTasksPerDay: this.settings.maxTasksPerDay } : {}),
      spentTodayUsd: today.usd,
      ...(this.settings.budgetUsdPerDay !== undefined
        ? { budgetUsdPerDay: this.settings.budgetUsdPerDay }
        : {}),
      ...(next !== undefined ? { nextStartAt: new Date(next).toISOString() } : {}),
      ...(this.reasonNow(record) ? { reason: this.reasonNow(record) } : {}),
      tasks: [...(record.planTask ? [record.planTask] : []), ...(record.cycleTasks ?? [])],
    };
  }

  /** Why the loop waits: the scheduler's hold on the plan task (a missing key), else the record's reason. */
  private reasonNow(record: DeepReadonly<AutonomyRecord>): string | undefined {
    const blocked =
      record.phase === 'planning' && record.planTask ? this.host.blockedReason(record.planTask) : undefined;
    return blocked ? `plan task ${record.planTask} blocked: ${blocked}` : record.reason;
  }

  /** `orchestra autonomy pause`: nothing more starts until `resume`, whatever the idle clock says. */
  pause(): Promise<AutonomyStatus> {
    return this.serial(async () => {
      const record = this.record();
      if (record.phase === 'paused') await this.update({ pausedByUser: true });
      else
        await this.setPhase('paused', { pausedFrom: record.phase, pausedByUser: true }, 'paused by the user');
    }).then(() => this.status());
  }

  /** `orchestra autonomy resume`: a cycle paused goes on now; otherwise the idle clock decides. */
  resume(): Promise<AutonomyStatus> {
    return this.serial(async () => {
      this.ignoreActivitySoFar();
      const record = this.record();
      if (record.phase !== 'paused') return;
      await this.setPhase(resumePhase(record), { pausedByUser: false }, 'resumed by the user');
    }).then(() => this.status());
  }

  /**
   * `orchestra autonomy run-now`: starts a cycle without waiting for the idle clock (a paused cycle
   * goes on instead). The caps still hold.
   *
   * @throws OrchestraError USAGE while a cycle runs, or when a daily cap is reached
   */
  runNow(): Promise<AutonomyStatus> {
    return this.serial(async () => {
      this.ignoreActivitySoFar();
      const record = this.record();
      if (record.phase === 'planning' || record.phase === 'executing') {
        throw new OrchestraError('USAGE', `cycle ${record.cycle} is ${record.phase} already`, {
          hint: '`orchestra autonomy status` shows its tasks',
        });
      }
      if (record.phase === 'paused' && resumePhase(record) !== 'idle') {
        await this.setPhase(resumePhase(record), { pausedByUser: false }, 'resumed by the user');
        return;
      }
      if (!(await this.baseStillGreen())) return;
      const cap = this.capReason();
      if (cap) {
        throw new OrchestraError('USAGE', `no cycle today: ${cap}`, {
          hint: 'the caps are autonomy.maxTasksPerDay and autonomy.budgetUsdPerDay; a new UTC day resets them',
        });
      }
      await this.startCycle('started by the user');
    }).then(() => this.status());
  }

  /**
   * The keys that typed a command (`orchestra autonomy run-now` in a pane, then Enter) are not a
   * person's activity against it: the cycle it starts must not pause at the next step.
   */
  private ignoreActivitySoFar(): void {
    this.seenActivity = Math.max(this.seenActivity, this.host.lastActivityAt());
  }

  // ---- the clock --------------------------------------------------------------------------------

  /** Runs `fn` after the step or command under way: the loop's changes never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = (this.stepping ?? Promise.resolve()).then(fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.stepping = settled;
    return run;
  }

  private step(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.serial(async () => {
      if (this.stopped) return;
      try {
        await this.advance();
      } catch (error) {
        this.host.logger.warn({ err: error }, 'autonomy step failed; trying again');
      }
      this.render();
    });
  }

  private async advance(): Promise<void> {
    const activity = this.host.lastActivityAt();
    if (activity > this.seenActivity) {
      this.seenActivity = activity;
      await this.personActive('a person typed');
    }
    const record = this.record();
    switch (record.phase) {
      case 'off':
      case 'idle': {
        if (!this.sessionIdle()) return;
        // A base an autonomy merge broke is repaired first, whatever the caps say.
        if (!(await this.baseStillGreen())) return;
        const cap = this.capReason();
        if (cap) return this.setPhase('capped', { reason: cap }, cap);
        return this.startCycle('the session is idle');
      }
      case 'planning':
        return this.checkPlan();
      case 'executing':
        return this.checkExecution();
      case 'cooldown':
        if (this.now() >= Date.parse(record.since) + minutesMs(this.settings.cooldownMinutes))
          return this.setPhase('idle', {}, 'cooldown over');
        return;
      case 'paused':
        if (!record.pausedByUser && this.personAway())
          return this.setPhase(resumePhase(record), {}, 'the session is idle again');
        return;
      case 'capped':
        if (utcDay(this.now()) !== utcDay(Date.parse(record.since)))
          return this.setPhase('idle', { reason: undefined }, 'a new day');
        return;
    }
  }

  /** Since when nobody has been at work: the later of a keystroke, a task added by hand, the start. */
  private quietSince(): number {
    return Math.max(this.host.lastActivityAt(), this.handTaskAt, this.startedAt);
  }

  private quietLongEnough(): boolean {
    return this.now() - this.quietSince() >= minutesMs(this.settings.idleMinutes);
  }

  /** Idle, for a new cycle: nothing queued, nothing running, nobody typing for `idleMinutes`. */
  private sessionIdle(): boolean {
    const work = this.host.work();
    return work.queued === 0 && work.running === 0 && this.quietLongEnough();
  }

  /** Idle enough for a paused cycle to go on: no task of a person's, nobody typing for `idleMinutes`. */
  private personAway(): boolean {
    return this.host.work().personTasks === 0 && this.quietLongEnough();
  }

  /** A keystroke or a hand-added task: a cycle under way (or resting) pauses. */
  private async personActive(why: string): Promise<void> {
    const record = this.record();
    if (record.phase === 'planning' || record.phase === 'executing' || record.phase === 'cooldown') {
      await this.setPhase('paused', { pausedFrom: record.phase }, `paused: ${why}`);
    }
  }

  // ---- the cycle ---------------------------------------------------------------------------------

  /** The day's tasks and spend of autonomous work (UTC). */
  private today(state: ReadonlyState = this.host.store.read()): { tasks: number; usd: number } {
    const day = utcDay(this.now());
    let tasks = 0;
    let usd = 0;
    for (const record of Object.values(state.tasks)) {
      if (record.origin !== 'autonomy' || utcDay(Date.parse(record.createdAt)) !== day) continue;
      if (record.kind !== 'plan') tasks++;
      const spend = this.host.taskSpend(record);
      // An attempt of unknown cost counts as its whole budget: an unknown must never read as free.
      usd +=
        spend.usd +
        spend.unknown *
          this.profileBudget(record.kind === 'plan' ? this.settings.planner : this.settings.executor);
    }
    const auto = state.autonomy;
    if (auto?.day === day) usd += auto.memoryUsd ?? 0;
    return { tasks, usd };
  }

  /** A profile's per-attempt budget, USD; 0 for a name the config does not have. */
  private profileBudget(name: string): number {
    return this.host.config.profiles[name]?.budgetUsd ?? 0;
  }

  /** {@link budgetReason}, worked out at most every {@link CAP_CACHE_MS} (and again after an archive). */
  private cachedBudgetReason(): string | undefined {
    const now = this.now();
    if (!this.capCache || now - this.capCache.at > CAP_CACHE_MS)
      this.capCache = { at: now, reason: this.budgetReason() };
    return this.capCache.reason;
  }

  /** Why no cycle may start today (either cap), or undefined. */
  private capReason(): string | undefined {
    const { maxTasksPerDay } = this.settings;
    const { tasks } = this.today();
    if (maxTasksPerDay !== undefined && tasks >= maxTasksPerDay)
      return `daily task cap reached: ${tasks} of ${maxTasksPerDay} tasks today`;
    return this.budgetReason();
  }

  /** Why autonomous work may spend nothing more today, or undefined. */
  private budgetReason(): string | undefined {
    const { budgetUsdPerDay } = this.settings;
    const { usd } = this.today();
    if (budgetUsdPerDay !== undefined && usd >= budgetUsdPerDay)
      return `daily budget reached: ${formatUsd(usd)} of ${formatUsd(budgetUsdPerDay)} today`;
    return undefined;
  }

  private nextStartAt(record: DeepReadonly<AutonomyRecord>): number | undefined {
    switch (record.phase) {
      case 'idle':
      case 'off':
        return Math.max(this.now(), this.quietSince() + minutesMs(this.settings.idleMinutes));
      case 'cooldown':
        return Date.parse(record.since) + minutesMs(this.settings.cooldownMinutes);
      case 'capped': {
        const midnight = new Date(utcDay(this.now()));
        return midnight.getTime() + 24 * 60 * 60 * 1000;
      }
      default:
        return undefined;
    }
  }

  /**
   * Starts cycle N+1: the store says `planning` first, then the plan task is queued (found again
   * when a crash came between the two, by its front matter).
   */
  private async startCycle(why: string): Promise<void> {
    const record = this.record();
    const cycle = record.cycle + 1;
    const { maxTasksPerDay, maxTasksPerCycle, selfImprove } = this.settings;
    const left = maxTasksPerDay === undefined ? maxTasksPerCycle : maxTasksPerDay - this.today().tasks;
    await this.setPhase(
      'planning',
      {
        cycle,
        proposalLimit: Math.max(1, Math.min(maxTasksPerCycle, left)),
        selfImprove: selfImprove.enabled && cycle % selfImprove.everyCycles === 0,
        planTask: undefined,
        cycleTasks: [],
        stoppedBy: undefined,
        reason: undefined,
        pausedFrom: undefined,
        pausedByUser: false,
      },
      why,
    );
    await this.checkPlan();
  }

  /**
   * Before a cycle: when the base branch's tip is an autonomy task's merge not yet checked, runs the
   * checks on it; when they fail there (something outside the merge gate's run changed: a flaky
   * check, the machine, a dependency), the merge is reverted with a revert commit, the task's record
   * says so, and a task in failed/ records why. The revert lands before its record: a server killed
   * between the two leaves the revert without its record, never a record without a revert.
   *
   * @returns false when it reverted (the next step starts the cycle on the repaired base)
   */
  private async baseStillGreen(): Promise<boolean> {
    if (!this.host.config.autoMerge) return true;
    const base = this.host.config.baseBranch;
    const tip = (
      await git(this.host.root)
        .raw(['rev-parse', '--verify', '--quiet', `refs/heads/${base}^{commit}`])
        .catch(() => '')
    ).trim();
    const record = this.record();
    if (tip === '' || record.verifiedTip === tip) return true;
    const merged = Object.values(this.host.store.read().tasks).find(
      (t) => t.origin === 'autonomy' && t.mergedCommit === tip && t.revertedBy === undefined,
    );
    if (!merged) return true;
    const gate = await this.host.gate(tip);
    if (gate.ok) {
      await this.update({ verifiedTip: tip });
      return true;
    }
    const why = `${gate.detail ?? 'the checks failed'} on ${base} after ${merged.id} merged`;
    const revert = await revertTipMerge({
      root: this.host.root,
      baseBranch: base,
      merge: tip,
      message: `orchestra: revert ${merged.id}: ${why}`,
    });
    if (!revert.reverted) {
      this.host.logger.warn({ task: merged.id, reason: revert.reason }, `not reverted: ${revert.detail}`);
      await this.update({ verifiedTip: tip });
      return true;
    }
    this.host.logger.warn({ task: merged.id, commit: revert.commit, reason: why }, 'merge reverted');
    await this.recordRevert(merged.id, merged.title ?? merged.id, revert.commit, why, gate.output);
    return false;
  }

  /** The record of a revert: on the reverted task, and as a task archived in failed/ saying why. */
  private async recordRevert(
    id: string,
    title: string,
    commit: string,
    why: string,
    output: string,
  ): Promise<void> {
    const record = this.record();
    const recordId = formatTaskId(await nextTaskNumber(this.host.paths));
    const text = renderTaskFile(
      {
        title: `Reverted ${id}: ${oneLine(title)}`,
        goal: `Make ${id}'s change again so that the checks pass on the base branch; its merge was reverted by ${commit.slice(0, 12)} because ${oneLine(why)}.`,
        origin: 'autonomy',
        ...(record.cycle > 0 ? { cycle: record.cycle } : {}),
      },
      recordId,
    );
    const tail = output.trimEnd().split('\n').slice(-20).join('\n');
    const { path } = await archiveTask(
      this.host.paths,
      recordId,
      'failed',
      {
        attempts: 0,
        durationMs: 0,
        reason: `reverted ${id}: ${why}`,
        ...(tail ? { checkOutput: tail } : {}),
      },
      new Date(this.now()),
      { text },
    );
    await this.host.store.update((draft) => {
      const task = draft.tasks[id];
      if (task) task.revertedBy = commit;
      upsertTask(draft, {
        id: recordId,
        state: 'archived',
        outcome: 'failed',
        title: `Reverted ${id}`,
        // No origin in the store: it is a record, not a task the loop queued (the daily cap counts those).
        error: `reverted ${id}: ${why}`,
        archivedAs: `failed/${path.split('/').pop()}`,
      });
    });
  }

  /** Planning: queues the plan task if it is not there; once it is archived, queues its proposals. */
  private async checkPlan(): Promise<void> {
    const record = this.record();
    let planTask = record.planTask;
    if (planTask === undefined) {
      const files = await cycleFiles(this.host.paths, record.cycle);
      planTask = files.find((f) => f.kind === 'plan')?.taskId;
      if (planTask === undefined) {
        try {
          planTask = (await addTask(this.host.paths, { render: (id) => this.planText(record, id) })).id;
        } catch (error) {
          if (!isOrchestraError(error, 'TASK_INVALID')) throw error;
          return this.setPhase(
            'cooldown',
            { reason: errorMessage(error) },
            'the plan task cannot be written',
          );
        }
      }
      await this.update({ planTask });
      this.host.logger.info({ cycle: record.cycle, task: planTask }, 'plan task queued');
    }
    const task = this.host.store.read().tasks[planTask];
    if (task === undefined && this.gone(planTask)) {
      return this.setPhase(
        'cooldown',
        { reason: `planning failed: ${planTask} was removed` },
        'plan task removed',
      );
    }
    if (task?.state !== 'archived' && task?.state !== 'dropped') return;
    if (task.state === 'dropped' || task.outcome !== 'done') {
      const reason = `planning failed: ${task.error ?? 'the plan task was removed'}`;
      return this.setPhase('cooldown', { reason }, reason);
    }
    const attempt = this.host.store.read().attempts[task.attempts.at(-1) ?? ''];
    // The tool takes up to maxTasksPerCycle; what the day has room for is queued, the rest rejected.
    const proposals = attempt
      ? await readProposals(join(attempt.runDir, 'events.jsonl'), this.settings.maxTasksPerCycle)
      : [];
    const result = await writeProposals({
      paths: this.host.paths,
      cycle: record.cycle,
      proposals,
      check: this.duplicateCheck(),
      limit: {
        tasks: record.proposalLimit ?? this.settings.maxTasksPerCycle,
        reason: "over the cycle's share of autonomy.maxTasksPerDay",
      },
    });
    for (const r of result.rejected)
      this.host.logger.warn(
        { cycle: record.cycle, proposal: r.index, reason: r.reason, file: r.file },
        'proposal rejected',
      );
    const cycleTasks = result.written.map((w) => w.taskId).sort(compareTaskIds);
    if (cycleTasks.length === 0) {
      const reason =
        result.rejected.length > 0
          ? `every proposal was rejected (${result.rejected.length})`
          : 'the planner proposed no task';
      return this.setPhase('cooldown', { cycleTasks, reason }, reason);
    }
    await this.setPhase(
      'executing',
      { cycleTasks },
      `${cycleTasks.length} task(s) queued, ${result.rejected.length} rejected`,
    );
  }

  /**
   * Refuses a proposal that repeats the title of a task queued, running or done (a failed one may
   * be tried again), or of an earlier proposal of the same call: planners propose what is already
   * there, and running it twice wastes a day's cap.
   */
  private duplicateCheck(): (task: TaskFile) => void {
    const key = (title: string) => title.trim().toLowerCase().replace(/\s+/g, ' ');
    const titles = new Map<string, string>();
    for (const t of Object.values(this.host.store.read().tasks)) {
      if (t.title && t.kind !== 'plan' && t.state !== 'dropped' && t.outcome !== 'failed')
        titles.set(key(t.title), t.id);
    }
    return (task) => {
      const other = titles.get(key(task.title));
      if (other !== undefined && other !== task.id) {
        throw new OrchestraError('TASK_INVALID', `it repeats ${other} ("${printable(task.title)}")`, {
          hint: 'propose a task that is not queued or done already',
        });
      }
      titles.set(key(task.title), task.id);
    };
  }

  /**
   * A task id the store never got and whose queue file is gone (removed before the watcher saw
   * it): it will never run, and counts as dropped.
   */
  private gone(id: string): boolean {
    return !existsSync(join(this.host.paths.tasks, queueFileName(id)));
  }

  /**
   * Executing: stops the cycle at its first failure (`stopOnFirstFailure`) or at a daily cap — its
   * queued tasks are archived unrun, running ones finish — and rests once every task has ended.
   */
  private async checkExecution(): Promise<void> {
    const record = this.record();
    if (record.phase !== 'executing' && record.phase !== 'paused') return;
    const tasks = this.host.store.read().tasks;
    const ids = record.cycleTasks ?? [];
    let stoppedBy = record.stoppedBy;
    if (stoppedBy === undefined && this.settings.stopOnFirstFailure) {
      const failed = ids.find(
        (id) => tasks[id]?.outcome === 'failed' && !tasks[id]?.error?.startsWith(NOT_RUN_PREFIX),
      );
      if (failed) stoppedBy = `${failed} failed: ${tasks[failed]?.error ?? 'failed'}`;
    }
    const cap = stoppedBy === undefined ? this.budgetReason() : undefined;
    if (cap !== undefined) stoppedBy = cap;
    if (stoppedBy !== record.stoppedBy) {
      await this.update({ stoppedBy });
      this.host.logger.warn({ cycle: record.cycle, reason: stoppedBy }, 'cycle stopped');
    }
    if (stoppedBy !== undefined) {
      const reason = cap !== undefined ? `${NOT_RUN_PREFIX}${cap}` : NOT_RUN_REASON;
      for (const id of ids) {
        const state = tasks[id]?.state;
        if (state === undefined || state === 'queued') this.host.archiveUnrun(id, reason);
      }
    }
    if (record.phase !== 'executing') return;
    const open = ids.filter((id) => {
      const state = this.host.store.read().tasks[id]?.state;
      if (state === undefined) return !this.gone(id);
      return state !== 'archived' && state !== 'dropped';
    });
    if (open.length > 0) return;
    await this.setPhase(
      'cooldown',
      stoppedBy ? { reason: `cycle stopped: ${stoppedBy}` } : {},
      stoppedBy ? `cycle ${record.cycle} stopped` : `cycle ${record.cycle} done`,
    );
  }

  /** The plan task's markdown: the goal verbatim (or the session's record), recent tasks, the rules. */
  private planText(record: DeepReadonly<AutonomyRecord>, id: string): string {
    const limit = record.proposalLimit ?? this.settings.maxTasksPerCycle;
    const state = this.host.store.read();
    const recent = Object.values(state.tasks)
      .filter((t) => t.state === 'archived' && t.kind !== 'plan')
      .sort((a, b) => compareTaskIds(b.id, a.id))
      .slice(0, RECENT_TASKS)
      .map((t) => {
        const why = t.outcome === 'failed' && t.error ? `: ${oneLine(t.error).slice(0, REASON_CHARS)}` : '';
        return `- ${t.id} (${t.outcome ?? 'archived'}${why}) ${oneLine(t.title ?? '')}`;
      });
    const goal = record.selfImprove
      ? [
          "Improve how this repository's tasks go under orchestra. Below is the session's own record: failed",
          'tasks and their reasons, check failures, model errors and retries, time and cost per task. Propose',
          'tasks that fix their causes — in the code, or in .orchestra/ (setup, check, profiles) as a change',
          'the person reviews before it merges.',
          '',
          selfImproveBrief(state),
        ].join('\n')
      : (this.settings.goal ?? 'Keep the repository healthy: its checks green, its code clear.');
    return renderTaskFile(
      {
        title: `Plan cycle ${record.cycle}`,
        goal,
        before: recent.length
          ? `Recently archived tasks, newest first:\n\n${recent.join('\n')}`
          : 'No task has been archived yet.',
        after: [
          `Up to ${limit} small, safe tasks toward the goal are proposed with propose_task, each checkable by`,
          'the commands of its test plan. Read the repository first; change nothing. End your turn when done.',
        ].join('\n'),
        origin: 'autonomy',
        cycle: record.cycle,
        kind: 'plan',
        profile: this.settings.planner,
      },
      id,
    );
  }

  // ---- memory -----------------------------------------------------------------------------------

  /** After an archive: one memory call (serialized), its cost counted in the day's spend. */
  private learn(id: string, outcome: 'done' | 'failed', task: TaskFile): void {
    this.memoryChain = this.memoryChain.then(async () => {
      if (this.stopped) return;
      // A capped day makes no more model calls, memory's included.
      if (this.budgetReason() !== undefined) return;
      const record = this.host.store.read().tasks[id];
      const archived = record?.archivedAs
        ? await readFile(join(this.host.paths.dir, record.archivedAs), 'utf8').catch(() => '')
        : '';
      const result = archived.split(/\n## Result\b/)[1];
      try {
        const learned = await learnFromTask({
          root: this.host.root,
          config: this.host.config,
          env: this.host.env,
          task: {
            id,
            title: task.title,
            outcome,
            ...(record?.error ? { reason: oneLine(record.error) } : {}),
            ...(result ? { result } : {}),
          },
        });
        // A call of unknown price counts as the memory profile's whole budget.
        const usd = learned.usd ?? this.profileBudget('memory');
        const day = utcDay(this.now());
        await this.host.store.update((draft) => {
          const auto = draft.autonomy ?? this.record(draft);
          const spent = auto.day === day ? (auto.memoryUsd ?? 0) : 0;
          draft.autonomy = withPatch(auto, { day, memoryUsd: spent + usd });
        });
        this.host.logger.info(
          { task: id, changed: learned.changed, usd, refused: learned.refused },
          learned.changed ? 'memory updated' : 'memory unchanged',
        );
      } catch (error) {
        this.host.logger.warn({ task: id, err: error }, 'memory not updated');
      }
    });
  }

  // ---- the record ------------------------------------------------------------------------------

  private async update(patch: Partial<AutonomyRecord>): Promise<void> {
    await this.host.store.update((draft) => {
      draft.autonomy = withPatch(draft.autonomy ?? this.record(draft), patch);
    });
  }

  /** Records a phase change (store first), then says it: a log line, an event, the status bar. */
  private async setPhase(phase: AutonomyPhase, patch: Partial<AutonomyRecord>, why: string): Promise<void> {
    const from = this.record().phase;
    const since = new Date(this.now()).toISOString();
    await this.update({ ...patch, phase, since });
    const record = this.record();
    // The status bar changes with the store, before any await, so no reader sees the new phase
    // in the store and the old one on the bar.
    this.render();
    const fields = { cycle: record.cycle, from, phase, reason: printable(why) };
    this.host.logger.info(fields, `autonomy: ${phase}`);
    const dir = join(this.host.paths.runs, 'autonomy');
    await mkdir(dir, { recursive: true })
      .then(() =>
        appendFile(join(dir, 'events.jsonl'), `${JSON.stringify({ ts: since, type: 'phase', ...fields })}\n`),
      )
      .catch((error: unknown) => this.host.logger.warn({ err: error }, 'autonomy event not written'));
  }

  /** The status bar's `auto:` field. */
  private render(): void {
    const record = this.record();
    const state = this.host.store.read();
    let text: string = record.phase;
    if (record.phase === 'executing') {
      const ids = record.cycleTasks ?? [];
      const ended = ids.filter((id) => state.tasks[id]?.state === 'archived').length;
      text = `executing ${ended}/${ids.length}`;
    } else if (record.phase === 'cooldown') {
      const left = Date.parse(record.since) + minutesMs(this.settings.cooldownMinutes) - this.now();
      text = `cooldown ${clock(left)}`;
    } else if (record.phase === 'capped') {
      text = 'capped for today';
    }
    this.host.showStatus(text);
  }
}

/** Where a paused loop goes on: the cycle it paused, or idle after a rest. */
function resumePhase(record: DeepReadonly<AutonomyRecord>): AutonomyPhase {
  const from = record.pausedFrom;
  return from === 'planning' || from === 'executing' ? from : 'idle';
}

function withPatch(record: DeepReadonly<AutonomyRecord>, patch: Partial<AutonomyRecord>): AutonomyRecord {
  const next: Record<string, unknown> = { ...record };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as AutonomyRecord;
}

function minutesMs(minutes: number): number {
  return minutes * 60_000;
}

/** `m:ss` of a duration, 0:00 for a past one. */
function clock(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Text from the store (a model or a failing command wrote it) as one plain line for a list entry. */
function oneLine(text: string): string {
  return printable(text)
    .replace(/\s+/g, ' ')
    .replace(/^#+\s*/, '')
    .trim();
}
