import { OrchestraError } from '../common/errors.js';

/**
 * Names of task files (DESIGN.md, "On disk"). Pure: no file system.
 *
 * - queue file:    `task-NN.md` (the id is `task-NN`, NN at least two digits when orchestra picks it)
 * - archive file:  `task-NN-YYYY-MM-DD-HH-mm.md` in `done/` and `failed/`, UTC
 * - collision:     `-2`, `-3`, ... before `.md` when the name is taken (`task-NN-...-2.md`, `task-NN-2.md`)
 */

/** Numeric collation, so `task-2` sorts before `task-10` (DESIGN.md: the queue runs in natural order). */
const NATURAL = new Intl.Collator(undefined, { numeric: true });

const QUEUE_NAME = /^(task-(\d+))\.md$/;
/** An archive name, or a queue name that got a `-K` collision suffix (in `rejected/`). */
const ARCHIVED_NAME = /^(task-(\d+))(?:-\d{4}-\d{2}-\d{2}-\d{2}-\d{2})?(?:-\d+)?\.md$/;
const TASK_ID = /^task-(\d+)$/;

/**
 * Orders task ids (or file names) naturally: `task-2` < `task-10`. Ids that collate equal
 * (`task-3`, `task-03`) fall back to code-unit order so the sort is total and repeatable.
 */
export function compareTaskIds(a: string, b: string): number {
  const byNumber = NATURAL.compare(a, b);
  if (byNumber !== 0) return byNumber;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The number of a task id: `task-03` → 3; undefined when `id` is not `task-<digits>`. */
export function taskNumber(id: string): number | undefined {
  const match = TASK_ID.exec(id);
  return match ? Number(match[1]) : undefined;
}

/**
 * The id orchestra gives task number `n`: at least two digits (`task-03`, `task-123`), so a
 * plain `ls` of a queue under 100 tasks is already in order.
 *
 * @throws OrchestraError INTERNAL when `n` is not a positive safe integer
 */
export function formatTaskId(n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new OrchestraError('INTERNAL', `task number must be a positive integer, got ${n}`);
  }
  return `task-${String(n).padStart(2, '0')}`;
}

/** The queue file name of a task id: `task-03` → `task-03.md`. */
export function queueFileName(id: string): string {
  return `${id}.md`;
}

/**
 * The archive file name of a task finished at `date`, in UTC so every machine and time zone
 * names the same moment the same way: `task-03-2025-01-31-09-05.md`.
 */
export function archiveFileName(id: string, date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const stamp = [
    String(date.getUTCFullYear()).padStart(4, '0'),
    two(date.getUTCMonth() + 1),
    two(date.getUTCDate()),
    two(date.getUTCHours()),
    two(date.getUTCMinutes()),
  ].join('-');
  return `${id}-${stamp}.md`;
}

/**
 * The task id a file name belongs to: queue names (`task-03.md`), archive names
 * (`task-03-2025-01-31-09-05.md`) and either with a collision suffix (`-2`). Undefined for any
 * other name, including `.error.txt` companions.
 */
export function taskIdFromFileName(name: string): string | undefined {
  return ARCHIVED_NAME.exec(name)?.[1];
}

/** The task id of a queue file name (`task-03.md` only, no suffixes); undefined otherwise. */
export function taskIdFromQueueFileName(name: string): string | undefined {
  return QUEUE_NAME.exec(name)?.[1];
}

/**
 * The number a user means by `ref`: `3`, `03`, `task-3`, `task-03` (and `task-03.md`) → 3.
 * Undefined when `ref` names no task number.
 */
export function taskNumberFromRef(ref: string): number | undefined {
  const match = /^(?:task-)?(\d+)(?:\.md)?$/.exec(ref.trim());
  if (!match) return undefined;
  const n = Number(match[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/**
 * The `k`-th candidate for a file name when earlier ones are taken: k = 1 is `name` itself,
 * k ≥ 2 inserts `-k` before the extension (`task-03.md` → `task-03-2.md`).
 */
export function suffixedFileName(name: string, k: number): string {
  if (k <= 1) return name;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-${k}${name.slice(dot)}` : `${name}-${k}`;
}
