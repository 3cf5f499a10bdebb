import { printable } from '../common/printable.js';
import type { ReadonlyState } from '../store/schema.js';
import { compareTaskIds } from '../tasks/naming.js';

/**
 * The self-improve cycle's input (issue 11, item 6): the session's own record, from the store —
 * each archived task with its outcome, time, cost and attempts; for a failed one its reason, each
 * attempt's error and the last lines of its check output. Everything here was written by agents
 * or their commands, so each entry is flattened to plain, indented lines: nothing in it can become
 * a heading or a code fence of the plan task it goes into.
 */

/** Most tasks described, newest first. */
const MAX_TASKS = 20;
/** Lines of an attempt's check output kept, from its end. */
const CHECK_TAIL_LINES = 6;
/** Longest line kept, characters. */
const LINE_CHARS = 200;

/**
 * The record as list lines, newest task first, e.g.
 * `- task-04 failed in 12 s, $0.0310, 1 attempt(s): setup command "npm test" failed`.
 *
 * @param state the store's state
 * @returns '' when no task has been archived
 */
export function selfImproveBrief(state: ReadonlyState): string {
  const tasks = Object.values(state.tasks)
    .filter((t) => t.state === 'archived' && t.kind !== 'plan')
    .sort((a, b) => compareTaskIds(b.id, a.id))
    .slice(0, MAX_TASKS);
  const out: string[] = [];
  const failed = tasks.filter((t) => t.outcome === 'failed').length;
  out.push(`${tasks.length} recent task(s), ${failed} failed.`, '');
  for (const task of tasks) {
    const started = task.startedAt ? Date.parse(task.startedAt) : undefined;
    const seconds =
      started === undefined ? undefined : Math.round((Date.parse(task.updatedAt) - started) / 1000);
    const parts = [
      `${task.outcome ?? 'archived'}`,
      ...(seconds !== undefined ? [`in ${seconds} s`] : []),
      ...(task.costUsd !== undefined ? [`$${task.costUsd.toFixed(4)}`] : []),
      `${task.attempts.length} attempt(s)`,
    ];
    const reason = task.outcome === 'failed' && task.error ? `: ${flat(task.error)}` : '';
    out.push(`- ${task.id} ${parts.join(', ')}${reason} (${flat(task.title ?? '')})`);
    if (task.outcome !== 'failed') continue;
    for (const id of task.attempts) {
      const attempt = state.attempts[id];
      if (!attempt) continue;
      if (attempt.error) out.push(`    ${id}: ${flat(attempt.error)}`);
      const tail = (attempt.checkOutput ?? '').trimEnd().split('\n').slice(-CHECK_TAIL_LINES).map(flat);
      for (const line of tail.filter(Boolean)) out.push(`    | ${line}`);
    }
  }
  return out.join('\n');
}

function flat(text: string): string {
  return printable(text).replace(/\s+/g, ' ').replace(/`/g, "'").trim().slice(0, LINE_CHARS);
}
