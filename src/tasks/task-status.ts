import { taskOutcome } from '../store/records.js';
import type { AttemptRecord, DeepReadonly, TaskRecord } from '../store/schema.js';
import { taskNumber } from './naming.js';

/**
 * What a task is, as every screen shows it (`orchestra task ls`, the task board): one answer from
 * the store's record and the queue's file. Pure: callers read the store and the queue folder, this
 * module only decides.
 */

/** Every status a task can be shown with. */
export const TASK_STATUSES = [
  'queued',
  'blocked',
  'preparing',
  'running',
  'done',
  'failed',
  'merged',
  'dropped',
  'invalid',
] as const;

/**
 * - `queued`: waits its turn (or for a dependency still to finish; `reason` names it)
 * - `blocked`: cannot start as things are: a dependency that is no task, invalid, failed or
 *   dropped, or that goes round in a cycle, or a reason the caller knows (a missing API key)
 * - `preparing`: started; no attempt of the current run has reached its agent yet
 * - `running`: an attempt's agent or checks are at work
 * - `done`, `failed`: archived with that outcome (`failed` says why)
 * - `merged`: done, and its result merged into the base branch
 * - `dropped`: removed from the queue before it started
 * - `invalid`: its file cannot be used (`reason` says why); the server moves it to rejected/
 */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A task's status and, where there is one to give, why (one line). */
export interface TaskStatusView {
  status: TaskStatus;
  reason?: string;
}

/** A file in `tasks/`: the dependencies of a task that parsed, or why it did not. */
export type QueueFile = { readonly dependsOn: readonly string[] } | { readonly invalid: string };

/**
 * Everything a status is decided from. Records and attempts are the store's
 * (`store.read().tasks`, `.attempts`), keyed by id; `queue` holds every file in `tasks/`, by task
 * id. `archived` is for tasks the store does not know but done/ or failed/ holds (a state file
 * moved aside): by task id, the outcome of the newest archive.
 */
export interface TaskWorld {
  readonly tasks: Readonly<Record<string, DeepReadonly<TaskRecord>>>;
  /** Omitted: a started task shows as `running`, never `preparing`. */
  readonly attempts?: Readonly<Record<string, DeepReadonly<AttemptRecord>>>;
  readonly queue: ReadonlyMap<string, QueueFile>;
  readonly archived?: ReadonlyMap<string, 'done' | 'failed'>;
}

/** Why a task's dependencies keep it from ever starting as things are. */
export interface DependencyBlock {
  /**
   * `unknown`: names no task anywhere; `invalid`: names a file that cannot be used; `failed`: names
   * a task that failed or was dropped; `cycle`: the dependencies go round back to the task.
   */
  kind: 'unknown' | 'invalid' | 'failed' | 'cycle';
  /** The dependency at fault (for `cycle`, the first step of the cycle). */
  dependency: string;
  /** One line, for people. */
  reason: string;
}

/** Where a task stands with its `dependsOn`. */
export interface DependencyCheck {
  /** The first problem that keeps it from starting, if any. */
  blocked?: DependencyBlock;
  /** Dependencies not yet finished, in `dependsOn` order. */
  waiting: string[];
}

/** How far a task has come, as its dependents see it. */
type Settled = 'done' | 'failed' | 'dropped' | 'pending' | 'unstarted' | 'invalid' | 'none';

/** The entry of `map` for the task numbered like `id` (`task-3` finds `task-03`): the exact id first. */
function byNumber<V>(entries: Iterable<[string, V]>, id: string): [string, V] | undefined {
  const n = taskNumber(id);
  let found: [string, V] | undefined;
  for (const [key, value] of entries) {
    if (key === id) return [key, value];
    if (found === undefined && n !== undefined && taskNumber(key) === n) found = [key, value];
  }
  return found;
}

function settled(id: string, world: TaskWorld): Settled {
  const record = byNumber(Object.entries(world.tasks), id)?.[1];
  const file = byNumber(world.queue, id)?.[1];
  if (record) {
    const outcome = taskOutcome(record);
    if (outcome) return outcome;
    if (record.state === 'succeeded') return 'done';
    if (record.state === 'failed') return 'failed';
    if (record.state === 'dropped') return 'dropped';
    if (record.state === 'running') return 'pending';
    // queued in the store: it is what its file says; gone unrun, it was dropped.
    if (!file) return 'dropped';
  }
  if (file) return 'invalid' in file ? 'invalid' : 'unstarted';
  return byNumber(world.archived ?? new Map(), id)?.[1] ?? 'none';
}

/**
 * The cycle through `dependsOn` that leads from `id` back to it, as ids (`[task-01, task-02,
 * task-01]`), or undefined. Only tasks not yet started are walked: one that is running or
 * finished no longer waits for anything, so it cannot close a cycle.
 */
