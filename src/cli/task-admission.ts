import { OrchestraError } from '../common/errors.js';
import { closestMatch } from '../config/format-issue.js';
import { dependencyCycle } from '../scheduler/board.js';
import { taskNumber } from '../tasks/naming.js';
import type { TaskFile } from '../tasks/task-file.js';
import type { TaskWorld } from './task-status.js';

/**
 * What `orchestra task add` refuses before writing anything: a task that could never run, because
 * it names a strategy that does not exist, or a dependency that is no task anywhere or goes round
 * in a cycle. (A dependency that failed is let through: the person may be about to retry it.)
 */

/** What a new task is checked against. */
export interface AdmissionContext {
  /** Every strategy a task may name: the built-ins and `.orchestra/strategies/<name>.mjs`. */
  strategies: readonly string[];
  /** The store and the queue. */
  world: TaskWorld;
  /** Ids of the tasks in done/ and failed/ (a store moved aside still leaves them). */
  archived: ReadonlySet<string>;
}

const DEPENDENCY_HINT =
  '`orchestra task ls --all` lists every task; add the dependency first, or leave it out of dependsOn';

/** Every task id known here, nearest number to `id` first, so a "did you mean" picks the closer one. */
function knownIds(id: string, context: AdmissionContext): string[] {
  const ids = new Set([
    ...Object.keys(context.world.tasks),
    ...[...context.world.queued.values()].map((t) => t.id),
    ...context.archived,
  ]);
  const n = taskNumber(id) ?? 0;
  const distance = (other: string) => Math.abs((taskNumber(other) ?? Number.MAX_SAFE_INTEGER) - n);
  return [...ids].sort((a, b) => distance(a) - distance(b));
}

/**
 * Refuses a new task that could not run.
 *
 * @param task the parsed task, with the id it is about to get
 * @throws OrchestraError TASK_INVALID: one line naming the strategy or dependency, with a "did you
 *   mean" when a known name is close, and a hint
 */
export function assertAdmissible(task: TaskFile, context: AdmissionContext): void {
  const strategy = task.meta.strategy;
  if (!context.strategies.includes(strategy)) {
    const guess = closestMatch(strategy, context.strategies);
    throw new OrchestraError(
      'TASK_INVALID',
      `unknown strategy "${strategy}"${guess ? ` (did you mean "${guess}"?)` : ''}`,
      {
        hint: `strategies here: ${context.strategies.join(', ')}; a custom one is a file .orchestra/strategies/<name>.mjs`,
      },
    );
  }
  const known = new Set(knownIds(task.id, context).map(taskNumber));
  for (const dep of task.meta.dependsOn) {
    if (known.has(taskNumber(dep))) continue;
    const guess = closestMatch(dep, knownIds(dep, context));
    throw new OrchestraError(
      'TASK_INVALID',
      `dependsOn ${dep} names no task: not queued, not in the store, not archived${guess ? ` (did you mean ${guess}?)` : ''}`,
      { hint: DEPENDENCY_HINT },
    );
  }
  const queued = new Map(context.world.queued);
  queued.set(taskNumber(task.id), task);
  const cycle = dependencyCycle(task, queued);
  if (cycle) {
    throw new OrchestraError('TASK_INVALID', `dependsOn goes round in a cycle: ${cycle.join(' → ')}`, {
      hint: 'a task cannot wait for itself: leave one of these dependencies out',
    });
  }
}
