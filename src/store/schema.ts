/**
 * The shape of `.orchestra/state.json` (DESIGN.md, "On disk"): the session layout and panes, the
 * tasks, their attempts and the agents' checkpoints. The zod schema is the single source of truth;
 * the TypeScript types are inferred from it, so what the store writes is exactly what it accepts
 * on read. Timestamps are ISO-8601 UTC strings as produced by `Date.prototype.toISOString()`.
 */
import * as z from 'zod';

/**
 * The state format this build reads and writes. Bump it together with an upgrade function in
 * `migrations.ts` whenever a change would make an older file fail `stateSchema`.
 */
export const STATE_VERSION = 1;

const timestamp = z.iso.datetime({ offset: true });

/** Pane layouts, in the order `prefix space` cycles through them (DESIGN.md, "Keys"). */
export const LAYOUT_KINDS = ['tiled', 'even-horizontal', 'even-vertical', 'main-vertical'] as const;

export const paneRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  kind: z.enum(['shell', 'agent', 'command']),
  /** argv of the pane's process; never carries secrets (DESIGN.md, "Security"). */
  command: z.array(z.string()),
  cwd: z.string(),
  attemptId: z.string().optional(),
  createdAt: timestamp,
});

export const sessionRecordSchema = z.object({
  name: z.string().optional(),
  layout: z.object({
    kind: z.enum(LAYOUT_KINDS),
    zoomed: z.boolean(),
    /** id of the focused pane */
    focus: z.string().optional(),
  }),
  panes: z.array(paneRecordSchema),
});

/** Task states: `archived` = moved to done/ or failed/, `dropped` = removed from the queue unrun. */
export const TASK_STATES = ['queued', 'running', 'succeeded', 'failed', 'archived', 'dropped'] as const;

export const taskRecordSchema = z.object({
  id: z.string().min(1),
  state: z.enum(TASK_STATES),
  strategy: z.string().min(1),
  /** the task's title, for boards after its file has been archived */
  title: z.string().optional(),
  /** attempt ids, oldest first */
  attempts: z.array(z.string()),
  resultBranch: z.string().optional(),
  resultCommit: z.string().optional(),
  /** file name under done/ or failed/ once archived */
  archivedAs: z.string().optional(),
  /** total spend over all attempts, USD */
  costUsd: z.number().nonnegative().optional(),
  /** attempts of earlier runs (before a retry): this run's attempts are numbered after them */
  attemptOffset: z.number().int().nonnegative().optional(),
  /** the merge commit on the base branch, once merged */
  mergedCommit: z.string().optional(),
  /** the commit that reverted `mergedCommit` because the checks failed on the base branch afterwards */
  revertedBy: z.string().optional(),
  /** `autoMerge` is to merge it and has not yet come to an end (a restart merges it) */
  mergePending: z.boolean().optional(),
  /** why its last merge was refused (a conflict, failing checks on the merged result...) */
  mergeError: z.string().optional(),
  /** how the task ended, once archived: the one record of its outcome every screen reads */
  outcome: z.enum(['done', 'failed']).optional(),
  /** a person chose this attempt as the result over the strategy's pick (the board's compare view) */
  winnerPicked: z
    .object({ attempt: z.string().min(1), at: timestamp, was: z.string().optional() })
    .optional(),
  /** when its current run first started (kept across server restarts; a retry starts a new run) */
  startedAt: timestamp.optional(),
  /** spend of its judge and reviewer calls in the current run, USD */
  reviewUsd: z.number().nonnegative().optional(),
  /** the reviews of its current run (refine), oldest first */
  reviews: z.array(z.object({ attempt: z.string(), approved: z.boolean(), comments: z.string() })).optional(),
  /** `autonomy` for a task the autonomous mode wrote (its front matter's `origin`) */
  origin: z.literal('autonomy').optional(),
  /** the autonomous cycle that wrote it */
  cycle: z.number().int().positive().optional(),
  /** `plan` for a cycle's planning task */
  kind: z.literal('plan').optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
  error: z.string().optional(),
});

/** Attempt states, in lifecycle order (DESIGN.md, "Attempt lifecycle"). */
export const ATTEMPT_STATES = [
  'queued',
  'preparing',
  'running',
  'checking',
  'succeeded',
  'failed',
  'archived',
] as const;

/** Attempt states after which the attempt does no more work. */
export const FINISHED_ATTEMPT_STATES: readonly AttemptState[] = ['succeeded', 'failed', 'archived'];

export const attemptRecordSchema = z.object({
  id: z.string().min(1),
  taskId: z.string().min(1),
  /** 1-based attempt number within the task */
  n: z.number().int().positive(),
  state: z.enum(ATTEMPT_STATES),
  branch: z.string().min(1),
  /** absolute path of the attempt's git worktree */
  worktree: z.string().min(1),
  /** absolute path of `.orchestra/runs/<attempt>/` */
  runDir: z.string().min(1),
  sandbox: z.enum(['docker', 'local']).optional(),
  /** The worker host (`worker.hosts[].name`) of a Docker attempt; absent: this machine's engine */
  host: z.string().optional(),
  /** Docker container id, or the local process id as a decimal string */
  workerId: z.string().optional(),
  /** No longer written (a pane is found by its attempt id, SessionServer.paneOfAttempt); kept so older state files load. */
  paneId: z.string().optional(),
  /** adapter name from the config */
  agent: z.string().optional(),
  profile: z.string().optional(),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
  exitCode: z.number().int().optional(),
  /** spend of this attempt, USD */
  costUsd: z.number().nonnegative().optional(),
  /** how many times the check commands ran */
  checkRounds: z.number().int().nonnegative().optional(),
  /** the strategy's score, higher is better; best-of-n keeps the highest */
  score: z.number().optional(),
  /** the commit the attempt started from; its diffs are taken against this, not the moving base branch */
  baseCommit: z.string().optional(),
  /** the attempt's commit on its branch, once it passed the check gate */
  commit: z.string().optional(),
  /** whether the last check run passed */
  checkPassed: z.boolean().optional(),
  /** tail of the last check run's output (a few KB) */
  checkOutput: z.string().optional(),
  /** size of the change against the base branch */
  diffStat: z.object({ files: z.number(), insertions: z.number(), deletions: z.number() }).optional(),
  /** the agent CLI's session id, for adapters that resume by id */
  sessionId: z.string().optional(),
  error: z.string().optional(),
});

