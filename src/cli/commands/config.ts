import type { Command } from 'commander';
import { isOrchestraError } from '../../common/errors.js';
import { printable } from '../../common/printable.js';
import { loadConfig } from '../../config/load.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { printJson, QuietExit } from '../output.js';

/** Registers `orchestra config validate|show`. */
export function registerConfigCommands(program: Command, env: CommandEnv): void {
  const config = program.command('config').description('check and show the configuration');

  config
    .command('validate')
    .description('check .orchestra/orchestra.json and the user defaults; list every problem')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { root } = await repoContext(env.cwd);
      try {
        const { files } = await loadConfig(root, { env: env.env });
        if (opts.json) printJson(env.output, { ok: true, files, problems: [] });
        else env.output.out(`config ok (${files.length > 0 ? files.join(', ') : 'defaults only'})`);
      } catch (error) {
        if (!isOrchestraError(error, 'CONFIG_INVALID')) throw error;
        const problems = (error as { problems?: string[] }).problems ?? [error.message];
        if (opts.json) {
          printJson(env.output, { ok: false, problems });
        } else {
          for (const problem of problems) env.output.err(`error: ${printable(problem)}`);
          if (error.hint) env.output.err(`hint: ${printable(error.hint)}`);
        }
        throw new QuietExit(1);
      }
    });

  config
    .command('show')
    .description('print the effective configuration (defaults, user file and repository file merged)')
    .action(async () => {
      const { root } = await repoContext(env.cwd);
      const { config: effective } = await loadConfig(root, { env: env.env });
      printJson(env.output, effective);
    });
}
