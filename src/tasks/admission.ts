import { OrchestraError } from '../common/errors.js';
import { closestMatch } from '../config/format-issue.js';
import { taskNumber } from './naming.js';
import type { TaskFile } from './task-file.js';
import { checkDependencies, type TaskWorld } from './task-status.js';

/**
 * What `orchestra task add` refuses before writing anything: a task that could never run, because
 * it names a strategy that does not exist, or a dependency that is no task or goes round in a
 * cycle. (A dependency that failed is let through: the person may be about to retry it.) Pure: the
 * caller gathers the strategies and the world.
 */

/** What a new task is checked against. */
export interface AdmissionContext {
  /** Every strategy a task may name: the built-ins and `.orchestra/strategies/<name>.mjs`. */
  strategies: readonly string[];
  /** The store, the queue and the archives (see {@link TaskWorld}). */
  world: TaskWorld;
}

const DEPENDENCY_HINT =
  '`orchestra task ls --all` lists every task; add the dependency first, or leave it out of dependsOn';

/** Every task id `world` knows, nearest number to `id` first, so a "did you mean" picks the closer one. */
function knownIds(id: string, world: TaskWorld): string[] {
  const ids = new Set([
    ...Object.keys(world.tasks),
    ...world.queue.keys(),
    ...(world.archived?.keys() ?? []),
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
  const { blocked } = checkDependencies(task.id, task.meta.dependsOn, context.world);
  if (blocked?.kind === 'unknown') {
    const guess = closestMatch(blocked.dependency, knownIds(blocked.dependency, context.world));
    throw new OrchestraError(
      'TASK_INVALID',
      `dependsOn ${blocked.dependency} names no task: not queued, not in the store, not archived${guess ? ` (did you mean ${guess}?)` : ''}`,
      { hint: DEPENDENCY_HINT },
    );
  }
  if (blocked?.kind === 'cycle') {
    throw new OrchestraError('TASK_INVALID', blocked.reason, {
      hint: 'a task cannot wait for itself: leave one of these dependencies out',
    });
  }
}