export const checkpointRecordSchema = z.object({
  /** absolute path of the agent's checkpoint file */
  path: z.string().min(1),
  /** the agent turn the checkpoint was taken after (0-based count of completed turns) */
  turn: z.number().int().nonnegative(),
  updatedAt: timestamp,
  /** the agent CLI's own session id, for adapters that resume by id */
  sessionId: z.string().optional(),
});

/**
 * Phases of the autonomous mode: `off` (not enabled), `idle` (waiting for the session to be idle),
 * `planning`, `executing`, `cooldown`, `paused` (a person is at work, or `autonomy pause`) and
 * `capped` (a daily cap is reached: nothing more until the next UTC day).
 */
export const AUTONOMY_PHASES = [
  'off',
  'idle',
  'planning',
  'executing',
  'cooldown',
  'paused',
  'capped',
] as const;
export type AutonomyPhase = (typeof AUTONOMY_PHASES)[number];

export const autonomyRecordSchema = z.object({
  /** the latest cycle started, 0 before the first */
  cycle: z.number().int().nonnegative(),
  phase: z.enum(AUTONOMY_PHASES),
  /** when the phase began (a cooldown ends `cooldownMinutes` after it) */
  since: timestamp,
  /** the phase a pause interrupted, to go on with */
  pausedFrom: z.enum(AUTONOMY_PHASES).optional(),
  /** `orchestra autonomy pause`: held until `resume`, whatever the idle clock says */
  pausedByUser: z.boolean().optional(),
  /** the current cycle's planning task */
  planTask: z.string().optional(),
  /** the current cycle's tasks, from its proposals */
  cycleTasks: z.array(z.string()).optional(),
  /** why the last cycle ended early or autonomy stopped (a failed task, a cap) */
  reason: z.string().optional(),
  /** most proposals of the current cycle: maxTasksPerCycle, fewer when the daily cap is near */
  proposalLimit: z.number().int().positive().optional(),
  /** the current cycle plans from the session's own record (selfImprove) */
  selfImprove: z.boolean().optional(),
  /** the failure that stopped the current cycle (stopOnFirstFailure) */
  stoppedBy: z.string().optional(),
  /** the UTC day (`YYYY-MM-DD`) `memoryUsd` counts */
  day: z.string().optional(),
  /** USD the memory calls spent on `day` */
  memoryUsd: z.number().nonnegative().optional(),
  /** the base branch's tip whose checks last passed before a cycle (an autonomy merge) */
  verifiedTip: z.string().optional(),
});
export type AutonomyRecord = z.infer<typeof autonomyRecordSchema>;

/** The whole state file. Record keys must equal the record's `id`. */
export const stateSchema = z
  .object({
    version: z.literal(STATE_VERSION),
    session: sessionRecordSchema,
    tasks: z.record(z.string(), taskRecordSchema),
    attempts: z.record(z.string(), attemptRecordSchema),
    /** keyed by attempt id */
    checkpoints: z.record(z.string(), checkpointRecordSchema),
    /** The autonomous mode's progress (issue 11); absent until it first runs. */
    autonomy: autonomyRecordSchema.optional(),
  })
  .superRefine((state, ctx) => {
    // A key that disagrees with its record's id is always a bug in the code that wrote it, and
    // would make lookups by id and by key return different answers.
    for (const [key, task] of Object.entries(state.tasks)) {
      if (task.id !== key) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', key, 'id'],
          message: `id "${task.id}" differs from its key`,
        });
      }
    }
    for (const [key, attempt] of Object.entries(state.attempts)) {
      if (attempt.id !== key) {
        ctx.addIssue({
          code: 'custom',
          path: ['attempts', key, 'id'],
          message: `id "${attempt.id}" differs from its key`,
        });
      }
    }
    const paneIds = new Set<string>();
    for (const [i, pane] of state.session.panes.entries()) {
      if (paneIds.has(pane.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['session', 'panes', i, 'id'],
          message: `duplicate pane id "${pane.id}"`,
        });
      }
      paneIds.add(pane.id);
    }
  });

export type LayoutKind = (typeof LAYOUT_KINDS)[number];
export type PaneRecord = z.infer<typeof paneRecordSchema>;
export type SessionRecord = z.infer<typeof sessionRecordSchema>;
export type TaskState = (typeof TASK_STATES)[number];
export type TaskRecord = z.infer<typeof taskRecordSchema>;
export type AttemptState = (typeof ATTEMPT_STATES)[number];
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;
export type CheckpointRecord = z.infer<typeof checkpointRecordSchema>;
export type State = z.infer<typeof stateSchema>;

/** A type whose objects and arrays cannot be mutated, at any depth. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The state as handed out by `StateStore.read()`: a frozen snapshot. */
export type ReadonlyState = DeepReadonly<State>;

/** A fresh state: no panes, no tasks, tiled layout. */
export function emptyState(): State {
  return {
    version: STATE_VERSION,
    session: { layout: { kind: 'tiled', zoomed: false }, panes: [] },
    tasks: {},
    attempts: {},
    checkpoints: {},
  };
}
