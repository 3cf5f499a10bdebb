import type { Command } from 'commander';
import { gcWorktrees, pruneWorktrees } from '../../git/worktree.js';
import { StateStore } from '../../store/store.js';
import { repoContext } from '../context.js';
import type { CommandEnv } from '../main.js';
import { printJson } from '../output.js';

const FINISHED = new Set(['succeeded', 'failed', 'archived']);

/** Registers `orchestra gc`. */
export function registerGcCommand(program: Command, env: CommandEnv): void {
  program
    .command('gc')
    .description(
      'remove the worktrees of finished attempts (their branches are kept until merged or deleted)',
    )
    .option('--json', 'print what was removed as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { paths, root } = await repoContext(env.cwd);
      const store = await StateStore.open(paths.state, {
        onCorrupt: ({ movedTo, reason }) =>
          env.output.err(`warning: state file was unreadable (${reason}); kept as ${movedTo}`),
      });
      const attempts = store.read().attempts;
      // An attempt still in flight keeps its worktree; one the store has never heard of is an orphan.
      const { removed } = await gcWorktrees(root, (id) => {
        const attempt = attempts[id];
        return attempt !== undefined && !FINISHED.has(attempt.state);
      });
      await pruneWorktrees(root);
      if (opts.json) printJson(env.output, { removed });
      else if (removed.length === 0) env.output.out('nothing to remove');
      else for (const id of removed) env.output.out(`removed worktree ${id}`);
    });
}
