/**
 * Typed helpers over the state's records. The writers take the draft of a `StateStore.update`, so
 * several changes commit as one transaction:
 *
 *   await store.update((draft) => setAttemptState(draft, id, 'running', { workerId }));
 *
 * The readers take either a draft or a `store.read()` snapshot.
 */
import { OrchestraError } from '../common/errors.js';
import {
  type AttemptRecord,
  type AttemptState,
  type DeepReadonly,
  FINISHED_ATTEMPT_STATES,
  type State,
  type TaskRecord,
} from './schema.js';

/** What `upsertTask` takes: the id, plus any fields to set. */
export type TaskInput = Pick<TaskRecord, 'id'> & Partial<Omit<TaskRecord, 'id' | 'createdAt' | 'updatedAt'>>;

/** What `addAttempt` takes: everything but the timestamps, which it sets. */
export type AttemptInput = Omit<AttemptRecord, 'createdAt' | 'updatedAt' | 'state'> & {
  state?: AttemptState;
};

/** Fields `setAttemptState` may change besides the state. */
export type AttemptPatch = Partial<
  Omit<AttemptRecord, 'id' | 'taskId' | 'n' | 'state' | 'createdAt' | 'updatedAt'>
>;

/**
 * Creates the task or merges `input` into it, and sets `updatedAt` (and `createdAt` when new).
 * A new task defaults to state `queued`, strategy `single`, no attempts.
 *
 * @returns the record in the draft (mutable until the transaction ends)
 */
export function upsertTask(draft: State, input: TaskInput, now: Date = new Date()): TaskRecord {
  const ts = now.toISOString();
  const existing = draft.tasks[input.id];
  const record: TaskRecord = existing
    ? { ...existing, ...input, updatedAt: ts }
    : { state: 'queued', strategy: 'single', attempts: [], ...input, createdAt: ts, updatedAt: ts };
  draft.tasks[input.id] = record;
  return record;
}

/**
 * Adds a new attempt (state `queued` unless given) and appends its id to its task's `attempts`.
 *
 * @throws OrchestraError TASK_NOT_FOUND when the task is not in the state
 * @throws OrchestraError INTERNAL when an attempt with that id already exists
 */
export function addAttempt(draft: State, input: AttemptInput, now: Date = new Date()): AttemptRecord {
  const task = draft.tasks[input.taskId];
  if (!task) {
    throw new OrchestraError(
      'TASK_NOT_FOUND',
      `cannot add attempt ${input.id}: task ${input.taskId} is not in the state`,
    );
  }
  if (draft.attempts[input.id]) {
    throw new OrchestraError('INTERNAL', `attempt ${input.id} already exists`);
  }
  const ts = now.toISOString();
  const record: AttemptRecord = { ...input, state: input.state ?? 'queued', createdAt: ts, updatedAt: ts };
  draft.attempts[input.id] = record;
  if (!task.attempts.includes(input.id)) task.attempts.push(input.id);
  task.updatedAt = ts;
  return record;
}

/**
 * Moves attempt `id` to `state`, applies `patch` and sets `updatedAt`. Entering `running` sets
 * `startedAt` and entering `succeeded`/`failed` sets `endedAt`, unless already set or given in
 * `patch`. Transitions are not checked against the lifecycle: a restarted server must be able to
 * record what it finds (e.g. `running` → `failed` for a worker that vanished).
 *
 * @returns the updated record in the draft
 * @throws OrchestraError INTERNAL when the attempt is not in the state
 */
export function setAttemptState(
  draft: State,
  id: string,
  state: AttemptState,
  patch: AttemptPatch = {},
  now: Date = new Date(),
): AttemptRecord {
  const attempt = draft.attempts[id];
  if (!attempt) throw new OrchestraError('INTERNAL', `attempt ${id} is not in the state`);
  const ts = now.toISOString();
  const next: AttemptRecord = { ...attempt, ...patch, state, updatedAt: ts };
  if (state === 'running' && next.startedAt === undefined) next.startedAt = ts;
  if ((state === 'succeeded' || state === 'failed') && next.endedAt === undefined) next.endedAt = ts;
  draft.attempts[id] = next;
  return next;
}

/** True when an attempt in `state` does no more work (succeeded, failed or archived). */
export function isFinishedAttempt(state: AttemptState): boolean {
  return FINISHED_ATTEMPT_STATES.includes(state);
}

type AttemptsView<A> = { readonly attempts: Readonly<Record<string, A>> };

/**
 * The attempts of task `taskId`, by attempt number. Works on a draft (mutable records) or a
 * snapshot (frozen records).
 */
export function attemptsOf<A extends DeepReadonly<AttemptRecord>>(
  state: AttemptsView<A>,
  taskId: string,
): A[] {
  return Object.values(state.attempts)
    .filter((a) => a.taskId === taskId)
    .sort((a, b) => a.n - b.n);
}

/**
 * Attempts not yet succeeded, failed or archived — what a restarted server must re-attach to,
 * resume or fail — ordered by creation time.
 */
export function unfinishedAttempts<A extends DeepReadonly<AttemptRecord>>(state: AttemptsView<A>): A[] {
  return Object.values(state.attempts)
    .filter((a) => !isFinishedAttempt(a.state))
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
}

/**
 * How a task ended: `done` or `failed` once archived, else undefined. Read from the record's
 * `outcome`; records written before it existed fall back to the folder they were archived in.
 */
export function taskOutcome(record: DeepReadonly<TaskRecord> | undefined): 'done' | 'failed' | undefined {
  if (record?.state !== 'archived') return undefined;
  if (record.outcome) return record.outcome;
  return record.archivedAs?.startsWith('failed/') ? 'failed' : 'done';
}
