import type { Command } from 'commander';
import type { CommandEnv } from '../command-env.js';
import { QuietExit } from '../output.js';

/** Registers `orchestra agent`: the built-in coding agent, as it runs in a pane. */
export function registerAgentCommand(program: Command, env: CommandEnv): void {
  program
    .command('agent')
    .description(
      'run the built-in agent on one task in this worktree (normally started by the scheduler in a pane)',
    )
    .requiredOption('--task <file>', 'the task file')
    .option('--run-dir <dir>', 'where the transcript, events and checkpoint go (default: $ORCHESTRA_RUN_DIR)')
    .option('--resume', 'continue from the checkpoint in the run directory')
    .option('--profile <name>', 'agent profile from the config (coder, architect, reviewer, ...)')
    .action(async (opts: { task: string; runDir?: string; resume?: boolean; profile?: string }) => {
      const runDir = opts.runDir ?? env.env.ORCHESTRA_RUN_DIR;
      if (!runDir) {
        const { OrchestraError } = await import('../../common/errors.js');
        throw new OrchestraError('USAGE', 'no run directory', {
          hint: 'pass --run-dir <dir> or set ORCHESTRA_RUN_DIR',
        });
      }
      const { runAgentCommand } = await import('../../agents/builtin/run-agent.js');
      const code = await runAgentCommand({
        task: opts.task,
        runDir,
        resume: opts.resume ?? false,
        ...(opts.profile ? { profile: opts.profile } : {}),
        cwd: env.cwd,
        env: env.env,
        stdin: process.stdin,
        stdout: process.stdout,
      });
      if (code !== 0) throw new QuietExit(code);
    });
}
