import type { Command } from 'commander';
import { printable } from '../../common/printable.js';
import { loadConfig } from '../../config/load.js';
import { mergeTask } from '../../scheduler/merge-task.js';
import { StateStore } from '../../store/store.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { printJson, QuietExit } from '../output.js';

/** Registers `orchestra merge <task>`. */
export function registerMergeCommand(program: Command, env: CommandEnv): void {
  program
    .command('merge')
    .description("merge a done task's result into the base branch, after the checks pass on the merged code")
    .argument('<task>', 'task id: task-03, 3 or 03')
    .option('-q, --quiet', 'do not show the check output as it runs')
    .option('--json', 'print the outcome as JSON')
    .action(async (task: string, opts: { quiet?: boolean; json?: boolean }) => {
      const { root, paths } = await repoContext(env.cwd);
      const { config } = await loadConfig(root, { env: env.env });
      const store = await StateStore.open(paths.state, {
        onCorrupt: ({ movedTo, reason }) =>
          env.output.err(printable(`warning: state file unusable (${reason}); kept as ${movedTo}`)),
      });
      try {
        const quiet = opts.quiet || opts.json;
        const outcome = await mergeTask(
          { root, paths, config, store },
          task,
          // The checks run the task's code: what they print is untrusted.
          quiet ? undefined : (chunk) => process.stderr.write(printable(chunk, { multiline: true })),
        );
        if (opts.json) printJson(env.output, outcome);
        else if (outcome.merged) {
          env.output.out(
            printable(
              `merged ${outcome.taskId} (${outcome.branch}) into ${config.baseBranch}: ${outcome.commit.slice(0, 10)}`,
            ),
          );
        } else {
          env.output.err(
            printable(`error: ${outcome.taskId} was not merged (${outcome.reason}): ${outcome.detail}`),
          );
          env.output.err(
            printable(
              `hint: ${config.baseBranch} is untouched; ${outcome.reason === 'conflict' ? 'resolve the conflict on the result branch, or retry the task' : 'fix the cause and merge again'}`,
            ),
          );
        }
        if (!outcome.merged) throw new QuietExit(1);
      } finally {
        await store.close();
      }
    });
}
