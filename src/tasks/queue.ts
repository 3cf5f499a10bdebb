import { constants, type Dirent } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, isAbsolute, join, relative } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import { errorMessage, isOrchestraError, OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import { errnoCode, moveToFreeName, writeNewFile, writeToFreeName } from './move-file.js';
import {
  archiveFileName,
  compareTaskIds,
  formatTaskId,
  queueFileName,
  taskIdFromFileName,
  taskIdFromQueueFileName,
  taskNumber,
  taskNumberFromRef,
} from './naming.js';
import {
  checkTaskFileSize,
  decodeTaskFile,
  MAX_TASK_FILE_BYTES,
  type NewTask,
  parseTaskFile,
  renderTaskFile,
  type TaskFile,
} from './task-file.js';
import { validateTaskPaths } from './task-paths.js';
import { renderTaskResult, resultReason, type TaskResult } from './task-result.js';

/**
 * The queue on disk (DESIGN.md, "On disk"): `tasks/task-NN.md` waiting, `done/` and `failed/`
 * archives, `rejected/` for files that could not be used, each beside a `<name>.error.txt`.
 * Nothing here overwrites or deletes a task file, except `removeTask`, which a user asks for.
 */

/** A task file that was taken out of the queue because it could not be used. */
export interface Rejection {
  /** Where the file was (absolute). */
  file: string;
  /** One line: why. */
  reason: string;
  /** Where it is now, in `rejected/`; undefined when it could not be moved (see `reason`). */
  movedTo?: string;
  /** The `<name>.error.txt` beside it. */
  errorFile?: string;
  at: Date;
}

export type TaskState = 'queued' | 'done' | 'failed' | 'rejected';

/** One task file as `orchestra task ls` shows it. */
export interface TaskEntry {
  id: string;
  state: TaskState;
  /** The file (absolute). */
  file: string;
  title?: string;
  strategy?: string;
  /** Why it is rejected or failed, or why a queued file will be rejected. */
  error?: string;
}

/** Attempts at a free task number before giving up; only a runaway loop gets near it. */
const MAX_NUMBER_ATTEMPTS = 1000;

const TASK_NOT_FOUND_HINT = '`orchestra task ls` lists queued tasks, `orchestra task ls --all` every task';

/** The TASK_NOT_FOUND error for a task reference (`3`, `task-03`) that names no task. */
export function taskNotFound(ref: string, detail?: string): OrchestraError {
  return new OrchestraError('TASK_NOT_FOUND', detail ?? `no task "${ref}"`, { hint: TASK_NOT_FOUND_HINT });
}

/**
 * Names of the task files in `dir` (`*.md`, no dotfiles such as editor locks or temporary files),
 * in natural order; [] when `dir` is missing.
 */
export async function markdownFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith('.md') && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(compareTaskIds);
}

/**
 * Reads a task file's bytes without following a symlink (it could point outside the repository)
 * or blocking on a FIFO, and without reading more than the size limit allows.
 */
