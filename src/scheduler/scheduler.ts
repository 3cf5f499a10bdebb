import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CostSummary, combineCosts, costOfUsd, formatCost } from '../agents/cost.js';
import { AutonomyLoop, type AutonomyStatus } from '../autonomy/loop.js';
import { errorMessage, OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import { printable } from '../common/printable.js';
import { loadConfig } from '../config/load.js';
import type { OrchestraConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { BoardTask } from '../protocol/board.js';
import type { SessionServer } from '../server/session-server.js';
import { taskOutcome, upsertTask } from '../store/records.js';
import {
  type AttemptRecord,
  type DeepReadonly,
  FINISHED_ATTEMPT_STATES,
  type TaskRecord,
} from '../store/schema.js';
import type { StateStore } from '../store/store.js';
import { loadStrategy } from '../strategies/load.js';
import type { StrategyResult } from '../strategies/types.js';
import { writeNewFile } from '../tasks/move-file.js';
import { taskNumber, taskNumberFromRef } from '../tasks/naming.js';
import type { TaskFile } from '../tasks/task-file.js';
import { type QueueWatcher, watchQueue } from '../tasks/watcher.js';
import { dockerClient } from '../workers/docker-engine.js';
import { dockerBridgeNetwork, LoopbackForwarderPool } from '../workers/loopback-forwarder.js';
import { removeStrayContainers } from '../workers/session-containers.js';
import { Admission } from './admission.js';
import { TaskArchive } from './archive.js';
import type { AttemptHost, AttemptRunner } from './attempt-runner.js';
import { boardRows } from './board.js';
import { type StrategyHost, strategyContext } from './strategy-context.js';

/** How often the scheduler looks for work it can start, ms (a new task is picked up within this). */
export const SCHEDULER_TICK_MS = 500;

/** How long a failed start-up or archive step (a full disk) waits before it is tried again, ms. */
const RETRY_MS = 5000;
/** How often `autoMerge` tries one task's merge (the base moving meanwhile, git failing). */
const MERGE_TRIES = 3;

/** The status bar's field for the autonomy loop's phase: `auto: planning`. */
const AUTONOMY_STATUS_KEY = 'auto:';

/** How often the config files are read again for a changed `maxParallel`, ms. */
const CONFIG_POLL_MS = 2000;

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  root: string;
  paths: OrchestraPaths;
  config: OrchestraConfig;
  store: StateStore;
  server: SessionServer;
  session: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * Runs the queue (issue 6, "Scheduler"): takes tasks from the watched queue in natural order,
 * honouring `dependsOn`, up to `maxParallel` attempts at once (fewer when memory is short), runs
 * each task's strategy, and archives it with its result. A restarted server picks every unfinished
 * task up again from the store: strategies replay, finished attempts return their recorded
 * outcome, unfinished ones resume.
 */
export class Scheduler {
  private watcher: QueueWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly runningTasks = new Map<string, Promise<void>>();
  private readonly runners = new Map<string, AttemptRunner>();
  /** Which queued task may start, and the attempt slots. */
  private readonly admission: Admission;
  private readonly controller = new AbortController();
  private readonly host: AttemptHost;
  /** What each task's strategy context is made with. */
  private readonly strategyHost: StrategyHost;
  /** Writes tasks' archives and records, and finishes half-done ones. */
  private readonly archives: TaskArchive;
  private readonly warned = new Set<string>();
  private stopped = false;
  /** The chain of `autoMerge` merges: one at a time. */
  private merges: Promise<void> = Promise.resolve();
  private configCheckedAt = 0;
  private configLoading = false;
  /** Set once half-done archives are finished: no task may start before (see TaskArchive.recover). */
  private recovered = false;
  /** The autonomous mode, when `autonomy.enabled`. */
  private readonly autonomy: AutonomyLoop | undefined;

  constructor(private readonly o: SchedulerOptions) {
    this.host = {
      root: o.root,
      paths: o.paths,
      config: o.config,
      store: o.store,
      server: o.server,
      session: o.session,
      env: o.env,
      logger: o.logger.child({ component: 'attempt' }),
      forwarders: new LoopbackForwarderPool(() => dockerBridgeNetwork(dockerClient(o.env))),
      warn: (message) => this.warnOnce(message),
    };
    o.server.costSource = () => formatCost(this.sessionCost());
    if (o.config.autonomy.enabled) {
      this.autonomy = new AutonomyLoop({
        root: o.root,
        paths: o.paths,
        config: o.config,
        store: o.store,
        env: o.env,
        logger: o.logger.child({ component: 'autonomy' }),
        lastActivityAt: () => o.server.lastActivityAt,
        work: () => this.work(),
        archiveUnrun: (id, reason) => this.archiveUnrun(id, reason),
        taskSpend: (record) => this.taskSpend(record),
        blockedReason: (id) => this.admission.blocked.get(id),
        gate: async (commit) => {
          const { mergeGate } = await import('./merge-gate.js');
          const gate = mergeGate({
            root: o.root,
            paths: o.paths,
            config: o.config,
            env: o.env,
            session: o.session,
          });
          return gate(commit);
        },
        showStatus: (text) => {
          if (o.server.status[AUTONOMY_STATUS_KEY] === text) return;
          if (text === undefined) delete o.server.status[AUTONOMY_STATUS_KEY];
          else o.server.status[AUTONOMY_STATUS_KEY] = text;
          o.server.changed();
        },
      });
    }
    this.admission = new Admission({
      config: o.config,
      env: o.env,
      logger: o.logger,
      autonomy: this.autonomy,
      say: (message) => this.say(message),
      slotFreed: () => this.tick(),
      rateLimitedUntil: () => this.o.server.rateLimitedUntil(),
    });
    this.strategyHost = {
      root: o.root,
      config: o.config,
      env: o.env,
      store: o.store,
      attempts: this.host,
      admission: this.admission,
      runners: this.runners,
      signal: this.controller.signal,
      stopped: () => this.stopped,
      updateStatus: () => this.updateStatus(),
    };
    this.archives = new TaskArchive({
      paths: o.paths,
      config: o.config,
      store: o.store,
      logger: o.logger,
      untilDone: (what, step) => this.untilDone(what, step),
      say: (message) => this.say(message),
    });
  }

  /**
   * What a task has spent, USD: an archived one as recorded; else its attempts (a live one as its
   * pane's usage events say) and its judge and reviewer calls. `unknown` counts ended attempts
   * whose cost is unknown (see AutonomyHost.taskSpend).
   */
  private taskSpend(record: DeepReadonly<TaskRecord>): { usd: number; unknown: number } {
    if (record.state === 'archived' && record.costUsd !== undefined)
      return { usd: record.costUsd, unknown: 0 };
    const attempts = this.o.store.read().attempts;
    let usd = record.reviewUsd ?? 0;
    let unknown = 0;
    for (const id of record.attempts) {
      const attempt = attempts[id];
      if (!attempt) continue;
      const spent = this.attemptSpend(attempt).usd;
      if (spent === undefined) unknown++;
      else usd += spent;
    }
    return { usd, unknown };
  }

  /**
   * One attempt's spend: a live one as its pane's usage events say (nothing yet when its pane has
   * seen none), an ended one as recorded (unknown when nothing was recorded).
   */
  private attemptSpend(attempt: DeepReadonly<AttemptRecord>): CostSummary {
    const finished = FINISHED_ATTEMPT_STATES.includes(attempt.state);
    const live = finished ? undefined : this.o.server.attemptCost(attempt.id);
    return live ?? costOfUsd(attempt.costUsd ?? (finished ? undefined : 0));
  }

  /** The session's work for the autonomy loop's idle clock (see AutonomyHost.work). */
  private work(): { queued: number; personTasks: number; running: number } {
    const state = this.o.store.read();
    const open = (this.watcher?.tasks() ?? []).filter(
      (t) => !['archived', 'dropped'].includes(state.tasks[t.id]?.state ?? ''),
    );
    const queued = open.filter((t) => !this.runningTasks.has(t.id)).length;
    const personTasks = open.filter((t) => t.meta.origin !== 'autonomy').length;
    return { queued, personTasks, running: this.runningTasks.size + this.admission.active };
  }

  /** `orchestra autonomy status|pause|resume|run-now`. */
  autonomyCommand(
    action: 'status' | 'pause' | 'resume' | 'run-now',
  ): AutonomyStatus | Promise<AutonomyStatus> {
    if (!this.autonomy) {
      throw new OrchestraError('USAGE', 'autonomy is not enabled in this session', {
        hint: 'set autonomy.enabled (and autonomy.budgetUsdPerDay) in .orchestra/orchestra.json, then restart the server',
      });
    }
    switch (action) {
      case 'status':
        return this.autonomy.status();
      case 'pause':
        return this.autonomy.pause();
      case 'resume':
        return this.autonomy.resume();
      case 'run-now':
        return this.autonomy.runNow();
    }
  }

  /**
   * What the session has spent, from the store: every attempt (a live one as its pane's usage
   * events say, an ended one as recorded) and every judge and reviewer call. It survives restarts,
   * where the panes' own counts start again.
   */
  private sessionCost(): CostSummary {
    const state = this.o.store.read();
    const parts: CostSummary[] = [];
    for (const attempt of Object.values(state.attempts)) parts.push(this.attemptSpend(attempt));
    for (const task of Object.values(state.tasks)) if (task.reviewUsd) parts.push(costOfUsd(task.reviewUsd));
    return combineCosts(parts);
  }

  /**
   * Runs `step` until it succeeds, every {@link RETRY_MS} (a full disk, a lock held too long),
   * saying so in the log and once on the status bar.
   *
   * @returns true once it succeeded; false when the server stopped first
   */
  private async untilDone(what: string, step: () => Promise<unknown>): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        await step();
        return true;
      } catch (error) {
        this.o.logger.error({ err: error, tries }, `${what} failed; trying again`);
        this.warnOnce(`${what} failed: ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        if (this.stopped) return false;
      }
    }
  }

  /** A status-bar message (the latest one shows), for what a person should know now. */
  private say(message: string): void {
    // Reasons carry words from the agent's side (an export's stderr): never its control bytes.
    const line = printable(message);
    this.o.server.status.warning = line.length > 80 ? `${line.slice(0, 79)}…` : line;
    this.o.server.changed();
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.o.logger.warn(message);
    this.o.server.status.warning = message.length > 60 ? `${message.slice(0, 57)}…` : message;
    this.o.server.changed();
  }

  /** Starts watching the queue and picks up what a previous server left unfinished. */
  async start(): Promise<void> {
    const watcher = watchQueue(this.o.paths);
    this.watcher = watcher;
    watcher.onAdded((task) => void this.noteTask(task));
    watcher.onRemoved((id) => void this.taskRemoved(id));
    watcher.onRejected((rejection) =>
      this.o.logger.warn({ file: rejection.file, reason: rejection.reason }, 'task file rejected'),
    );
    watcher.onError((error) => this.o.logger.warn({ err: error }, 'queue watcher error'));
    await watcher.ready();
    // What an earlier server left is put right before any task starts; a step that fails (a full
    // disk) is tried again until it works or the server stops.
    if (!(await this.untilDone('picking up the previous state', () => this.recoverState()))) return;
    this.recovered = true;
    this.timer = setInterval(() => this.tick(), SCHEDULER_TICK_MS);
    this.tick();
    this.autonomy?.start();
  }

  /** The start's repairs: leftover containers, half-done archives and merges. */
  private async recoverState(): Promise<void> {
    await this.reconcileContainers();
    // Half-done archives (archive.ts): without this a task would run again, or stay running.
    await this.archives.recover();
    // Merges a killed server had not finished (or not begun): the result is archived in done/. With
    // autoMerge since turned off, none is pending any more: the person merges by hand.
    const pending = Object.values(this.o.store.read().tasks).filter((t) => t.mergePending);
    if (pending.length > 0 && !this.o.config.autoMerge) {
      await this.o.store.update((draft) => {
        for (const task of Object.values(draft.tasks)) delete task.mergePending;
      });
    }
    for (const task of pending) if (!task.mergedCommit) void this.autoMerge(task.id);
  }

  /** Stops taking work; running agents are left to checkpoint (a restart resumes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.controller.abort();
    await this.autonomy?.stop();
    for (const runner of this.runners.values()) runner.stop();
    await this.watcher?.close();
    await this.host.forwarders.closeAll().catch(() => {});
  }

  private async noteTask(task: TaskFile): Promise<void> {
    const known = this.o.store.read().tasks[task.id];
    if (known) return;
    const { origin, cycle, kind } = task.meta;
    await this.o.store.update((draft) => {
      if (!draft.tasks[task.id])
        upsertTask(draft, {
          id: task.id,
          state: 'queued',
          strategy: task.meta.strategy,
          title: task.title,
          ...(origin ? { origin } : {}),
          ...(cycle !== undefined ? { cycle } : {}),
          ...(kind ? { kind } : {}),
        });
    });
    this.autonomy?.taskAdded(task);
    this.tick();
  }

  /** A queued file disappeared: a task that has not started is dropped; a started one goes on. */
  private async taskRemoved(id: string): Promise<void> {
    if (this.runningTasks.has(id)) return;
    const record = this.o.store.read().tasks[id];
    if (record && record.state === 'queued') {
      await this.o.store.update((draft) => upsertTask(draft, { id, state: 'dropped' }));
      this.o.logger.info({ task: id }, 'task removed from the queue before it started; dropped');
      this.updateStatus();
    }
  }

  // ---- the queue -----------------------------------------------------------------------------

  /**
   * Takes up a changed `maxParallel` from the config files, so a person can widen or narrow the
   * queue without a restart (other keys need one: they shape attempts already running). Looks at
   * most every {@link CONFIG_POLL_MS}; a config that does not load keeps the old value, with a warning.
   */
  private refreshConfig(): void {
    const now = Date.now();
    if (this.configLoading || now - this.configCheckedAt < CONFIG_POLL_MS) return;
    this.configCheckedAt = now;
    this.configLoading = true;
    void loadConfig(this.o.root, { env: this.o.env })
      .then(({ config }) => {
        if (config.maxParallel === this.o.config.maxParallel) return;
        this.o.logger.info(
          { from: this.o.config.maxParallel, to: config.maxParallel },
          'maxParallel changed in the config',
        );
        this.o.config.maxParallel = config.maxParallel;
        this.tick();
      })
      .catch((error: unknown) => this.warnOnce(`config not reloaded: ${errorMessage(error)}`))
      .finally(() => {
        this.configLoading = false;
      });
  }

  private tick(): void {
    if (this.stopped || !this.watcher || !this.recovered) return;
    this.refreshConfig();
    const state = this.o.store.read();
    for (const { task, failedDependency } of this.admission.admit(
      this.watcher.tasks(),
      state,
      this.runningTasks,
    )) {
      const run =
        failedDependency !== undefined
          ? this.archive(task, {
              outcome: 'failed',
              attempts: [],
              reason: `dependency ${failedDependency} failed`,
            })
          : this.runTask(task);
      this.track(task.id, run);
    }
    this.updateStatus();
  }

  /** Counts `run` as `id`'s until it settles; the queue is looked at again then. */
  private track(id: string, run: Promise<void>): void {
    this.runningTasks.set(id, run);
    void run.finally(() => {
      this.runningTasks.delete(id);
      this.updateStatus();
      this.tick();
    });
  }

  /**
   * Archives a queued task that has not started to failed/ with `reason`, its attempts none (the
   * autonomy loop's "not run: cycle stopped").
   *
   * @returns false when the task runs already, is not in the queue, or has ended
   */
  private archiveUnrun(id: string, reason: string): boolean {
    if (this.runningTasks.has(id) || this.admission.isStarting(id)) return false;
    const task = this.watcher?.tasks().find((t) => t.id === id);
    const record = this.o.store.read().tasks[id];
    if (!task || (record && record.state !== 'queued')) return false;
    this.track(id, this.archive(task, { outcome: 'failed', attempts: [], reason }));
    return true;
  }

  /** The secrets queued tasks wait for (for a client to hand over), each once. */
  missingEnv(): string[] {
    return this.admission.missingEnv(this.watcher?.tasks() ?? [], this.runningTasks);
  }

  /** A client handed the server a secret: tasks waiting for it may start now. */
  envChanged(): void {
    if (this.missingEnv().length === 0) delete this.o.server.status.warning;
    this.tick();
  }

  // ---- running a task ------------------------------------------------------------------------

  private async runTask(task: TaskFile): Promise<void> {
    const log = this.o.logger.child({ component: 'scheduler', task: task.id });
    /** Rules applied that the Result must state (a judge or reviewer that failed). */
    let notes: string[] = [];
    let result: StrategyResult;
    try {
      await this.o.store.update((draft) =>
        upsertTask(draft, {
          id: task.id,
          state: 'running',
          strategy: task.meta.strategy,
          title: task.title,
        }),
      );
      const strategy = await loadStrategy(this.o.paths, task.meta.strategy);
      const offset = this.o.store.read().tasks[task.id]?.attemptOffset ?? 0;
      const run = strategyContext(this.strategyHost, task, offset, log);
      notes = run.notes;
      try {
        result = await strategy.run(run.ctx);
      } finally {
        for (const runner of run.runners) {
          // A stopping server leaves its agents to checkpoint: the next one resumes them.
          if (!this.stopped) await runner.finish();
          this.runners.delete(runner.attemptId);
        }
      }
    } catch (error) {
      if (this.stopped) return;
      log.error({ err: error }, 'task failed to run');
      result = { outcome: 'failed', attempts: [], reason: errorMessage(error) };
    } finally {
      this.admission.started(task.id);
    }
    if (this.stopped) return;
    // Outside the try: an archive is written once, whatever its recording meets.
    await this.archive(task, result, notes);
  }

  /**
   * Archives the task with its result (archive.ts, the one place a task's end is written), then
   * tells the autonomy loop, merges a kept result (`autoMerge`) and updates the status bar.
   */
  private async archive(task: TaskFile, result: StrategyResult, notes: string[] = []): Promise<void> {
    const archived = await this.archives.archive(task, result, notes);
    if (!archived) return;
    this.autonomy?.taskArchived(task.id, archived.outcome, task);
    if (archived.outcome === 'done' && archived.kept) await this.autoMerge(task.id);
    this.updateStatus();
  }

  /**
   * `autoMerge`: merges a task's result into the base branch once it is archived in done/. Merges
   * run one at a time (two at once would each see the other move the base and give up); a merge
   * refused because the base moved meanwhile is tried again on the new tip, up to
   * {@link MERGE_TRIES} times, and one that throws (git failing, a full disk) as often, every
   * {@link RETRY_MS}. The task record keeps `mergePending` until the merge comes to an end, so a
   * restart merges what a killed server did not; a refusal is recorded as `mergeError`.
   */
  private autoMerge(id: string): Promise<void> {
    if (!this.o.config.autoMerge) return Promise.resolve();
    const run = this.merges.then(() => this.mergeNow(id));
    this.merges = run.catch(() => {});
    return run;
  }

  private async mergeNow(id: string): Promise<void> {
    const { mergeTask } = await import('./merge-task.js');
    for (let tries = 1; tries <= MERGE_TRIES && !this.stopped; tries++) {
      const record = this.o.store.read().tasks[id];
      if (!record?.mergePending || record.mergedCommit) return;
      try {
        const outcome = await mergeTask(
          {
            root: this.o.root,
            paths: this.o.paths,
            config: this.o.config,
            store: this.o.store,
            env: this.o.env,
            session: this.o.session,
          },
          id,
        );
        if (outcome.merged) {
          this.o.logger.info({ task: id, commit: outcome.commit }, 'merged');
          return;
        }
        if (outcome.reason !== 'base-moved') {
          this.o.logger.warn({ task: id, reason: outcome.reason }, `not merged: ${outcome.detail}`);
          this.say(`${id} not merged: ${outcome.detail}`);
          return;
        }
        this.o.logger.info({ task: id, tries }, 'the base branch moved during the merge; merging again');
      } catch (error) {
        this.o.logger.warn({ err: error, task: id, tries }, 'auto-merge failed');
        if (tries === MERGE_TRIES) return this.mergeRefused(id, `the merge failed: ${errorMessage(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    if (!this.stopped)
      await this.mergeRefused(
        id,
        `the base branch moved during each of ${MERGE_TRIES} merges; merge it again`,
      );
  }

  /** Ends a pending `autoMerge` without a merge, saying why on the board and the status bar. */
  private async mergeRefused(id: string, reason: string): Promise<void> {
    await this.o.store
      .update((draft) => {
        const task = draft.tasks[id];
        if (!task) return;
        delete task.mergePending;
        task.mergeError = reason;
      })
      .catch((error: unknown) => this.o.logger.warn({ err: error, task: id }, 'recording the merge failed'));
    this.say(`${id} not merged: ${reason}`);
  }

  /**
   * Removes the containers of this session a previous server left that nothing will use again:
   * every setup and checks container (their commands died with that server and run again), and
   * the agent containers of attempts that have ended or that the store does not know. An
   * unfinished attempt's agent container stays: its runner re-attaches to it. No engine, no work.
   */
  private async reconcileContainers(): Promise<void> {
    const docker = dockerClient(this.o.env);
    const reachable = await docker.ping().then(
      () => true,
      () => false,
    );
    if (!reachable) return;
    const attempts = this.o.store.read().attempts;
    try {
      const removed = await removeStrayContainers(
        { repo: this.o.root, session: this.o.session },
        ({ attemptId, role }) => {
          const attempt = attempts[attemptId];
          return (
            role === 'agent' && attempt !== undefined && !FINISHED_ATTEMPT_STATES.includes(attempt.state)
          );
        },
        docker,
      );
      if (removed.length) this.o.logger.info({ removed }, 'removed containers a previous server left');
    } catch (error) {
      this.o.logger.warn({ err: error }, 'could not look for containers a previous server left');
    }
  }

  /**
   * Puts a failed task back in the queue: its task text (without the Result section) is written to
   * tasks/ again, the failed archive stays, and the new run's attempts are numbered after the old.
   *
   * @throws OrchestraError TASK_NOT_FOUND when the task did not fail
   */
  async retry(ref: string): Promise<{ task: string }> {
    const state = await this.o.store.reload();
    const n = taskNumberFromRef(ref);
    const record = Object.values(state.tasks).find((t) => n !== undefined && taskNumber(t.id) === n);
    if (!record || taskOutcome(record) !== 'failed' || !record.archivedAs) {
      throw new OrchestraError('TASK_NOT_FOUND', `${ref} is not a failed task`, {
        hint: 'only tasks archived in failed/ can be retried; see `orchestra task ls --all`',
      });
    }
    const archived = await readFile(join(this.o.paths.dir, record.archivedAs!), 'utf8');
    const text = archived.replace(/\n## Result\b[\s\S]*$/, '\n');
    await writeNewFile(join(this.o.paths.tasks, `${record.id}.md`), text);
    const offset = Object.values(state.attempts).filter((a) => a.taskId === record.id).length;
    await this.o.store.update((draft) => {
      const task = draft.tasks[record.id];
      if (!task) return;
      task.state = 'queued';
      task.attemptOffset = offset;
      delete task.error;
      delete task.outcome;
      delete task.startedAt;
      delete task.reviewUsd;
      delete task.reviews;
      delete task.archivedAs;
      delete task.resultBranch;
      delete task.resultCommit;
      task.updatedAt = new Date().toISOString();
    });
    this.autonomy?.personActed(`${record.id} was retried`);
    this.tick();
    return { task: record.id };
  }

  // ---- status ----------------------------------------------------------------------------------

  /** Task counts and cost for the status bar. */
  private updateStatus(): void {
    const state = this.o.store.read();
    const tasks = Object.values(state.tasks);
    // The watcher may still list a file archived a moment ago (until chokidar sees it go).
    const queued = (this.watcher?.tasks() ?? []).filter(
      (t) =>
        !this.runningTasks.has(t.id) && !['archived', 'dropped'].includes(state.tasks[t.id]?.state ?? ''),
    ).length;
    const running = this.runningTasks.size;
    const done = tasks.filter((t) => taskOutcome(t) === 'done').length;
    const failed = tasks.filter((t) => taskOutcome(t) === 'failed').length;
    const status = `${queued} queued · ${running} running · ${done} done · ${failed} failed`;
    if (this.o.server.status.tasks !== status) {
      this.o.server.status.tasks = status;
      this.o.server.changed();
    }
    this.o.server.updateSessionCost();
  }

  /** The task board's data (prefix t): every task with its attempts, panes and cost. */
  board(): BoardTask[] {
    return boardRows({
      state: this.o.store.read(),
      files: this.watcher?.tasks() ?? [],
      blocked: this.admission.blocked,
      paneOfAttempt: (attemptId) => this.o.server.paneOfAttempt(attemptId)?.id,
    });
  }
}
