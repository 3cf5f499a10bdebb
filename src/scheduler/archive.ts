import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrchestraPaths } from '../common/paths.js';
import type { OrchestraConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { type TaskInput, upsertTask } from '../store/records.js';
import type { StateStore } from '../store/store.js';
import type { AttemptOutcome, StrategyResult } from '../strategies/types.js';
import { queueFileName, taskIdFromFileName } from '../tasks/naming.js';
import { archiveTask } from '../tasks/queue.js';
import type { TaskFile } from '../tasks/task-file.js';
import { type CandidateResult, resultList, type TaskResult } from '../tasks/task-result.js';
import { appendTransition, lastTransition } from './event-log.js';

/**
 * Archiving a task, the one place its end is written (issue 6, "Scheduler"). It takes several
 * writes: the archived file (done/ or failed/) with its Result section, the removal of the queued
 * one, an `archived` line in each attempt's events.jsonl, and the task's record in the store, last.
 * A server killed between them leaves a task the store still calls running (or queued) although
 * its archive exists; a restarted server finds such an archive and finishes the job from it
 * ({@link TaskArchive.recover}), rather than run the task again or leave it running for ever.
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

/** What the server's `## Result` list of an archived file says (resultList, src/tasks/task-result.ts). */
export interface ArchivedResult {
  branch?: string;
  commit?: string;
  /** USD, as rounded in the file; undefined when it says `unknown`. */
  costUsd?: number;
  reason?: string;
}

/** Reads the server's `## Result` list ({@link resultList}) of an archived task file's text. */
export function archivedResult(text: string): ArchivedResult {
  const result: ArchivedResult = {};
  for (const line of resultList(text)) {
    const match = /^- (\w+): (.*)$/.exec(line);
    if (!match) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const value = raw.trim();
    const code = /^`([^`]+)`$/.exec(value)?.[1];
    if (key === 'branch' && code) result.branch = code;
    else if (key === 'commit' && code) result.commit = code;
    else if (key === 'reason') result.reason = value;
    else if (key === 'cost') {
      // `$1.23 USD`, and with judge or reviewer spend `$1.23 USD (agents $1.00 USD, judge and reviewer $0.23 USD)`
      // (task-result.ts): the total comes first either way.
      const usd = /^\$(\d+(?:\.\d+)?) USD(?: \(.*\))?$/.exec(value)?.[1];
      if (usd !== undefined) result.costUsd = Number(usd);
    }
  }
  return result;
}

/** The text of an archived file, or '' when it cannot be read. */
export async function readArchive(file: ArchivedFile): Promise<string> {
  return readFile(file.path, 'utf8').catch(() => '');
}

/** What archiving asks of the scheduler. */
export interface ArchiveHost {
  readonly paths: OrchestraPaths;
  /** `autoMerge`: a done task's record is marked for merging. */
  readonly config: OrchestraConfig;
  readonly store: StateStore;
  readonly logger: Logger;
  /**
   * Runs `step` until it succeeds (a full disk, a lock held too long), saying so.
   * @returns true once it succeeded; false when the server stopped first
   */
  untilDone(what: string, step: () => Promise<unknown>): Promise<boolean>;
  /** A status-bar message for the person. */
  say(message: string): void;
}

/** A task archived and recorded: how it ended, and the attempt kept (one with a commit). */
export interface Archived {
  outcome: 'done' | 'failed';
  kept: AttemptOutcome | undefined;
}

/** Archives tasks, and finishes the archives a killed server left half done. */
export class TaskArchive {
  constructor(private readonly host: ArchiveHost) {}

  /**
   * Moves the task file to done/ or failed/ with its Result section, and records the outcome: the
   * one place a task's end is decided and written. A write that fails (a full disk) is tried again
   * until it works while the server runs ({@link ArchiveHost.untilDone}); the task stays running
   * meanwhile, and a restarted server archives it from its recorded attempts.
   *
   * @returns the outcome and the kept attempt (with a commit) once recorded; undefined when the
   *   server stopped first
   */
  async archive(task: TaskFile, result: StrategyResult, notes: string[] = []): Promise<Archived | undefined> {
    const state = this.host.store.read();
    const record = state.tasks[task.id];
    const offset = record?.attemptOffset ?? 0;
    const attempts = Object.values(state.attempts).filter((a) => a.taskId === task.id && a.n > offset);
    const agentCosts = attempts.map((a) => a.costUsd);
    const agentsUsd = agentCosts.every((usd) => usd !== undefined)
      ? agentCosts.reduce((sum: number, usd) => sum + (usd ?? 0), 0)
      : undefined;
    const reviewUsd = record?.reviewUsd ?? 0;
    const costUsd = agentsUsd === undefined ? undefined : agentsUsd + reviewUsd;
    const scores = new Map((result.scores ?? []).map((s) => [s.attemptId, s.score]));
    const candidates: CandidateResult[] | undefined =
      result.attempts.length > 1
        ? result.attempts.map((a) => ({
            attempt: a.attemptId,
            check: a.passed ? 'pass' : 'fail',
            ...(scores.get(a.attemptId) !== undefined ? { score: scores.get(a.attemptId)! } : {}),
            ...(result.winner?.attemptId === a.attemptId ? { chosen: true } : {}),
          }))
        : undefined;
    const outcome = result.outcome;
    const reason = outcome === 'failed' ? (result.reason ?? 'failed') : undefined;
    const lastOutput = (result.winner ?? result.attempts.at(-1))?.checkOutput;
    const startedAt = record?.startedAt ? Date.parse(record.startedAt) : Date.now();
    // A winner without a commit (a plan task's) has nothing on its branch to merge or show.
    const kept = result.winner?.commit ? result.winner : undefined;
    const taskResult: TaskResult = {
      attempts: result.attempts.length,
      durationMs: Math.max(0, Date.now() - startedAt),
      ...(kept ? { branch: kept.branch } : {}),
      ...(kept ? { commit: kept.commit } : {}),
      ...(costUsd !== undefined ? { costUsd } : {}),
      ...(agentsUsd !== undefined ? { costParts: { agentsUsd, reviewUsd } } : {}),
      ...(reason ? { reason } : {}),
      ...(candidates ? { candidates } : {}),
      checkRounds: result.attempts.map((a) => ({
        attempt: a.attemptId,
        rounds: state.attempts[a.attemptId]?.checkRounds ?? 0,
        passed: a.passed,
      })),
      ...(record?.reviews?.length ? { reviews: record.reviews.map((r) => ({ ...r })) } : {}),
      ...(notes.length ? { notes } : {}),
      ...(lastOutput ? { checkOutput: lastOutput } : {}),
    };
    let archivedAs = '';
    const written = await this.host.untilDone(`archiving ${task.id}`, async () => {
      const { path } = await archiveTask(this.host.paths, task.id, outcome, taskResult, new Date(), {
        text: task.raw,
      });
      archivedAs = `${outcome}/${path.split('/').pop()}`;
    });
    if (!written) return undefined;
    const fields = {
      outcome,
      archivedAs,
      ...(kept ? { resultBranch: kept.branch, resultCommit: kept.commit } : {}),
      ...(costUsd !== undefined ? { costUsd } : {}),
      ...(reason ? { error: reason } : {}),
      ...(outcome === 'done' && kept && this.host.config.autoMerge ? { mergePending: true } : {}),
    };
    // The archive is written: only its record is retried, and a restart finishes it from the file.
    if (
      !(await this.host.untilDone(`recording ${task.id}'s archive`, () =>
        this.recordArchived(task.id, fields),
      ))
    )
      return undefined;
    this.host.logger.info({ task: task.id, outcome, archivedAs }, `task ${outcome}`);
    if (reason) this.host.say(`${task.id} failed: ${reason}`);
    return { outcome, kept };
  }

  /**
   * The last steps of an archive, after the archived file: each finished attempt's `archived`
   * event, then the task's record in the store. The record comes last, so a server killed before
   * it leaves a task that {@link recover} finishes at the next start.
   */
  private async recordArchived(id: string, fields: Omit<TaskInput, 'id' | 'state'>): Promise<void> {
    for (const a of Object.values(this.host.store.read().attempts)) {
      if (a.taskId !== id || !(a.state === 'succeeded' || a.state === 'failed')) continue;
      const last = await lastTransition(a.runDir);
      // An attempt of a run before a retry, or of an archive finished after a restart, may have it.
      if (last === 'archived') continue;
      // A server killed right after recording the attempt's end in the store did not log it.
      if (last !== a.state) await appendTransition(a.runDir, a.state, a.error).catch(() => {});
      await appendTransition(a.runDir, 'archived').catch(() => {});
    }
    await this.host.store.update((draft) => upsertTask(draft, { id, state: 'archived', ...fields }));
  }

  /**
   * Finishes the archives a killed server left half done (see this module's first comment): a task the store
   * still calls queued or running, whose archive was written since its record last changed, is
   * recorded from that archive, and its queued file, if it is still there, removed. Without this
   * it would run again (and be archived twice), or stay running for ever with its dependents
   * waiting on it.
   */
  async recover(): Promise<void> {
    for (const record of Object.values(this.host.store.read().tasks)) {
      if (record.state !== 'queued' && record.state !== 'running') continue;
      const file = await findArchiveSince(this.host.paths, record.id, Date.parse(record.updatedAt));
      if (!file) continue;
      await unlink(join(this.host.paths.tasks, queueFileName(record.id))).catch(() => {
        // Removed before the server died.
      });
      const result = archivedResult(await readArchive(file));
      const done = file.outcome === 'done';
      const archivedAs = `${file.outcome}/${file.name}`;
      await this.recordArchived(record.id, {
        outcome: file.outcome,
        archivedAs,
        ...(done && result.branch ? { resultBranch: result.branch } : {}),
        ...(done && result.commit ? { resultCommit: result.commit } : {}),
        ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
        ...(done ? {} : { error: result.reason ?? 'failed' }),
        ...(done && result.branch && this.host.config.autoMerge ? { mergePending: true } : {}),
      });
      this.host.logger.warn(
        { task: record.id, archivedAs },
        'finished the archive a previous server left half done',
      );
    }
  }
}
