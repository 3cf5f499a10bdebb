import { summarizeCost, type UsageEvent } from '../agents/cost.js';
import { errorMessage } from '../common/errors.js';
import type { OrchestraConfig } from '../config/schema.js';
import { type DiffText, diffText } from '../git/attempt-repo.js';
import type { Logger } from '../log/logger.js';
import type { StateStore } from '../store/store.js';
import { judgeCandidates, pickWinner } from '../strategies/judge.js';
import { reviewAttempt } from '../strategies/review.js';
import type { AttemptHandle, AttemptOutcome, StrategyContext } from '../strategies/types.js';
import type { TaskFile } from '../tasks/task-file.js';
import type { Admission } from './admission.js';
import { type AttemptHost, AttemptRunner } from './attempt-runner.js';

/**
 * The context a strategy (single, best-of-n, refine, a user's own) runs a task with
 * (src/strategies/types.ts): its attempts take slots from admission, its judge and reviewer calls
 * are paid for on the task's record, and a judge or reviewer that fails is stood in for by a rule
 * the task's Result then states.
 */

/** What a strategy's context needs of the scheduler. */
export interface StrategyHost {
  /** The host repository (attempts' diffs are read from it). */
  readonly root: string;
  readonly config: OrchestraConfig;
  /** The server's environment: the judge's and reviewer's keys. */
  readonly env: NodeJS.ProcessEnv;
  readonly store: StateStore;
  /** What an attempt runner is made with. */
  readonly attempts: AttemptHost;
  /** Attempt slots, and the end of a task's "starting" once its first attempt asks for one. */
  readonly admission: Pick<Admission, 'acquireSlot' | 'holdSlotFor' | 'started'>;
  /** Every task's live runners by attempt id; a strategy's are added here as they start. */
  readonly runners: Map<string, AttemptRunner>;
  /** Aborted when the server stops. */
  readonly signal: AbortSignal;
  /** True once the server is stopping: a failure then is the stop, not a judge's or reviewer's. */
  stopped(): boolean;
  /** Spend changed: the status bar's cost and counts are worked out again. */
  updateStatus(): void;
}

/** One run of a task's strategy: the context to run it with, and what the run collected. */
export interface StrategyRun {
  ctx: StrategyContext;
  /** The runners the strategy started, in order (to finish once it returns). */
  runners: AttemptRunner[];
  /** Rules applied that the Result must state (a judge or reviewer that failed). */
  notes: string[];
}

/**
 * The context for one run of `task`'s strategy. Attempts are numbered after `offset` (the attempts
 * of runs before a retry); `log` is the task's logger.
 */
