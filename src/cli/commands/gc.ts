import type { Command } from 'commander';
import { printable } from '../../common/printable.js';
import { loadConfig } from '../../config/load.js';
import { gcWorktrees, pruneWorktrees } from '../../git/worktree.js';
import { repoSessionName } from '../../ipc/session-target.js';
import { StateStore } from '../../store/store.js';
import { dockerClient } from '../../workers/docker-engine.js';
import { removeStrayContainers } from '../../workers/session-containers.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
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
          env.output.err(printable(`warning: state file was unreadable (${reason}); kept as ${movedTo}`)),
      });
      const attempts = store.read().attempts;
      // An attempt still in flight keeps its worktree; one the store has never heard of is an orphan.
      const { removed } = await gcWorktrees(root, (id) => {
        const attempt = attempts[id];
        return attempt !== undefined && !FINISHED.has(attempt.state);
      });
      await pruneWorktrees(root);
      // Read again now: an attempt started since the worktrees were looked at keeps its containers.
      const current = (await store.reload()).attempts;
      const containers = await strayContainers(env, root, (id) => {
        const attempt = current[id];
        return attempt !== undefined && !FINISHED.has(attempt.state);
      });
      if (opts.json) printJson(env.output, { removed, containers });
      else if (removed.length === 0 && containers.length === 0) env.output.out('nothing to remove');
      else {
        for (const id of removed) env.output.out(printable(`removed worktree ${id}`));
        for (const name of containers) env.output.out(printable(`removed container ${name}`));
      }
    });
}

/**
 * Removes the repository's session containers that belong to no attempt in flight (agents and
 * tool containers of ended or unknown attempts; old merge gates). No Docker engine: nothing to do.
 *
 * @returns the names of the containers removed
 */
async function strayContainers(
  env: CommandEnv,
  root: string,
  inFlight: (attemptId: string) => boolean,
): Promise<string[]> {
  const docker = dockerClient(env.env);
  if (
    !(await docker.ping().then(
      () => true,
      () => false,
    ))
  )
    return [];
  const { config } = await loadConfig(root, { env: env.env });
  return removeStrayContainers(
    { repo: root, session: repoSessionName(root, config) },
    ({ attemptId }) => inFlight(attemptId),
    docker,
  );
}
