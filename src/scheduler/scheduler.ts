import { readFile, unlink } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { combineCosts, summarizeCost, type UsageEvent } from '../agents/cost.js';
import { errorMessage, OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import type { OrchestraConfig } from '../config/schema.js';
import { type DiffText, diffText } from '../git/attempt-repo.js';
import type { Logger } from '../log/logger.js';
import type { SessionServer } from '../server/session-server.js';
import { type TaskInput, upsertTask } from '../store/records.js';
import type { StateStore } from '../store/store.js';
import { judgeCandidates } from '../strategies/judge.js';
import { loadStrategy } from '../strategies/load.js';
import { reviewAttempt } from '../strategies/review.js';
import type { AttemptHandle, AttemptOutcome, StrategyContext, StrategyResult } from '../strategies/types.js';
import { writeNewFile } from '../tasks/move-file.js';
import { compareTaskIds, queueFileName, taskNumber, taskNumberFromRef } from '../tasks/naming.js';
import { archiveTask } from '../tasks/queue.js';
import type { TaskFile } from '../tasks/task-file.js';
import type { CandidateResult } from '../tasks/task-result.js';
import { type QueueWatcher, watchQueue } from '../tasks/watcher.js';
import { dockerClient } from '../workers/docker-engine.js';
import { dockerBridgeNetwork, LoopbackForwarderPool } from '../workers/loopback-forwarder.js';
import { archivedResult, findArchiveSince, readArchive } from './archive-recovery.js';
import { type AttemptHost, AttemptRunner } from './attempt-runner.js';
import { appendTransition, lastTransition } from './event-log.js';

/** How often the scheduler looks for work it can start, ms (a new task is picked up within this). */
export const SCHEDULER_TICK_MS = 500;

/**
 * Memory an attempt needs before another may start, bytes: a local agent (Node, git, a test run)
 * rarely needs more; a Docker worker reserves its configured limit instead.
 */
const LOCAL_ATTEMPT_MEMORY_BYTES = 512 * 1024 * 1024;

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
  private readonly slotWaiters: Array<() => void> = [];
  private activeAttempts = 0;
  private readonly controller = new AbortController();
  private readonly host: AttemptHost;
  private readonly warned = new Set<string>();
  private stopped = false;
  /** Set once half-done archives are finished: no task may start before (see recoverArchives). */
  private recovered = false;

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
    await this.recoverArchives();
    this.recovered = true;
    this.timer = setInterval(() => this.tick(), SCHEDULER_TICK_MS);
    this.tick();
  }

  /** Stops taking work; running agents are left to checkpoint (a restart resumes them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.controller.abort();
    for (const runner of this.runners.values()) runner.stop();
    await this.watcher?.close();
    await this.host.forwarders.closeAll().catch(() => {});
  }

  private async noteTask(task: TaskFile): Promise<void> {
    const known = this.o.store.read().tasks[task.id];
    if (known) return;
    await this.o.store.update((draft) => {
      if (!draft.tasks[task.id])
        upsertTask(draft, { id: task.id, state: 'queued', strategy: task.meta.strategy, title: task.title });
    });
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

  // ---- admission -----------------------------------------------------------------------------

  private capacity(): number {
    const perAttempt =
      this.o.config.sandbox === 'local'
        ? LOCAL_ATTEMPT_MEMORY_BYTES
        : this.o.config.worker.memoryMb * 1024 * 1024;
    // Keep one attempt's worth free for the machine itself.
    const byMemory = Math.max(1, Math.floor(freemem() / perAttempt) - 1 + this.activeAttempts);
    return Math.min(this.o.config.maxParallel, byMemory);
  }

  /** Waits for a free attempt slot (maxParallel and memory), in the order asked. */
  private acquireSlot(): Promise<void> {
    if (this.activeAttempts < this.capacity() && this.slotWaiters.length === 0) {
      this.activeAttempts++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.slotWaiters.push(() => {
        this.activeAttempts++;
        resolve();
      });
    });
  }

  private releaseSlot(): void {
    this.activeAttempts = Math.max(0, this.activeAttempts - 1);
    this.tick();
  }

  private depsSatisfied(task: TaskFile): 'ready' | 'waiting' | { failed: string } {
    const state = this.o.store.read();
    for (const dep of task.meta.dependsOn) {
      const n = taskNumber(dep);
      const record = Object.values(state.tasks).find((t) => taskNumber(t.id) === n);
      if (!record) return 'waiting';
      if (
        record.state === 'failed' ||
        (record.state === 'archived' && record.archivedAs?.startsWith('failed/'))
      ) {
        return { failed: dep };
      }
      if (record.state === 'dropped') return { failed: dep };
      if (!(record.state === 'succeeded' || record.state === 'archived')) return 'waiting';
    }
    return 'ready';
  }

  private tick(): void {
    if (this.stopped || !this.watcher || !this.recovered) return;
    while (this.slotWaiters.length > 0 && this.activeAttempts < this.capacity()) this.slotWaiters.shift()!();
    const tasks = [...this.watcher.tasks()].sort((a, b) => compareTaskIds(a.id, b.id));
    const state = this.o.store.read();
    for (const task of tasks) {
      if (this.runningTasks.has(task.id)) continue;
      const record = state.tasks[task.id];
      if (record && ['archived', 'dropped'].includes(record.state)) continue;
      const deps = this.depsSatisfied(task);
      if (deps === 'waiting') continue;
      // A task admitted only when an attempt could start now; its further attempts queue for slots.
      const resuming =
        record?.state === 'running' || record?.state === 'succeeded' || record?.state === 'failed';
      if (!resuming && this.activeAttempts + this.slotWaiters.length >= this.capacity()) break;
      const run =
        typeof deps === 'object'
          ? this.archive(
              task,
              { outcome: 'failed', attempts: [], reason: `dependency ${deps.failed} failed` },
              Date.now(),
            )
          : this.runTask(task);
      this.runningTasks.set(task.id, run);
      void run.finally(() => {
        this.runningTasks.delete(task.id);
        this.updateStatus();
        this.tick();
      });
    }
    this.updateStatus();
  }

  // ---- running a task ------------------------------------------------------------------------

  private async runTask(task: TaskFile): Promise<void> {
    const started = Date.now();
    const log = this.o.logger.child({ component: 'scheduler', task: task.id });
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
      const runners: AttemptRunner[] = [];
      const usage: UsageEvent[] = [];
      const ctx: StrategyContext = {
        task,
        config: this.o.config,
        signal: this.controller.signal,
        startAttempt: async (options = {}) => {
          const runner = new AttemptRunner(this.host, task, offset + runners.length + 1, options);
          runners.push(runner);
          this.runners.set(runner.attemptId, runner);
          await this.acquireSlot();
          void runner.start();
          return { attemptId: runner.attemptId, n: runner.n, branch: runner.branch };
        },
        awaitAttempt: (handle) => this.runnerOf(handle).outcome(),
        diff: async (handle) => (await this.attemptDiff(this.runnerOf(handle).latest))?.text ?? '',
        send: (handle, text) => this.runnerOf(handle).send(text),
        judge: async (outcomes) => {
          const candidates = await Promise.all(
            outcomes.map(async (o) => {
              const diff = o.passed ? await this.attemptDiff(o) : undefined;
              return {
                attemptId: o.attemptId,
                diff: diff?.text ?? '',
                diffTruncated: diff?.truncated ?? false,
                diffStat: o.diffStat ?? { files: 0, insertions: 0, deletions: 0 },
                checkPassed: o.passed,
              };
            }),
          );
          const result = await judgeCandidates({
            task,
            candidates,
            profile: this.o.config.profiles.reviewer ?? Object.values(this.o.config.profiles)[0]!,
            env: this.o.env,
            signal: this.controller.signal,
          });
          usage.push(...result.usage);
          log.info({ winner: result.winner, decision: result.decision }, result.summary);
          return {
            scores: result.scores.map((s) => ({
              attemptId: s.attemptId,
              ...(s.score !== undefined ? { score: s.score } : {}),
              reasons: s.reasons,
            })),
            ...(result.winner ? { winner: result.winner } : {}),
          };
        },
        review: async (handle) => {
          const runner = this.runnerOf(handle);
          const diff = await this.attemptDiff(runner.latest);
          const result = await reviewAttempt({
            task,
            diff: diff?.text ?? '',
            profile: this.o.config.profiles.reviewer ?? Object.values(this.o.config.profiles)[0]!,
            env: this.o.env,
            signal: this.controller.signal,
          });
          usage.push(...result.usage);
          return { approved: result.approved, comments: result.comments };
        },
        log: (message) => log.info(message),
      };
      let result: StrategyResult;
      try {
        result = await strategy.run(ctx);
      } finally {
        for (const runner of runners) {
          await runner.finish();
          this.runners.delete(runner.attemptId);
          this.releaseSlot();
        }
      }
      if (this.stopped) return;
      await this.archive(task, result, started, usage);
    } catch (error) {
      if (this.stopped) return;
      log.error({ err: error }, 'task failed to run');
      await this.archive(task, { outcome: 'failed', attempts: [], reason: errorMessage(error) }, started);
    }
  }

  private runnerOf(handle: AttemptHandle): AttemptRunner {
    const runner = this.runners.get(handle.attemptId);
    if (!runner) throw new Error(`no running attempt ${handle.attemptId}`);
    return runner;
  }

  /** Moves the task file to done/ or failed/ with its Result section, and records it. */
  private async archive(
    task: TaskFile,
    result: StrategyResult,
    started: number,
    extraUsage: UsageEvent[] = [],
  ): Promise<void> {
    const state = this.o.store.read();
    const attempts = Object.values(state.attempts).filter((a) => a.taskId === task.id);
    const costs = [
      ...attempts.map((a) => ({ usd: a.costUsd })),
      ...(extraUsage.length ? [{ usd: summarizeCost(extraUsage).usd }] : []),
    ];
    const costUsd = costs.every((c) => c.usd !== undefined)
      ? costs.reduce((sum, c) => sum + (c.usd ?? 0), 0)
      : undefined;
    const scores = new Map((result.scores ?? []).map((s) => [s.attemptId, s.score]));
    const candidates: CandidateResult[] | undefined =
      result.attempts.length > 1
        ? result.attempts.map((a) => ({
            attempt: a.attemptId,
            check: a.passed ? 'pass' : 'fail',
            ...(scores.get(a.attemptId) !== undefined ? { score: scores.get(a.attemptId)! } : {}),
            ...(result.winner?.attemptId === a.attemptId ? { chosen: true } : {}),
          }))
        : undefined;
    const outcome = result.outcome;
    const lastOutput = (result.winner ?? result.attempts.at(-1))?.checkOutput;
    let archivedAs: string | undefined;
    try {
      const { path } = await archiveTask(this.o.paths, task.id, outcome, {
        attempts: result.attempts.length,
        durationMs: Date.now() - started,
        ...(result.winner ? { branch: result.winner.branch } : {}),
        ...(result.winner?.commit ? { commit: result.winner.commit } : {}),
        ...(costUsd !== undefined ? { costUsd } : {}),
        ...(outcome === 'failed' ? { reason: result.reason ?? 'failed' } : {}),
        ...(candidates ? { candidates } : {}),
        ...(lastOutput ? { checkOutput: lastOutput } : {}),
      });
      archivedAs = `${outcome}/${path.split('/').pop()}`;
    } catch (error) {
      this.o.logger.error({ err: error, task: task.id }, 'archiving the task failed');
    }
    await this.recordArchived(task.id, {
      ...(archivedAs ? { archivedAs } : {}),
      ...(result.winner ? { resultBranch: result.winner.branch } : {}),
      ...(result.winner?.commit ? { resultCommit: result.winner.commit } : {}),
      ...(costUsd !== undefined ? { costUsd } : {}),
      ...(outcome === 'failed' ? { error: result.reason ?? 'failed' } : {}),
    });
    this.o.logger.info({ task: task.id, outcome, archivedAs }, `task ${outcome}`);
    if (outcome === 'done' && result.winner) await this.autoMerge(task.id);
    this.updateStatus();
  }

  /**
   * The last steps of an archive, after the archived file: each finished attempt's `archived`
   * event, then the task's record in the store. The record comes last, so a server killed before
   * it leaves a task that {@link recoverArchives} finishes at the next start.
   */
  private async recordArchived(id: string, fields: Omit<TaskInput, 'id' | 'state'>): Promise<void> {
    for (const a of Object.values(this.o.store.read().attempts)) {
      if (a.taskId !== id || !(a.state === 'succeeded' || a.state === 'failed')) continue;
      const last = await lastTransition(a.runDir);
      // An attempt of a run before a retry, or of an archive finished after a restart, may have it.
      if (last === 'archived') continue;
      // A server killed right after recording the attempt's end in the store did not log it.
      if (last !== a.state) await appendTransition(a.runDir, a.state, a.error).catch(() => {});
      await appendTransition(a.runDir, 'archived').catch(() => {});
    }
    await this.o.store.update((draft) => upsertTask(draft, { id, state: 'archived', ...fields }));
  }

  /**
   * An attempt's change as the host repository has it: its imported commit against its own base
   * commit (never the base branch's moving tip); undefined before it has passed a check round.
   */
  private async attemptDiff(outcome: AttemptOutcome | undefined): Promise<DiffText | undefined> {
    if (!outcome?.commit || !outcome.base) return undefined;
    return diffText(this.o.root, outcome.base, outcome.commit);
  }

  /** `autoMerge`: merges a task's result into the base branch once it is archived in done/. */
  private async autoMerge(id: string): Promise<void> {
    if (!this.o.config.autoMerge) return;
    const { mergeTask } = await import('./merge-task.js');
    await mergeTask(
      {
        root: this.o.root,
        paths: this.o.paths,
        config: this.o.config,
        store: this.o.store,
        env: this.o.env,
        session: this.o.session,
      },
      id,
    ).catch((error: unknown) => this.o.logger.warn({ err: error, task: id }, 'auto-merge failed'));
  }

  /**
   * Finishes the archives a killed server left half done (archive-recovery.ts): a task the store
   * still calls queued or running, whose archive was written since its record last changed, is
   * recorded from that archive, and its queued file, if it is still there, removed. Without this
   * it would run again (and be archived twice), or stay running for ever with its dependents
   * waiting on it.
   */
  private async recoverArchives(): Promise<void> {
    for (const record of Object.values(this.o.store.read().tasks)) {
      if (record.state !== 'queued' && record.state !== 'running') continue;
      const file = await findArchiveSince(this.o.paths, record.id, Date.parse(record.updatedAt));
      if (!file) continue;
      await unlink(join(this.o.paths.tasks, queueFileName(record.id))).catch(() => {
        // Removed before the server died.
      });
      const result = archivedResult(await readArchive(file));
      const done = file.outcome === 'done';
      const archivedAs = `${file.outcome}/${file.name}`;
      await this.recordArchived(record.id, {
        archivedAs,
        ...(done && result.branch ? { resultBranch: result.branch } : {}),
        ...(done && result.commit ? { resultCommit: result.commit } : {}),
        ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
        ...(done ? {} : { error: result.reason ?? 'failed' }),
      });
      this.o.logger.warn(
        { task: record.id, archivedAs },
        'finished the archive a previous server left half done',
      );
      if (done && result.branch) await this.autoMerge(record.id);
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
    if (!record || !(record.state === 'archived' && record.archivedAs?.startsWith('failed/'))) {
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
      delete task.archivedAs;
      delete task.resultBranch;
      delete task.resultCommit;
      task.updatedAt = new Date().toISOString();
    });
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
    const done = tasks.filter((t) => t.state === 'archived' && t.archivedAs?.startsWith('done/')).length;
    const failed = tasks.filter((t) => t.state === 'archived' && t.archivedAs?.startsWith('failed/')).length;
    const status = `${queued} queued · ${running} running · ${done} done · ${failed} failed`;
    if (this.o.server.status.tasks !== status) {
      this.o.server.status.tasks = status;
      this.o.server.changed();
    }
  }

  /** The task board's data (prefix t): every task with its attempts, panes and cost. */
  board(): BoardTask[] {
    const state = this.o.store.read();
    const queuedIds = new Set((this.watcher?.tasks() ?? []).map((t) => t.id));
    const rows: BoardTask[] = [];
    const ids = new Set([...Object.keys(state.tasks), ...queuedIds]);
    for (const id of [...ids].sort(compareTaskIds)) {
      const record = state.tasks[id];
      const attempts = Object.values(state.attempts)
        .filter((a) => a.taskId === id)
        .sort((a, b) => a.n - b.n);
      const status = !record
        ? 'queued'
        : record.state === 'archived'
          ? record.archivedAs?.startsWith('failed/')
            ? 'failed'
            : 'done'
          : record.state;
      const title = this.watcher?.tasks().find((t) => t.id === id)?.title ?? record?.title;
      const cost = combineCosts(
        attempts.map((a) => ({
          usd: a.costUsd,
          knownUsd: a.costUsd ?? 0,
          unknownModels: [],
          unreported: 0,
          tokens: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
          requests: 0,
        })),
      );
      rows.push({
        id,
        status,
        ...(title ? { title } : {}),
        strategy: record?.strategy ?? 'single',
        ...(record?.error ? { error: record.error } : {}),
        ...(record?.resultBranch ? { resultBranch: record.resultBranch } : {}),
        // An archived task's total includes what its judge or reviewer spent, as its Result says.
        ...(record?.state === 'archived' && record.costUsd !== undefined
          ? { costUsd: record.costUsd }
          : cost.usd !== undefined
            ? { costUsd: cost.usd }
            : {}),
        attempts: attempts.map((a) => ({
          id: a.id,
          state: a.state,
          ...(a.paneId ? { paneId: Number(a.paneId) } : {}),
          ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {}),
        })),
      });
    }
    return rows;
  }
}

/** One row of the task board. */
export interface BoardTask {
  id: string;
  status: string;
  title?: string;
  strategy: string;
  error?: string;
  resultBranch?: string;
  costUsd?: number;
  attempts: Array<{ id: string; state: string; paneId?: number; costUsd?: number }>;
}
