import { orchestraEntry } from '../../common/paths.js';
import { commandFromTemplate } from './command-template.js';
import { baseEnv, exitState } from './common.js';
import type { AgentAdapter, AgentLaunch, AgentLaunchContext } from './types.js';

/**
 * The built-in agent, `orchestra agent --task <file> --run-dir <dir> [--resume] [--profile p]`
 * (src/agents/builtin/). It writes its own `status` and `usage` events, so no screen patterns.
 *
 * Needs: nothing beyond orchestra itself — locally the running Node and this package's
 * `bin/orchestra`; in a container, `orchestra` on the worker image's PATH (Dockerfile.worker).
 */

/** This package's CLI entry, `bin/orchestra` (common/paths.ts). */
export const ORCHESTRA_BIN = orchestraEntry();

export const orchestraAdapter: AgentAdapter = {
  type: 'orchestra',
  requirements: 'nothing extra: Node.js and orchestra itself (in a container, `orchestra` on the image PATH)',
  reportsUsage: true,
  requiredEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'],
  launch(ctx: AgentLaunchContext): AgentLaunch {
    const program =
      ctx.agent.command !== undefined
        ? commandFromTemplate(ctx.agent.command)
        : ctx.inContainer
          ? ['orchestra']
          : [process.execPath, ORCHESTRA_BIN];
    const profile = ctx.profile ?? ctx.agent.profile;
    return {
      command: [
        ...program,
        'agent',
        '--task',
        ctx.taskFile,
        '--run-dir',
        ctx.runDir,
        ...(ctx.resume ? ['--resume'] : []),
        ...(profile !== undefined ? ['--profile', profile] : []),
        ...ctx.agent.args,
      ],
      cwd: ctx.worktree,
      env: baseEnv(ctx),
      files: [],
      hooks: true,
    };
  },
  stateFromExit: exitState,
};
