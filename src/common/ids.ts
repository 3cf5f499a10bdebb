/**
 * Identifiers shared by the queue, the store and git (DESIGN.md, "On disk").
 * A task id is its file name without `.md` (`task-03`); attempt `n` (1-based) of a task has the id
 * `task-03-a1`, its worktree at `.orchestra/worktrees/task-03-a1` and its branch
 * `orchestra/task-03/a1`.
 */

/** The id of attempt `n` (1-based) of task `taskId`, e.g. `task-03-a2`. */
export function attemptId(taskId: string, n: number): string {
  return `${taskId}-a${n}`;
}

/** The branch of attempt `n` of task `taskId`, e.g. `orchestra/task-03/a2`. */
export function attemptBranch(taskId: string, n: number): string {
  return `orchestra/${taskId}/a${n}`;
}

/** Splits an attempt id back into task id and attempt number; undefined when it is not one. */
export function parseAttemptId(id: string): { taskId: string; n: number } | undefined {
  const match = /^(.+)-a(\d+)$/.exec(id);
  if (!match) return undefined;
  return { taskId: match[1]!, n: Number(match[2]) };
}
