import { OrchestraError } from '../common/errors.js';
import { diffStat, diffText } from '../git/attempt-repo.js';
import type { TaskDiff } from '../protocol/task-diff.js';
import { taskOutcome } from '../store/records.js';
import type { AttemptRecord, DeepReadonly, ReadonlyState, TaskRecord } from '../store/schema.js';
import type { StateStore } from '../store/store.js';
import { taskNumberFromRef } from '../tasks/naming.js';

/** The most of `git diff --stat`'s text a task diff carries, characters. */
const STAT_TEXT_MAX_CHARS = 16 * 1024;

/**
 * The task `ref` names (`task-03`, `3`, `03`) among those that have run.
 * @throws OrchestraError TASK_NOT_FOUND when none has that number
 */
export function findTaskRecord(state: ReadonlyState, ref: string): DeepReadonly<TaskRecord> {
  const n = taskNumberFromRef(ref);
  const record = Object.values(state.tasks).find(
    (t) => n !== undefined && Number(t.id.replace(/\D+/g, '')) === n,
  );
  if (!record) {
    throw new OrchestraError('TASK_NOT_FOUND', `no task ${ref} has run in this repository`, {
      hint: 'see `orchestra task ls --all`',
    });
  }
  return record;
}

/**
 * The attempt `attemptRef` names — `a2`, `2`, or its full id (which must be this task's) — else
 * the result's, else the newest with a commit.
 */
function chooseAttempt(
  task: DeepReadonly<TaskRecord>,
  attempts: DeepReadonly<AttemptRecord>[],
  attemptRef?: string,
): DeepReadonly<AttemptRecord> {
  if (attemptRef !== undefined) {
    const ref = attemptRef.trim();
    const short = /^a?(\d+)$/.exec(ref)?.[1];
    const found = attempts.find((a) => a.id === ref || (short !== undefined && a.n === Number(short)));
    if (!found) {
      throw new OrchestraError('TASK_NOT_FOUND', `${task.id} has no attempt ${attemptRef}`, {
        hint: `its attempts: ${attempts.map((a) => a.id).join(', ') || 'none yet'}`,
      });
    }
    return found;
  }
  const chosen =
    attempts.find((a) => a.commit !== undefined && a.commit === task.resultCommit) ??
    [...attempts].reverse().find((a) => a.commit !== undefined);
  if (!chosen) {
    throw new OrchestraError('TASK_NOT_FOUND', `no attempt of ${task.id} has a result yet (${task.state})`, {
      hint: 'an attempt has a diff once it passed its check gate',
    });
  }
  return chosen;
}

/**
 * The change of one attempt of task `ref` against the commit it started from (never the moving
 * base branch), with every attempt of the task for comparison. Git runs in the host repository
 * only, on commits the attempt's result was imported as: nothing of the attempt's worktree runs.
 *
 * @param options.attempt `a2`, `2` or a full attempt id; default the task's result, else its newest
 *   attempt with a commit
 * @param options.maxBytes cap of the diff text (diffText's default: 100 KB)
 * @throws OrchestraError TASK_NOT_FOUND: no such task or attempt, or no commit yet
 */
export async function taskDiff(
  root: string,
  state: ReadonlyState,
  ref: string,
  options: { attempt?: string; maxBytes?: number } = {},
): Promise<TaskDiff> {
  const task = findTaskRecord(state, ref);
  const attempts = task.attempts
    .map((id) => state.attempts[id])
    .filter((a): a is DeepReadonly<AttemptRecord> => !!a);
  const attempt = chooseAttempt(task, attempts, options.attempt);
  if (!attempt.commit || !attempt.baseCommit) {
    throw new OrchestraError('TASK_NOT_FOUND', `${attempt.id} has no result yet (${attempt.state})`, {
      hint: 'an attempt has a diff once it passed its check gate',
    });
  }
  const [stat, diff] = await Promise.all([
    diffStat(root, attempt.baseCommit, attempt.commit),
    diffText(
      root,
      attempt.baseCommit,
      attempt.commit,
      options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {},
    ),
  ]);
  return {
    taskId: task.id,
    attemptId: attempt.id,
    base: attempt.baseCommit,
    commit: attempt.commit,
    // The counts are what is shown; git's --stat text (one line per file) is cut to a screenful.
    stat: { ...stat, text: stat.text.slice(0, STAT_TEXT_MAX_CHARS) },
    diff,
    candidates: attempts.map((a) => ({
      id: a.id,
      state: a.state,
      ...(a.checkPassed !== undefined ? { checkPassed: a.checkPassed } : {}),
      ...(a.score !== undefined ? { score: a.score } : {}),
      ...(a.diffStat ? { diffStat: a.diffStat } : {}),
      winner: a.commit !== undefined && a.commit === task.resultCommit,
      ...(task.winnerPicked?.attempt === a.id ? { picked: true } : {}),
    })),
  };
}

/**
 * Makes attempt `attemptRef` of task `ref` its result instead of the strategy's pick (a person's
 * choice in the compare view, recorded as such): its branch and commit become the task's result,
 * what `merge` lands.
 *
 * @returns the task, the attempt now its result, and the one it replaced
 * @throws OrchestraError TASK_NOT_FOUND when the task or attempt is not there; USAGE when the task
 *   did not end done, is merged already, or the attempt has no commit that passed its checks
 */
export async function pickWinner(
  store: StateStore,
  ref: string,
  attemptRef: string,
): Promise<{ taskId: string; attemptId: string; was?: string }> {
  return store.update((draft) => {
    const task = findTaskRecord(draft, ref) as TaskRecord;
    // Only this run's attempts (a retry starts numbering after the earlier run's).
    const attempts = task.attempts
      .map((id) => draft.attempts[id])
      .filter((a): a is AttemptRecord => !!a && a.n > (task.attemptOffset ?? 0));
    const attempt = chooseAttempt(task, attempts, attemptRef) as AttemptRecord;
    if (taskOutcome(task) !== 'done') {
      throw new OrchestraError(
        'USAGE',
        `${task.id} did not end done (${task.state}): it has no result to change`,
        {
          hint: 'retry it instead (r on the board, or `orchestra task` commands)',
        },
      );
    }
    if (task.mergePending) {
      throw new OrchestraError(
        'USAGE',
        `${task.id} is being merged (autoMerge): its result cannot change now`,
        {
          hint: 'wait for the merge to end; revert it on the base branch if it was the wrong one',
        },
      );
    }
    if (task.mergedCommit) {
      throw new OrchestraError('USAGE', `${task.id} is merged already: its result cannot change`, {
        hint: 'revert the merge on the base branch first',
      });
    }
    if (!attempt.commit || attempt.checkPassed !== true) {
      throw new OrchestraError('USAGE', `${attempt.id} has no result that passed its checks`, {
        hint: 'pick an attempt whose checks pass',
      });
    }
    const was = attempts.find((a) => a.commit !== undefined && a.commit === task.resultCommit)?.id;
    task.resultBranch = attempt.branch;
    task.resultCommit = attempt.commit;
    task.winnerPicked = { attempt: attempt.id, at: new Date().toISOString(), ...(was ? { was } : {}) };
    delete task.mergeError;
    task.updatedAt = new Date().toISOString();
    return { taskId: task.id, attemptId: attempt.id, ...(was ? { was } : {}) };
  });
}
