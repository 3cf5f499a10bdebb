import { dependencyState, recordStatus, type TaskStatusView, type TaskWorld } from '../scheduler/board.js';
import type { TaskFile } from '../tasks/task-file.js';

export { recordStatus, type TaskStatusView, type TaskWorld } from '../scheduler/board.js';

/**
 * A task's status as `orchestra task ls` shows it, by the board's rules (src/scheduler/board.ts).
 * The CLI cannot see the scheduler's in-memory reasons (a missing key), so `blocked` is worked out
 * from the files with the scheduler's own dependency rule.
 */

/**
 * The status of a queued task file that parses: `blocked` when the scheduler would hold it on its
 * dependencies (only while it has not started: a started task waits for nothing), else
 * {@link recordStatus}.
 */
export function queuedStatus(task: TaskFile, world: TaskWorld): TaskStatusView {
  const record = world.tasks[task.id];
  if (!record || record.state === 'queued') {
    const deps = dependencyState(task, world);
    if (typeof deps === 'object' && 'blocked' in deps) return { status: 'blocked', reason: deps.blocked };
  }
  return recordStatus(record);
}
