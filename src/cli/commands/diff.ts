import type { Command } from 'commander';
import { OrchestraError } from '../../common/errors.js';
import { printable } from '../../common/printable.js';
import { candidateLines, type DiffLineKind, diffDisplayLines } from '../../protocol/task-diff.js';
import { taskDiff } from '../../scheduler/task-diff.js';
import { StateStore } from '../../store/store.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { printJson } from '../output.js';

/** SGR colours of diff lines, as `git diff --color` shows them. */
const COLOURS: Record<DiffLineKind, string> = {
  add: '\x1b[32m',
  del: '\x1b[31m',
  hunk: '\x1b[36m',
  file: '\x1b[1m',
  context: '',
};

/** Registers `orchestra diff <task> [--attempt a2]`. */
export function registerDiffCommand(program: Command, env: CommandEnv): void {
  program
    .command('diff')
    .description(
      "print an attempt's change against the commit it started from, and the task's other attempts",
    )
    .argument('<task>', 'task id: task-03, 3 or 03')
    .option(
      '-a, --attempt <attempt>',
      'which attempt: a2, 2 or its id (default: the result, else the newest)',
    )
    .option('--color <when>', 'colour the diff: auto (a terminal), always or never', 'auto')
    .option('--json', 'print the diff and the candidates as JSON')
    .action(async (task: string, opts: { attempt?: string; color: string; json?: boolean }) => {
      if (!['auto', 'always', 'never'].includes(opts.color)) {
        throw new OrchestraError('USAGE', `--color ${opts.color}: expected auto, always or never`, {
          hint: 'orchestra diff 3 --color never',
        });
      }
      const { root, paths } = await repoContext(env.cwd);
      const store = await StateStore.open(paths.state, {
        onCorrupt: ({ movedTo, reason }) =>
          env.output.err(printable(`warning: state file unusable (${reason}); kept as ${movedTo}`)),
      });
      try {
        // No cap worth the name: a person asked for the whole change.
        const diff = await taskDiff(root, await store.reload(), task, {
          ...(opts.attempt ? { attempt: opts.attempt } : {}),
          maxBytes: 64 * 1024 * 1024,
        });
        if (opts.json) {
          printJson(env.output, diff);
          return;
        }
        const colour =
          opts.color === 'always' ||
          (opts.color === 'auto' && process.stdout.isTTY === true && !env.env.NO_COLOR);
        env.output.out(
          printable(
            `${diff.taskId} ${diff.attemptId}: ${diff.stat.files} files, +${diff.stat.insertions} -${diff.stat.deletions} against ${diff.base.slice(0, 10)}`,
          ),
        );
        if (diff.candidates.length > 1) for (const line of candidateLines(diff)) env.output.out(line);
        env.output.out('');
        for (const { text, kind } of diffDisplayLines(diff.diff.text)) {
          env.output.out(colour && COLOURS[kind] ? `${COLOURS[kind]}${text}\x1b[0m` : text);
        }
        if (diff.diff.truncated)
          env.output.out(`… cut at ${diff.diff.text.length} of ${diff.diff.totalBytes} bytes`);
      } finally {
        await store.close();
      }
    });
}