export function dependencyCycle(
  id: string,
  dependsOn: readonly string[],
  world: TaskWorld,
): string[] | undefined {
  const start = taskNumber(id);
  const path = [id];
  const seen = new Set<number>();
  const walk = (deps: readonly string[]): boolean => {
    for (const dep of deps) {
      const n = taskNumber(dep);
      if (n === undefined) continue;
      if (n === start) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      const entry = byNumber(world.queue, dep);
      if (!entry || 'invalid' in entry[1] || settled(entry[0], world) !== 'unstarted') continue;
      path.push(entry[0]);
      if (walk(entry[1].dependsOn)) return true;
      path.pop();
    }
    return false;
  };
  return walk(dependsOn) ? [...path, id] : undefined;
}

/**
 * Checks task `id`'s `dependsOn` against `world`. A dependency may be named by any id of its
 * number (`task-3` for `task-03`), as the scheduler matches them. A problem outranks waiting: a
 * task that waits for one dependency but names an unknown other can never start.
 */
export function checkDependencies(
  id: string,
  dependsOn: readonly string[],
  world: TaskWorld,
): DependencyCheck {
  const cycle = dependencyCycle(id, dependsOn, world);
  if (cycle) {
    return {
      blocked: {
        kind: 'cycle',
        dependency: cycle[1]!,
        reason: `dependsOn goes round in a cycle: ${cycle.join(' → ')}`,
      },
      waiting: [],
    };
  }
  const waiting: string[] = [];
  for (const dep of dependsOn) {
    const state = settled(dep, world);
    if (state === 'done') continue;
    if (state === 'pending' || state === 'unstarted') {
      waiting.push(dep);
      continue;
    }
    const block: DependencyBlock =
      state === 'none'
        ? {
            kind: 'unknown',
            dependency: dep,
            reason: `dependsOn ${dep}, which is no task: not queued, not in the store, not archived`,
          }
        : state === 'invalid'
          ? { kind: 'invalid', dependency: dep, reason: `dependsOn ${dep}, whose file is invalid` }
          : {
              kind: 'failed',
              dependency: dep,
              reason: state === 'dropped' ? `dependency ${dep} was dropped` : `dependency ${dep} failed`,
            };
    return { blocked: block, waiting };
  }
  return { waiting };
}

/** Whether the current run of a started task has an attempt past preparing. */
function pastPreparing(record: DeepReadonly<TaskRecord>, world: TaskWorld): boolean {
  if (!world.attempts) return true;
  const offset = record.attemptOffset ?? 0;
  return Object.values(world.attempts).some(
    (a) => a.taskId === record.id && a.n > offset && a.state !== 'queued' && a.state !== 'preparing',
  );
}

/**
 * The status of task `id`: from its store record (`world.tasks[id]`) when it has started or
 * ended, else from its file in `tasks/` (`world.queue.get(id)`) and its dependencies.
 *
 * For the board (src/scheduler/scheduler.ts `board()`):
 *
 *   taskStatus(id, { ...store.read(), queue }, { blocked: this.blocked.get(id) })
 *
 * with `queue` built from the watcher's tasks (`{ dependsOn: t.meta.dependsOn }`).
 *
 * @param id the task id exactly as the record and the queue key it (`task-03`)
 * @param options.blocked a reason the caller knows that the files do not say (the scheduler's
 *   "its agent needs ANTHROPIC_API_KEY"); it makes a waiting task `blocked`, never a started one
 * @returns the status, with a one-line `reason` for blocked, invalid, failed, dropped, and queued
 *   tasks that wait for a dependency
 */
export function taskStatus(id: string, world: TaskWorld, options: { blocked?: string } = {}): TaskStatusView {
  const record = world.tasks[id];
  const file = world.queue.get(id);
  if (record) {
    const outcome = taskOutcome(record);
    if (outcome === 'done') return { status: record.mergedCommit ? 'merged' : 'done' };
    if (outcome === 'failed') return withReason('failed', record.error);
    switch (record.state) {
      case 'dropped':
        return { status: 'dropped' };
      case 'succeeded':
        return { status: 'done' };
      case 'failed':
        return withReason('failed', record.error);
      case 'running':
        return { status: pastPreparing(record, world) ? 'running' : 'preparing' };
      default:
        if (!file) {
          // An archive the store has not caught up with (a server killed while archiving).
          const archived = world.archived?.get(id);
          if (archived) return { status: archived };
          return { status: 'dropped', reason: 'its file left tasks/ before it started' };
        }
    }
  }
  if (!file) {
    const archived = world.archived?.get(id);
    return archived ? { status: archived } : { status: 'dropped', reason: 'not in the queue' };
  }
  if ('invalid' in file) return { status: 'invalid', reason: file.invalid };
  if (options.blocked) return { status: 'blocked', reason: options.blocked };
  const deps = checkDependencies(id, file.dependsOn, world);
  if (deps.blocked) return { status: 'blocked', reason: deps.blocked.reason };
  if (deps.waiting.length > 0) return { status: 'queued', reason: `waits for ${deps.waiting.join(', ')}` };
  return { status: 'queued' };
}

function withReason(status: TaskStatus, reason: string | undefined): TaskStatusView {
  return reason ? { status, reason } : { status };
}
