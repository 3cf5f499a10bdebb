import { combineCosts, costOfUsd } from '../agents/cost.js';
import type { BoardTask } from '../protocol/board.js';
import { taskOutcome } from '../store/records.js';
import type { DeepReadonly, ReadonlyState, TaskRecord } from '../store/schema.js';
import { compareTaskIds, taskNumber } from '../tasks/naming.js';
import type { TaskFile } from '../tasks/task-file.js';

/**
 * What the task board, `orchestra task ls` and the scheduler's admission read a task's status
 * from (DESIGN.md, "Code layout": `board.ts`, a pure projection of the store): one rule for
 * dependencies, one for statuses, so every screen says the same.
 */

/** What statuses and dependencies are decided from. */
export interface TaskWorld {
  /** `store.read().tasks`, keyed by task id. */
  readonly tasks: ReadonlyState['tasks'];
  /** The queue's task files that parse, by task number. */
  readonly queued: ReadonlyMap<number | undefined, TaskFile>;
}

/**
 * Where `task` stands on its `dependsOn`: `ready`; `waiting` on one still to finish; `blocked` on
 * one that cannot (it names no task, or they go round in a cycle; the task starts as soon as that
 * changes); `failed` when one failed or was dropped.
 */
export type DependencyState = 'ready' | 'waiting' | { blocked: string } | { failed: string };

/** A status and, where there is one, why (one line). */
export interface TaskStatusView {
  status: string;
  reason?: string;
}

/** The one rule for {@link DependencyState}. */
export function dependencyState(task: TaskFile, world: TaskWorld): DependencyState {
  const cycle = dependencyCycle(task, world.queued);
  if (cycle) return { blocked: `dependsOn goes round in a cycle: ${cycle.join(' → ')}` };
  for (const dep of task.meta.dependsOn) {
    const n = taskNumber(dep);
    const record = Object.values(world.tasks).find((t) => taskNumber(t.id) === n);
    if (!record) {
      if (world.queued.has(n)) return 'waiting';
      return { blocked: `dependsOn ${dep}, which is no task (not queued, not archived)` };
    }
    if (record.state === 'failed' || record.state === 'dropped' || taskOutcome(record) === 'failed') {
      return { failed: dep };
    }
    if (!(record.state === 'succeeded' || record.state === 'archived')) return 'waiting';
  }
  return 'ready';
}

/**
 * A task's status from its store record (undefined: none yet): `queued` without a record;
 * `merged`, `done` or `failed` once archived; else the record's state, with its error as reason
 * (a done task's reason: `merging`, or why autoMerge did not merge it).
 */
export function recordStatus(record: DeepReadonly<TaskRecord> | undefined): TaskStatusView {
  if (!record) return { status: 'queued' };
  const outcome = taskOutcome(record);
  const status = outcome ? (outcome === 'done' && record.mergedCommit ? 'merged' : outcome) : record.state;
  const reason =
    record.error ??
    (status === 'done' && record.mergeError
      ? `not merged: ${record.mergeError}`
      : status === 'done' && record.mergePending
        ? 'merging'
        : undefined);
  return reason ? { status, reason } : { status };
}

/**
 * The cycle `task` is on through the `dependsOn` of queued tasks (`queued` by task number), as
 * ids from `task` back to it (`[task-01, task-02, task-01]`), or undefined when there is none.
 */
export function dependencyCycle(
  task: TaskFile,
  queued: ReadonlyMap<number | undefined, TaskFile>,
): string[] | undefined {
  const start = taskNumber(task.id);
  const path: TaskFile[] = [task];
  const seen = new Set<number | undefined>();
  const walk = (current: TaskFile): boolean => {
    for (const dep of current.meta.dependsOn) {
      const n = taskNumber(dep);
      if (n === start) return true;
      const next = queued.get(n);
      if (!next || seen.has(n)) continue;
      seen.add(n);
      path.push(next);
      if (walk(next)) return true;
      path.pop();
    }
    return false;
  };
  return walk(task) ? [...path.map((t) => t.id), task.id] : undefined;
}

/** What the task board is projected from. */
export interface BoardWorld {
  state: ReadonlyState;
  /** The queue's task files (the watcher's list). */
  files: readonly TaskFile[];
  /** Why a task is held back, by task id (the scheduler's admission). */
  blocked: ReadonlyMap<string, string>;
  /** The pane id of an attempt on this server, if it has one. */
  paneOfAttempt(attemptId: string): number | undefined;
}

/** The task board's rows (prefix t): every task, queued or recorded, with its attempts, panes and cost. */
export function boardRows(world: BoardWorld): BoardTask[] {
  const { state, files } = world;
  const queuedIds = new Set(files.map((t) => t.id));
  const rows: BoardTask[] = [];
  const ids = new Set([...Object.keys(state.tasks), ...queuedIds]);
  for (const id of [...ids].sort(compareTaskIds)) {
    const record = state.tasks[id];
    const attempts = Object.values(state.attempts)
      .filter((a) => a.taskId === id)
      .sort((a, b) => a.n - b.n);
    const blocked = world.blocked.get(id);
    const view = blocked ? { status: 'blocked', reason: blocked } : recordStatus(record);
    const status = view.status;
    const file = files.find((t) => t.id === id);
    const title = file?.title ?? record?.title;
    const origin = record?.origin ?? file?.meta.origin;
    const cycle = record?.cycle ?? file?.meta.cycle;
    const kind = record?.kind ?? file?.meta.kind;
    const cost = combineCosts(attempts.map((a) => costOfUsd(a.costUsd)));
    rows.push({
      id,
      status,
      ...(title ? { title } : {}),
      strategy: record?.strategy ?? 'single',
      ...(origin ? { origin } : {}),
      ...(cycle !== undefined ? { cycle } : {}),
      ...(kind ? { kind } : {}),
      ...(view.reason ? { error: view.reason } : {}),
      ...(record?.resultBranch ? { resultBranch: record.resultBranch } : {}),
      // An archived task's total includes what its judge or reviewer spent, as its Result says.
      ...(record?.state === 'archived' && record.costUsd !== undefined
        ? { costUsd: record.costUsd }
        : cost.usd !== undefined
          ? { costUsd: cost.usd }
          : {}),
      attempts: attempts.map((a) => {
        const paneId = world.paneOfAttempt(a.id);
        return {
          id: a.id,
          state: a.state,
          ...(paneId !== undefined ? { paneId } : {}),
          ...(a.costUsd !== undefined ? { costUsd: a.costUsd } : {}),
        };
      }),
    });
  }
  return rows;
}