export function strategyContext(
  host: StrategyHost,
  task: TaskFile,
  offset: number,
  log: Logger,
): StrategyRun {
  const runners: AttemptRunner[] = [];
  const notes: string[] = [];
  /** A judge or reviewer failed and `note`'s rule stands in: logged, and said in the Result. */
  const fallBack = (error: unknown, note: string) => {
    log.warn({ err: error }, note);
    notes.push(note);
  };
  const runnerOf = (handle: AttemptHandle): AttemptRunner => {
    const runner = host.runners.get(handle.attemptId);
    if (!runner) throw new Error(`no running attempt ${handle.attemptId}`);
    return runner;
  };
  /**
   * An attempt's change as the host repository has it: its imported commit against its own base
   * commit (never the base branch's moving tip); undefined before it has passed a check round.
   */
  const attemptDiff = async (outcome: AttemptOutcome | undefined): Promise<DiffText | undefined> => {
    if (!outcome?.commit || !outcome.base) return undefined;
    return diffText(host.root, outcome.base, outcome.commit);
  };
  /**
   * Records what a judge or reviewer call spent on the task (and the review itself), so the
   * Result and the status bar count it, across restarts too.
   */
  const addReviewSpend = async (
    usage: UsageEvent[],
    review?: { attempt: string; approved: boolean; comments: string },
  ): Promise<void> => {
    const usd = usage.length ? (summarizeCost(usage).usd ?? 0) : 0;
    await host.store.update((draft) => {
      const record = draft.tasks[task.id];
      if (!record) return;
      record.reviewUsd = (record.reviewUsd ?? 0) + usd;
      if (review) record.reviews = [...(record.reviews ?? []), review];
    });
    host.updateStatus();
  };
  /** What the judge and the reviewer are called with: the reviewer profile (else the first). */
  const modelCall = () => ({
    profile: host.config.profiles.reviewer ?? Object.values(host.config.profiles)[0]!,
    env: host.env,
    signal: host.signal,
    stallSeconds: host.config.model.stallSeconds,
  });

  const ctx: StrategyContext = {
    task,
    config: host.config,
    signal: host.signal,
    startAttempt: async (options = {}) => {
      const runner = new AttemptRunner(host.attempts, task, offset + runners.length + 1, options);
      runners.push(runner);
      host.runners.set(runner.attemptId, runner);
      // A slot is held while the attempt works, not while its task waits for the others.
      host.admission.started(task.id);
      if (runner.finished) void runner.start();
      else {
        const slot = await host.admission.acquireSlot();
        // The run's duration counts from its first attempt's start, not from its admission.
        await host.store
          .update((draft) => {
            const record = draft.tasks[task.id];
            if (record) record.startedAt ??= new Date().toISOString();
          })
          .catch((error: unknown) => log.warn({ err: error }, 'could not record the start time'));
        host.admission.holdSlotFor(slot, () => runner.start());
      }
      return { attemptId: runner.attemptId, n: runner.n, branch: runner.branch };
    },
    awaitAttempt: (handle) => runnerOf(handle).outcome(),
    diff: async (handle) => (await attemptDiff(runnerOf(handle).latest))?.text ?? '',
    send: async (handle, text) => {
      const runner = runnerOf(handle);
      const slot = await host.admission.acquireSlot();
      try {
        await runner.send(text);
      } catch (error) {
        slot.release();
        notes.push(`a message to ${handle.attemptId} could not be delivered (${errorMessage(error)})`);
        throw error;
      }
      host.admission.holdSlotFor(slot, () => runner.outcome());
    },
    judge: async (outcomes) => {
      const candidates = await Promise.all(
        outcomes.map(async (o) => {
          const diff = o.passed ? await attemptDiff(o) : undefined;
          return {
            attemptId: o.attemptId,
            diff: diff?.text ?? '',
            diffTruncated: diff?.truncated ?? false,
            diffStat: o.diffStat ?? { files: 0, insertions: 0, deletions: 0 },
            checkPassed: o.passed,
          };
        }),
      );
      let result: Awaited<ReturnType<typeof judgeCandidates>>;
      try {
        result = await judgeCandidates({ task, candidates, ...modelCall() });
      } catch (error) {
        if (host.stopped()) throw error;
        const winner = smallestPassing(outcomes);
        fallBack(
          error,
          `the judge failed (${errorMessage(error)}); kept ${winner?.attemptId ?? 'none'}, the passing candidate with the smallest diff`,
        );
        return { scores: [], ...(winner ? { winner: winner.attemptId } : {}) };
      }
      await addReviewSpend(result.usage);
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
      const runner = runnerOf(handle);
      const diff = await attemptDiff(runner.latest);
      let result: Awaited<ReturnType<typeof reviewAttempt>>;
      try {
        result = await reviewAttempt({ task, diff: diff?.text ?? '', ...modelCall() });
      } catch (error) {
        if (host.stopped()) throw error;
        const reason = errorMessage(error);
        fallBack(
          error,
          `the reviewer failed (${reason}); kept the last passing round of ${handle.attemptId}`,
        );
        return { approved: false, comments: '', failed: reason };
      }
      await addReviewSpend(result.usage, {
        attempt: handle.attemptId,
        approved: result.approved,
        comments: result.comments,
      });
      return { approved: result.approved, comments: result.comments };
    },
    log: (message) => log.info(message),
  };
  return { ctx, runners, notes };
}

/**
 * The fallback when a judge fails (best-of-n): the passing candidate with the smallest change
 * (insertions plus deletions), the lower attempt number on a tie; undefined when none passed.
 */
export function smallestPassing(outcomes: readonly AttemptOutcome[]): AttemptOutcome | undefined {
  const passing = outcomes.filter((o) => o.passed && o.diffStat);
  // The judge's own tie rule, with every candidate tied on score.
  const id = pickWinner(
    passing.map((o) => ({ attemptId: o.attemptId, score: 0 })),
    passing.map((o) => ({ attemptId: o.attemptId, diffStat: o.diffStat! })),
  );
  return passing.find((o) => o.attemptId === id);
}
