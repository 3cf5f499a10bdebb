import { commandFromTemplate } from './command-template.js';
import { baseEnv, exitState } from './common.js';
import type { AgentAdapter, AgentLaunch, AgentLaunchContext } from './types.js';

/**
 * Any program, from the config's `command` template: `{task_file}`, `{prompt}` and `{run_dir}` are
 * filled in after the template is split into argv, each inside its own word, and the program is
 * started without a shell (see command-template.ts). State comes from its exit, or from the
 * `status` lines it may append to `$ORCHESTRA_RUN_DIR/events.jsonl` itself.
 *
 * Needs: whatever the template names.
 */
export const customAdapter: AgentAdapter = {
  type: 'custom',
  requirements: 'the program named by the agent\'s "command" template',
  reportsUsage: false,
  launch(ctx: AgentLaunchContext): AgentLaunch {
    // The schema requires `command` for this type; a config built in code may still omit it.
    const template = ctx.agent.command ?? '';
    const command = commandFromTemplate(template, {
      task_file: ctx.taskFile,
      prompt: ctx.prompt,
      run_dir: ctx.runDir,
    });
    return {
      command: [...command, ...ctx.agent.args],
      cwd: ctx.worktree,
      env: baseEnv(ctx),
      files: [],
      hooks: false,
    };
  },
  stateFromExit: exitState,
};
