import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { errorMessage, isOrchestraError, OrchestraError } from '../common/errors.js';
import { readJsonLines } from '../common/json-lines.js';
import { readNoFollow } from '../common/no-follow.js';
import type { OrchestraPaths } from '../common/paths.js';
import { codeFence } from '../tasks/markdown.js';
import { errnoCode } from '../tasks/move-file.js';
import { formatTaskId, queueFileName, taskIdFromFileName } from '../tasks/naming.js';
import {
  type Proposal,
  type ProposalPlace,
  proposalEventSchema,
  proposalTask,
  renderProposal,
} from '../tasks/proposal.js';
import {
  addTask,
  markdownFiles,
  nextTaskNumber,
  readRejectionReason,
  writeRejectedTask,
} from '../tasks/queue.js';
import { readFrontMatter, type TaskFile } from '../tasks/task-file.js';

/**
 * The planner's proposals on their way into the queue (issue 11, "plan"): read from the planner
 * attempt's events file, rendered to task files, validated by the parser every task goes through,
 * and written once. The server may be killed at any point, so writing is idempotent: a proposal
 * whose file exists anywhere (queue, done/, failed/, rejected/) is found by its front matter
 * (`origin: autonomy`, `cycle`, `proposal`) and never written again.
 */

export type { Proposal, ProposalPlace } from '../tasks/proposal.js';
export { renderProposal } from '../tasks/proposal.js';

/** A proposal with its number within its cycle (1 or more), as the planner gave it. */
export interface IndexedProposal {
  index: number;
  proposal: Proposal;
}

/** What {@link writeProposals} did with each proposal, in index order. */
export interface WriteProposalsResult {
  /** Proposals in the queue or its archives: written now, or found there from an earlier call. */
  written: Array<{ index: number; taskId: string; file: string }>;
  /** Proposals in `rejected/`, each with the reason from its `.error.txt`. */
  rejected: Array<{ index: number; reason: string; file: string }>;
}

/**
 * Most of an events file read for proposals, bytes: a planner's run is a few hundred lines of
 * status and usage; anything near this is garbage from the worker, not proposals.
 */
const MAX_EVENTS_BYTES = 64 * 1024 * 1024;

/**
 * Bytes read from the top of each task file when looking for a proposal's front matter: the
 * front matter orchestra writes is a few lines, so its closing `---` is far inside this.
 */
const FRONT_MATTER_SCAN_BYTES = 8 * 1024;

/** The reason given for a rejected proposal whose `.error.txt` is missing (a crash between the two writes). */
const REASON_UNRECORDED = 'rejected before a restart; its reason was not recorded';

/**
 * The proposals in a planner attempt's events file. The file is the worker's, so it is hostile
 * input: a line that is not JSON, not a `proposal` event or not a valid proposal is skipped, as
 * is an index over `max` or one already taken by an earlier valid line (the first one counts).
 *
 * @param eventsPath the attempt's `events.jsonl`
 * @param max most proposals of the cycle (`maxTasksPerCycle`): indices 1 to `max` count
 * @returns at most `max` proposals, by index; [] when the file is missing, a symlink or not a
 *   regular file
 * @throws only a read error of a regular file (EACCES, EIO)
 */
export async function readProposals(eventsPath: string, max: number): Promise<IndexedProposal[]> {
  let values: unknown[];
  try {
    values = await readJsonLines(eventsPath, MAX_EVENTS_BYTES);
  } catch (error) {
    // A planted link or FIFO holds no proposal orchestra wrote.
    if (errnoCode(error) === 'ELOOP' || errnoCode(error) === 'ENOTREG') return [];
    throw error;
  }
  const byIndex = new Map<number, Proposal>();
  for (const value of values) {
    const event = proposalEventSchema.safeParse(value);
    if (!event.success || event.data.index > max || byIndex.has(event.data.index)) continue;
    byIndex.set(event.data.index, event.data.proposal);
  }
  return [...byIndex].sort(([a], [b]) => a - b).map(([index, proposal]) => ({ index, proposal }));
}

/** Options of {@link writeProposals}. */
export interface WriteProposalsOptions {
  paths: OrchestraPaths;
  /** The cycle the proposals belong to, 1 or more. */
  cycle: number;
  proposals: readonly IndexedProposal[];
  /**
   * Runs on each parsed task with its new id before its file is written, as `orchestra task add`'s
   * admission does; a TASK_INVALID or PATH_ESCAPE it throws rejects the proposal.
   */
  check?: (task: TaskFile) => void | Promise<void>;
  /** The time written in rejection notes. */
  now?: Date;
  /**
   * Most proposals queued (those found from an earlier call count); a valid one past it is
   * rejected with `reason` (a daily task cap).
   */
  limit?: { tasks: number; reason: string };
}

/**
 * Writes a cycle's proposals. Each is rendered ({@link renderProposal}) and queued with the next
 * free task number through `addTask`, which parses and checks it as every task file is (the
 * format, Files to touch inside the repository, then `check`). One that does not validate goes to
 * `rejected/` as `task-NN.md` with `task-NN.md.error.txt` giving the reason. Both kinds of file
 * appear whole (temporary file, then a hard link) and never replace or write through what is
 * there.
 *
 * Idempotent: a proposal whose (cycle, index) a file in `tasks/`, `done/`, `failed/` or
 * `rejected/` already carries is not written again but reported as that file says, so a server
 * killed between writing the files and recording them writes none of them twice. Indices given
 * twice count once (the first).
 *
 * @throws the fs error when a folder cannot be read or a file cannot be written; what was written
 *   before stays, and a second call goes on from there
 */
