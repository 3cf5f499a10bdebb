import { commandFromTemplate } from './command-template.js';
import { baseEnv, exitState } from './common.js';
import type { AgentAdapter, AgentLaunch, AgentLaunchContext } from './types.js';

/**
 * A plain interactive shell in the worktree, for a person to work in by hand. Its state comes from
 * its exit only: a shell prompt says nothing about whether work is finished.
 *
 * Needs: the user's `$SHELL` locally (else /bin/bash); /bin/bash in the worker image.
 */

/** Used when `$SHELL` is unset, and always in a container (the host's `$SHELL` may not exist there). */
export const FALLBACK_SHELL = '/bin/bash';

export const shellAdapter: AgentAdapter = {
  type: 'shell',
  requirements: 'a shell: $SHELL locally (else /bin/bash), /bin/bash in the worker image',
  reportsUsage: false,
  launch(ctx: AgentLaunchContext): AgentLaunch {
    const hostShell = (ctx.hostEnv ?? process.env).SHELL;
    const program =
      ctx.agent.command !== undefined
        ? commandFromTemplate(ctx.agent.command)
        : [!ctx.inContainer && hostShell ? hostShell : FALLBACK_SHELL];
    return {
      command: [...program, ...ctx.agent.args],
      cwd: ctx.worktree,
      env: baseEnv(ctx),
      files: [],
      hooks: false,
    };
  },
  stateFromExit: exitState,
};
