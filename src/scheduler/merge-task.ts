import { OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import type { OrchestraConfig } from '../config/schema.js';
import { type MergeOutcome, mergeResult } from '../git/merge.js';
import { repoSessionName } from '../ipc/session-target.js';
import { upsertTask } from '../store/records.js';
import type { StateStore } from '../store/store.js';
import { mergeGate } from './merge-gate.js';
import { findTaskRecord } from './task-diff.js';

/**
 * `orchestra merge <task>` (and `autoMerge`): merges the task's result branch into the base
 * branch, only after the setup and check commands pass on the merge commit in a worker without
 * secrets (merge-gate.ts). A conflict or a failing check leaves the base branch untouched and says
 * why. The task's record gets the merge commit (`mergedCommit`) or the refusal (`mergeError`);
 * `mergePending` is cleared either way, except on `base-moved`, which the caller may try again.
 *
 * @param ctx.env environment for the gate (Docker's address; secrets are never passed on); default `process.env`
 * @param ctx.session names the gate's container; default the repository folder's name
 *
 * @throws OrchestraError TASK_NOT_FOUND when the task has no result branch (not done, or unknown)
 */
export async function mergeTask(
  ctx: {
    root: string;
    paths: OrchestraPaths;
    config: OrchestraConfig;
    store: StateStore;
    env?: NodeJS.ProcessEnv;
    session?: string;
  },
  ref: string,
  onOutput?: (chunk: string) => void,
): Promise<MergeOutcome & { taskId: string; branch: string }> {
  const record = findTaskRecord(await ctx.store.reload(), ref);
  if (!record.resultBranch) {
    throw new OrchestraError(
      'TASK_NOT_FOUND',
      `${record.id} has no result to merge (${record.error ?? record.state})`,
      {
        hint: 'only tasks archived in done/ have a result branch',
      },
    );
  }
  const outcome = await mergeResult({
    root: ctx.root,
    baseBranch: ctx.config.baseBranch,
    resultBranch: record.resultBranch,
    message: `orchestra: merge ${record.id} (${record.resultBranch})`,
    gate: mergeGate({
      root: ctx.root,
      paths: ctx.paths,
      config: ctx.config,
      env: ctx.env ?? process.env,
      session: ctx.session ?? repoSessionName(ctx.root, ctx.config),
      ...(onOutput ? { onOutput } : {}),
    }),
  });
  // The task's record says how its merge ended, whoever asked for it; the board reads it there.
  // A moved base is for the caller to try again: nothing has ended.
  if (outcome.merged || outcome.reason !== 'base-moved') {
    await ctx.store.update((draft) => {
      const task = upsertTask(draft, { id: record.id });
      delete task.mergePending;
      if (outcome.merged) {
        task.mergedCommit = outcome.commit;
        delete task.mergeError;
        // A person picked another attempt while this merge ran its checks: the record says what
        // was merged, not the pick that came too late.
        if (task.resultBranch !== record.resultBranch) {
          task.mergeError = `${task.winnerPicked?.attempt ?? 'another attempt'} was picked while ${record.resultBranch} was being merged: ${record.resultBranch} is what landed`;
          task.resultBranch = record.resultBranch!;
          if (record.resultCommit) task.resultCommit = record.resultCommit;
          delete task.winnerPicked;
        }
      } else if (!(outcome.reason === 'nothing-to-merge' && task.mergedCommit)) {
        task.mergeError = outcome.detail;
      }
    });
  }
  return { ...outcome, taskId: record.id, branch: record.resultBranch };
}