async function readTaskBytes(file: string, id: string): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') {
      throw new OrchestraError(
        'TASK_INVALID',
        `${id}: file is a symbolic link; task files must be regular files`,
      );
    }
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new OrchestraError('TASK_INVALID', `${id}: not a regular file`);
    }
    // One byte over the limit is enough to refuse the file, whatever stat said: it may be growing.
    const buffer = Buffer.alloc(MAX_TASK_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    checkTaskFileSize(Math.max(stat.size, length), id);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Reads, parses and checks one queued task file: its name must be `task-NN.md`, its content a
 * valid task, its Files to touch inside the repository.
 *
 * @param file absolute path of a file in `tasks/`
 * @throws OrchestraError TASK_INVALID or PATH_ESCAPE with the reason (the queue rejects the file);
 *   the fs error otherwise (ENOENT when it vanished)
 */
export async function loadQueuedTask(paths: OrchestraPaths, file: string): Promise<TaskFile> {
  const name = basename(file);
  const id = taskIdFromQueueFileName(name);
  if (id === undefined) {
    throw new OrchestraError('TASK_INVALID', `file name "${name}" is not task-NN.md`, {
      hint: 'add tasks with `orchestra task add`, which picks the next number',
    });
  }
  const text = decodeTaskFile(await readTaskBytes(file, id), id);
  const task = parseTaskFile(text, { id });
  validateTaskPaths(task, paths.root);
  return task;
}

/** True for the errors that make a queued file unusable (as opposed to a failing disk). */
function isRejectable(error: unknown): boolean {
  return isOrchestraError(error, 'TASK_INVALID') || isOrchestraError(error, 'PATH_ESCAPE');
}

/** The reason a file cannot be queued, one line. */
function rejectionReason(error: unknown): string {
  if (isRejectable(error)) return errorMessage(error);
  return `cannot be read: ${errorMessage(error)}`;
}

function errorFileText(paths: OrchestraPaths, name: string, reason: string, at: Date): string {
  return [
    `orchestra rejected ${name} at ${at.toISOString()}`,
    `reason: ${reason.replace(/\s+/g, ' ').trim()}`,
    `hint: fix the file and move it back to ${relative(paths.root, paths.tasks) || paths.tasks}/ to queue it again`,
    '',
  ].join('\n');
}

/**
 * Moves a task file out of the queue into `rejected/` (keeping its name, `-2` etc. when taken)
 * and writes `<name>.error.txt` beside it with the reason and the time.
 *
 * @param file the file (absolute, or a name in `tasks/`)
 * @param reason one line
 * @throws the fs error; ENOENT when the file is gone (someone else moved or removed it)
 */
export async function rejectTaskFile(
  paths: OrchestraPaths,
  file: string,
  reason: string,
  now: Date = new Date(),
): Promise<Rejection> {
  const src = isAbsolute(file) ? file : join(paths.tasks, file);
  const movedTo = await moveToFreeName(src, paths.rejected, basename(src));
  return {
    file: src,
    reason,
    movedTo,
    errorFile: await writeRejectionNote(paths, movedTo, reason, now),
    at: now,
  };
}

/**
 * Writes a task file that never reached the queue (an autonomy proposal that does not validate)
 * straight into `rejected/` as `name` (`-2` etc. when taken), with `<name>.error.txt` beside it as
 * {@link rejectTaskFile} writes it. The file appears whole and never replaces another.
 *
 * @param name the file name to use, e.g. `task-07.md`
 * @param reason one line
 * @returns the rejection; `file` and `movedTo` are both the file written
 * @throws the fs error
 */
export async function writeRejectedTask(
  paths: OrchestraPaths,
  name: string,
  text: string,
  reason: string,
  now: Date = new Date(),
): Promise<Rejection> {
  const written = await writeToFreeName(paths.rejected, name, text);
  return {
    file: written,
    reason,
    movedTo: written,
    errorFile: await writeRejectionNote(paths, written, reason, now),
    at: now,
  };
}

/** `<file>.error.txt` beside a rejected file, with the reason and the time; returns its path. */
async function writeRejectionNote(
  paths: OrchestraPaths,
  file: string,
  reason: string,
  now: Date,
): Promise<string> {
  const errorFile = `${file}.error.txt`;
  await writeFileAtomic(errorFile, errorFileText(paths, basename(file), reason, now));
  return errorFile;
}

/**
 * The reason in the `<file>.error.txt` beside a rejected file.
 *
 * @returns undefined when the note is missing or names no reason
 */
export async function readRejectionReason(file: string): Promise<string | undefined> {
  try {
    const note = await readFile(`${file}.error.txt`, 'utf8');
    return /^reason: (.*)$/m.exec(note)?.[1];
  } catch {
    // A rejected file whose note was deleted (or never written) has no reason to show.
    return undefined;
  }
}

/**
 * Loads one queued file, or rejects it. Used by `readQueue` and the watcher.
 *
 * @returns the task, a rejection, or undefined when the file vanished meanwhile
 */
export async function loadOrReject(
  paths: OrchestraPaths,
  file: string,
): Promise<{ task: TaskFile } | { rejection: Rejection } | undefined> {
  let reason: string;
  try {
    return { task: await loadQueuedTask(paths, file) };
  } catch (error) {
    // Gone between listing and reading: nothing to queue and nothing to reject.
    if (errnoCode(error) === 'ENOENT') return undefined;
    reason = rejectionReason(error);
  }
  const now = new Date();
  try {
    return { rejection: await rejectTaskFile(paths, file, reason, now) };
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    return {
      rejection: {
        file,
        reason: `${reason} (and it could not be moved to rejected/: ${errorMessage(error)})`,
        at: now,
      },
    };
  }
}

/**
 * Reads the queue: every `tasks/*.md` in natural order. A file that cannot be used is moved to
 * `rejected/` with the reason beside it; the rest are returned.
 *
 * @throws the fs error when `tasks/` itself cannot be listed (a missing folder is an empty queue)
 */
export async function readQueue(
  paths: OrchestraPaths,
): Promise<{ tasks: TaskFile[]; rejected: Rejection[] }> {
  const tasks: TaskFile[] = [];
  const rejected: Rejection[] = [];
  for (const name of await markdownFiles(paths.tasks)) {
    const outcome = await loadOrReject(paths, join(paths.tasks, name));
    if (outcome === undefined) continue;
    if ('task' in outcome) tasks.push(outcome.task);
    else rejected.push(outcome.rejection);
  }
  return { tasks, rejected };
}

/**
 * The number the next task gets: 1 + the highest number in `tasks/`, `done/`, `failed/` and
 * `rejected/` (archive names included), so a number is never given twice.
 */
export async function nextTaskNumber(paths: OrchestraPaths): Promise<number> {
  let highest = 0;
  for (const dir of [paths.tasks, paths.done, paths.failed, paths.rejected]) {
    for (const name of await markdownFiles(dir)) {
      const id = taskIdFromFileName(name);
      const n = id === undefined ? undefined : taskNumber(id);
      if (n !== undefined && n > highest) highest = n;
    }
  }
  return highest + 1;
}

/**
 * Adds a task to the queue as `tasks/task-NN.md` with the next free number. The file appears
 * complete (written under a temporary name, then linked into place), and two concurrent adds, in
 * one process or several, get different numbers: a taken name (EEXIST) moves on to the next one.
 *
 * @param input a task to render, the text of a task file (e.g. from stdin), kept byte for byte, or
 *   a renderer given the id the task is about to get (what it throws is thrown, nothing written)
 * @param options.check runs on the parsed task, with its new id, before its file is written; what
 *   it throws is thrown, and nothing is written
 * @returns the new id and file path
 * @throws OrchestraError TASK_INVALID or PATH_ESCAPE before anything is written
 */
export async function addTask(
  paths: OrchestraPaths,
  input: NewTask | { text: string } | { render: (id: string) => string },
  options: { check?: (task: TaskFile) => void | Promise<void> } = {},
): Promise<{ id: string; path: string }> {
  let n = await nextTaskNumber(paths);
  await mkdir(paths.tasks, { recursive: true });
  for (let i = 0; i < MAX_NUMBER_ATTEMPTS; i++, n++) {
    const id = formatTaskId(n);
    const text =
      'text' in input ? input.text : 'render' in input ? input.render(id) : renderTaskFile(input, id);
    const task = parseTaskFile(text, { id });
    validateTaskPaths(task, paths.root);
    await options.check?.(task);
    const path = join(paths.tasks, queueFileName(id));
    try {
      await writeNewFile(path, text);
      return { id, path };
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new OrchestraError('INTERNAL', `no free task number after ${MAX_NUMBER_ATTEMPTS} tries`);
}

const STATE_DIRS: ReadonlyArray<[Exclude<TaskState, 'queued'>, keyof OrchestraPaths]> = [
  ['done', 'done'],
  ['failed', 'failed'],
  ['rejected', 'rejected'],
];

/** Every task file with its state, unparsed: queued first, then done, failed, rejected. */
async function taskFiles(paths: OrchestraPaths, all: boolean): Promise<TaskEntry[]> {
  const entries: TaskEntry[] = [];
  for (const name of await markdownFiles(paths.tasks)) {
    entries.push({ id: name.slice(0, -3), state: 'queued', file: join(paths.tasks, name) });
  }
  if (!all) return entries;
  for (const [state, key] of STATE_DIRS) {
    const dir = paths[key];
    for (const name of await markdownFiles(dir)) {
      entries.push({ id: taskIdFromFileName(name) ?? name.slice(0, -3), state, file: join(dir, name) });
    }
  }
  return entries;
}

/** Fills in title, strategy and error of an entry by reading its file; never throws. */
async function describeEntry(paths: OrchestraPaths, entry: TaskEntry): Promise<TaskEntry> {
  const out = { ...entry };
  if (entry.state === 'queued') {
    try {
      const task = await loadQueuedTask(paths, entry.file);
      out.title = task.title;
      out.strategy = task.meta.strategy;
    } catch (error) {
      out.error = rejectionReason(error);
    }
    return out;
  }
  try {
    const text = decodeTaskFile(await readTaskBytes(entry.file, entry.id), entry.id);
    if (entry.state === 'failed') {
      const reason = resultReason(text);
      if (reason !== undefined) out.error = reason;
    }
    const id = taskNumber(entry.id) === undefined ? 'task-0' : entry.id;
    const task = parseTaskFile(text, { id });
    out.title = task.title;
    out.strategy = task.meta.strategy;
  } catch {
    // An archived file that no longer parses is still listed; it just has no title to show.
  }
  if (entry.state === 'rejected') {
    const reason = await readRejectionReason(entry.file);
    if (reason !== undefined) out.error = reason;
  }
  return out;
}

/**
 * Lists task files: queued ones (in run order), and with `all` also done, failed and rejected
 * ones, each state in natural order (archives of one task oldest first).
 */
export async function listTasks(paths: OrchestraPaths, opts: { all?: boolean } = {}): Promise<TaskEntry[]> {
  const entries = await taskFiles(paths, opts.all ?? false);
  return Promise.all(entries.map((entry) => describeEntry(paths, entry)));
}

/**
 * Finds a task by reference (`3`, `03`, `task-3`, `task-03`): the queued file first, else the
 * newest archive (done, failed, then rejected).
 *
 * @returns the entry, or undefined when no file has that number
 */
export async function findTask(paths: OrchestraPaths, ref: string): Promise<TaskEntry | undefined> {
  const n = taskNumberFromRef(ref);
  if (n === undefined) return undefined;
  const exact = ref.trim().replace(/\.md$/, '');
  const matches = (await taskFiles(paths, true)).filter((e) => taskNumber(e.id) === n);
  const queued = matches.filter((e) => e.state === 'queued');
  const pick =
    queued.find((e) => e.id === exact) ??
    queued[0] ??
    (await newest(matches.filter((e) => e.state === 'done' || e.state === 'failed'))) ??
    (await newest(matches.filter((e) => e.state === 'rejected')));
  return pick === undefined ? undefined : describeEntry(paths, pick);
}

/**
 * The entry archived last: by the UTC stamp in its name, then its `-K` collision suffix, then its
 * modification time (names have minute resolution, so done/ and failed/ can tie).
 */
async function newest(entries: TaskEntry[]): Promise<TaskEntry | undefined> {
  const keyed = await Promise.all(
    entries.map(async (entry) => {
      const rest = basename(entry.file).replace(/^task-\d+/, '');
      const match = /(?:-(\d{4}-\d\d-\d\d-\d\d-\d\d))?(?:-(\d+))?\.md$/.exec(rest);
      const mtime = await lstat(entry.file).then(
        (s) => s.mtimeMs,
        () => 0,
      );
      return { entry, stamp: match?.[1] ?? '', suffix: Number(match?.[2] ?? 1), mtime };
    }),
  );
  let best: (typeof keyed)[number] | undefined;
  for (const k of keyed) {
    const later =
      best === undefined ||
      (k.stamp !== best.stamp
        ? k.stamp > best.stamp
        : k.suffix !== best.suffix
          ? k.suffix > best.suffix
          : k.mtime > best.mtime);
    if (later) best = k;
  }
  return best?.entry;
}

/**
 * Removes a queued task's file (it is not archived: the user asked for it to go).
 *
 * @returns the removed entry
 * @throws OrchestraError TASK_NOT_FOUND when no queued task has that reference
 */
export async function removeTask(paths: OrchestraPaths, ref: string): Promise<TaskEntry> {
  const entry = await findTask(paths, ref);
  if (entry === undefined) throw taskNotFound(ref);
  if (entry.state !== 'queued') {
    throw taskNotFound(ref, `${entry.id} is not queued (it is ${entry.state})`);
  }
  try {
    await unlink(entry.file);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw taskNotFound(ref);
    throw error;
  }
  return entry;
}

/**
 * Archives a queued task: moves `tasks/<id>.md` to `done/` or `failed/` as
 * `<id>-YYYY-MM-DD-HH-mm.md` (UTC; `-2`, `-3` when taken), then appends the `## Result` section.
 * The move never overwrites and never leaves the task nowhere.
 *
 * @param id the task id (`task-03`)
 * @param now the finishing time, for the name and the section
 * @param options.text the task's text to archive when its queued file is gone (a person removed it
 *   while the task ran)
 * @returns the archived file's path
 * @throws OrchestraError TASK_NOT_FOUND when `tasks/<id>.md` does not exist and no `text` is given
 */
export async function archiveTask(
  paths: OrchestraPaths,
  id: string,
  outcome: 'done' | 'failed',
  result: TaskResult,
  now: Date = new Date(),
  options: { text?: string } = {},
): Promise<{ path: string }> {
  const src = join(paths.tasks, queueFileName(id));
  let text: string;
  let queued = true;
  try {
    text = await readFile(src, 'utf8');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    // Removed from the queue while it ran: the text it ran with is archived instead.
    if (options.text === undefined) throw taskNotFound(id, `${id} is not in the queue`);
    text = options.text;
    queued = false;
  }
  // The archive appears whole, Result included (a watcher or a person never reads it half-made);
  // only then does the queued file go. A crash in between leaves both, never neither.
  const separator = text === '' ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  const path = await writeToFreeName(
    outcome === 'done' ? paths.done : paths.failed,
    archiveFileName(id, now),
    `${text}${separator}${renderTaskResult(outcome, result, now)}`,
  );
  if (queued)
    await unlink(src).catch((error: unknown) => {
      if (errnoCode(error) !== 'ENOENT') throw error;
    });
  return { path };
}
