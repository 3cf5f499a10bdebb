import type { OrchestraConfig } from '../config/schema.js';
import type { TaskFile } from '../tasks/task-file.js';

/**
 * A strategy decides how a task is attempted: how many attempts, what happens between them, and
 * which result is kept (issue 6, "Strategies"). Built-ins: single, best-of-n, refine. A user's own
 * lives in `.orchestra/strategies/<name>.mjs` and exports `strategy` with this shape.
 */

/** What one round of an attempt came to: its agent finished and the check gate ran. */
export interface AttemptOutcome {
  attemptId: string;
  /** 1-based attempt number within the task. */
  n: number;
  branch: string;
  worktree: string;
  /** True when the checks passed and the agent changed something (and it was committed). */
  passed: boolean;
  /** The attempt's commit on its branch when it passed. */
  commit?: string;
  /** The commit the attempt started from: what `commit` is compared against. */
  base?: string;
  /** Tail of the last check run's output. */
  checkOutput: string;
  /** One line: why it did not pass. */
  reason?: string;
  /** Size of the change against the base branch. */
  diffStat?: { files: number; insertions: number; deletions: number };
  /** Spend of the attempt so far, USD; undefined when unknown. */
  costUsd?: number;
}

/** A running (or finished) attempt, as a strategy holds it. */
export interface AttemptHandle {
  attemptId: string;
  n: number;
  branch: string;
}

/** A judge's or reviewer's scores for candidates (best-of-n). */
export interface CandidateScore {
  attemptId: string;
  /** 0–10; undefined for a candidate that was not scored (it failed the check). */
  score?: number;
  reasons?: string;
}

/** What a strategy gets to work with. Every method may throw OrchestraError. */
export interface StrategyContext {
  task: TaskFile;
  config: OrchestraConfig;
  /** Aborted when the server stops; strategies should return promptly. */
  signal: AbortSignal;
  /**
   * Starts the next attempt of the task (or, after a server restart, picks up the attempt that
   * already has that number, so a strategy replayed from the start never runs an attempt twice).
   */
  startAttempt(options?: { profile?: string; agent?: string }): Promise<AttemptHandle>;
  /** Waits for the attempt's current round: agent finished, checks run (with check-fix rounds). */
  awaitAttempt(handle: AttemptHandle): Promise<AttemptOutcome>;
  /** The attempt's change against the base branch, as a unified diff (capped). */
  diff(handle: AttemptHandle): Promise<string>;
  /** Sends a message to the attempt's agent and lets it work again; await the attempt again after. */
  send(handle: AttemptHandle, text: string): Promise<void>;
  /**
   * Scores passing candidates against the task's acceptance criteria (reviewer profile, structured).
   * When the judge fails, `winner` is the passing candidate with the smallest diff and `scores` is
   * empty; the Result says so.
   */
  judge(outcomes: AttemptOutcome[]): Promise<{ scores: CandidateScore[]; winner?: string }>;
  /**
   * Reviews one attempt's change (reviewer profile): approve, or say what to change. When the
   * reviewer itself fails (the API, no key), `failed` says why and the strategy should keep what
   * it has (refine: the last passing round) rather than fail the task.
   */
  review(handle: AttemptHandle): Promise<{ approved: boolean; comments: string; failed?: string }>;
  /** A line in the session's log. */
  log(message: string): void;
}

/** How a task ended. */
export interface StrategyResult {
  outcome: 'done' | 'failed';
  /** The kept attempt (done). */
  winner?: AttemptOutcome;
  /** Every attempt, for the archive's candidates table. */
  attempts: AttemptOutcome[];
  scores?: CandidateScore[];
  /** One line, for failed tasks. */
  reason?: string;
}

/** A strategy. */
export interface Strategy {
  name: string;
  run(ctx: StrategyContext): Promise<StrategyResult>;
}
