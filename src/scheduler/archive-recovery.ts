import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrchestraPaths } from '../common/paths.js';
import { taskIdFromFileName } from '../tasks/naming.js';

/**
 * Archiving a task takes several writes: the archived file (done/ or failed/), the removal of the
 * queued one, an `archived` line in each attempt's events.jsonl, and the task's record in the
 * store, last. A server killed between them leaves a task the store still calls running (or
 * queued) although its archive exists. These helpers let a restarted server find such an archive
 * and finish the job from it, rather than run the task again or leave it running for ever.
 */

/** An archived task file. */
export interface ArchivedFile {
  outcome: 'done' | 'failed';
  /** File name inside done/ or failed/. */
  name: string;
  path: string;
  mtimeMs: number;
}

/**
 * The newest archive of task `id` written at or after `sinceMs` (ms since the epoch): the one the
 * server wrote for the task's current run. Archives from a run before a retry are older than the
 * retry, which updates the task's record.
 */
export async function findArchiveSince(
  paths: OrchestraPaths,
  id: string,
  sinceMs: number,
): Promise<ArchivedFile | undefined> {
  let newest: ArchivedFile | undefined;
  for (const outcome of ['done', 'failed'] as const) {
    const dir = paths[outcome];
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.md') || taskIdFromFileName(name) !== id) continue;
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile() || info.mtimeMs < sinceMs) continue;
      if (!newest || info.mtimeMs > newest.mtimeMs) newest = { outcome, name, path, mtimeMs: info.mtimeMs };
    }
  }
  return newest;
}

/** What the list under the last `## Result` heading of an archived file says (src/tasks/task-result.ts). */
export interface ArchivedResult {
  branch?: string;
  commit?: string;
  /** USD, as rounded in the file; undefined when it says `unknown`. */
  costUsd?: number;
  reason?: string;
}

/** Reads the `## Result` list of an archived task file's text. */
export function archivedResult(text: string): ArchivedResult {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let start = -1;
  lines.forEach((line, i) => {
    if (/^## Result[ \t]*$/.test(line)) start = i;
  });
  const result: ArchivedResult = {};
  if (start === -1) return result;
  // Only the list right under the heading: the check output below may contain anything.
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('- ')) break;
    const match = /^- (\w+): (.*)$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const value = raw.trim();
    const code = /^`([^`]+)`$/.exec(value)?.[1];
    if (key === 'branch' && code) result.branch = code;
    else if (key === 'commit' && code) result.commit = code;
    else if (key === 'reason') result.reason = value;
    else if (key === 'cost') {
      const usd = /^\$(\d+(?:\.\d+)?) USD$/.exec(value)?.[1];
      if (usd !== undefined) result.costUsd = Number(usd);
    }
  }
  return result;
}

/** The text of an archived file, or '' when it cannot be read. */
export async function readArchive(file: ArchivedFile): Promise<string> {
  return readFile(file.path, 'utf8').catch(() => '');
}