export async function writeProposals(options: WriteProposalsOptions): Promise<WriteProposalsResult> {
  const { paths, cycle } = options;
  const existing = await proposalFiles(paths, cycle);
  const result: WriteProposalsResult = { written: [], rejected: [] };
  const done = new Set<number>();
  for (const { index, proposal } of [...options.proposals].sort((a, b) => a.index - b.index)) {
    if (done.has(index)) continue;
    done.add(index);
    const found = existing.get(index);
    if (found?.state === 'rejected') {
      result.rejected.push({
        index,
        reason: (await readRejectionReason(found.file)) ?? REASON_UNRECORDED,
        file: found.file,
      });
      continue;
    }
    if (found !== undefined) {
      result.written.push({ index, taskId: found.taskId, file: found.file });
      continue;
    }
    const place = { cycle, index };
    try {
      const { check, limit } = options;
      const added = await addTask(
        paths,
        { render: (id) => renderProposal(proposal, place, id) },
        {
          check: async (task) => {
            await check?.(task);
            if (limit !== undefined && result.written.length >= limit.tasks)
              throw new OrchestraError('TASK_INVALID', `${limit.reason} (${limit.tasks})`, {
                hint: 'it may be proposed again on another day',
              });
          },
        },
      );
      result.written.push({ index, taskId: added.id, file: added.path });
    } catch (error) {
      if (!isOrchestraError(error, 'TASK_INVALID') && !isOrchestraError(error, 'PATH_ESCAPE')) throw error;
      const reason = errorMessage(error);
      const id = formatTaskId(await nextTaskNumber(paths));
      const rejection = await writeRejectedTask(
        paths,
        queueFileName(id),
        rejectedText(proposal, place, id),
        reason,
        options.now,
      );
      result.rejected.push({ index, reason, file: rejection.file });
    }
  }
  return result;
}

/** A file of an autonomy cycle: a proposal's task or rejection, or the cycle's plan task. */
export interface CycleFile {
  state: 'queued' | 'archived' | 'rejected';
  taskId: string;
  file: string;
  /** The proposal's number within the cycle; undefined for the plan task. */
  proposal?: number;
  /** `plan` for the cycle's planning task. */
  kind?: string;
}

/**
 * The files that carry `cycle` in their front matter (`origin: autonomy`), in the queue and its
 * archives, in that order (queue, then done/, failed/, rejected/). The files are read without
 * following links, and only their first {@link FRONT_MATTER_SCAN_BYTES}.
 *
 * @throws the fs error when a folder cannot be listed
 */
export async function cycleFiles(paths: OrchestraPaths, cycle: number): Promise<CycleFile[]> {
  const found: CycleFile[] = [];
  const dirs: Array<[string, CycleFile['state']]> = [
    [paths.tasks, 'queued'],
    [paths.done, 'archived'],
    [paths.failed, 'archived'],
    [paths.rejected, 'rejected'],
  ];
  for (const [dir, state] of dirs) {
    for (const name of await markdownFiles(dir)) {
      const file = join(dir, name);
      const head = await readNoFollow(file, FRONT_MATTER_SCAN_BYTES).catch(() => undefined);
      if (head === undefined) continue;
      const data = readFrontMatter(head.toString('utf8'));
      if (data?.origin !== 'autonomy' || data.cycle !== cycle) continue;
      const index = data.proposal;
      found.push({
        state,
        taskId: taskIdFromFileName(name) ?? name.replace(/\.md$/, ''),
        file,
        ...(typeof index === 'number' && Number.isSafeInteger(index) ? { proposal: index } : {}),
        ...(typeof data.kind === 'string' ? { kind: data.kind } : {}),
      });
    }
  }
  return found;
}

/** The files of `cycle`'s proposals by proposal index; the first found counts. */
async function proposalFiles(paths: OrchestraPaths, cycle: number): Promise<Map<number, CycleFile>> {
  const found = new Map<number, CycleFile>();
  for (const file of await cycleFiles(paths, cycle)) {
    if (file.proposal !== undefined && !found.has(file.proposal)) found.set(file.proposal, file);
  }
  return found;
}

/**
 * The file kept in `rejected/` for a proposal that does not validate: the rendered task when it
 * renders (it failed a later check), else the proposal as JSON under the autonomy front matter,
 * so a person can read what was proposed and a later call still knows it was handled.
 */
function rejectedText(proposal: Proposal, place: ProposalPlace, id: string): string {
  try {
    return renderProposal(proposal, place, id);
  } catch {
    // Refused by the renderer itself: the JSON shows it as it came, and cannot become a task.
    const { origin, cycle, proposal: index } = proposalTask(proposal, place);
    const json = JSON.stringify(proposal, null, 2);
    const fence = codeFence(json);
    return [
      '---',
      stringifyYaml({ origin, cycle, proposal: index }).trimEnd(),
      '---',
      `# ${id}: proposal ${place.index} of cycle ${place.cycle}, as the planner gave it`,
      '',
      `${fence}json`,
      json,
      fence,
      '',
    ].join('\n');
  }
}
