import { dependencyCycle } from '../scheduler/scheduler.js';
import { taskOutcome } from '../store/records.js';
import type { ReadonlyState } from '../store/schema.js';
import { taskNumber } from '../tasks/naming.js';
import type { TaskFile } from '../tasks/task-file.js';

/**
 * A task's status as `orchestra task ls` shows it, read the way the scheduler's board reads it
 * (src/scheduler/scheduler.ts `board()`): `blocked` with the scheduler's reason, else `queued`
 * without a store record, else `merged`/`done`/`failed` once archived (`taskOutcome`), else the
 * record's state. The CLI cannot see the scheduler's in-memory reasons, so `blocked` is worked out
 * again from the files, with the scheduler's own rule (`depsSatisfied`) and its `dependencyCycle`.
 */

/** What statuses are decided from: the store's task records and the queue's usable files. */
export interface TaskWorld {
  /** `store.read().tasks`, keyed by task id. */
  readonly tasks: ReadonlyState['tasks'];
  /** Queued task files that parse, by task number, as the scheduler's watcher holds them. */
  readonly queued: ReadonlyMap<number | undefined, TaskFile>;
}

/** A status and, where the board gives one, why (one line). */
export interface TaskStatusView {
  status: string;
  reason?: string;
}

/** The store's record of the task numbered like `id` (`task-3` finds `task-03`), as the scheduler looks dependencies up. */
function recordOf(world: TaskWorld, id: string) {
  const n = taskNumber(id);
  return Object.values(world.tasks).find((t) => taskNumber(t.id) === n);
}

/**
 * Why the scheduler holds `task` as `blocked` on its `dependsOn`, or undefined when it does not:
 * the dependencies go round in a cycle through queued tasks, or one is neither queued nor in the
 * store. As in the scheduler, the first dependency still to finish (or that failed) settles it.
 */
export function dependencyBlock(task: TaskFile, world: TaskWorld): string | undefined {
  const cycle = dependencyCycle(task, world.queued);
  if (cycle) return `dependsOn goes round in a cycle: ${cycle.join(' → ')}`;
  for (const dep of task.meta.dependsOn) {
    const record = recordOf(world, dep);
    if (!record) {
      if (world.queued.has(taskNumber(dep))) return undefined;
      return `dependsOn ${dep}, which is no task (not queued, not archived)`;
    }
    if (record.state === 'failed' || record.state === 'dropped' || taskOutcome(record) === 'failed') {
      return undefined;
    }
    if (!(record.state === 'succeeded' || record.state === 'archived')) return undefined;
  }
  return undefined;
}

/**
 * The board's status of the task `id` from its store record (undefined: none yet).
 *
 * @returns `queued` without a record; `merged`, `done` or `failed` once archived; else the
 *   record's state (`running`, `succeeded`, `failed`, `dropped`, ...), with the record's error
 */
export function recordStatus(world: TaskWorld, id: string): TaskStatusView {
  const record = world.tasks[id];
  if (!record) return { status: 'queued' };
  const outcome = taskOutcome(record);
  const status = outcome ? (outcome === 'done' && record.mergedCommit ? 'merged' : outcome) : record.state;
  return record.error ? { status, reason: record.error } : { status };
}

/**
 * The status of a queued task file that parses: `blocked` when the scheduler would hold it on its
 * dependencies (only while it has not started: a started task waits for nothing), else
 * {@link recordStatus}.
 */
export function queuedStatus(task: TaskFile, world: TaskWorld): TaskStatusView {
  const record = world.tasks[task.id];
  if (!record || record.state === 'queued') {
    const blocked = dependencyBlock(task, world);
    if (blocked) return { status: 'blocked', reason: blocked };
  }
  return recordStatus(world, task.id);
}
