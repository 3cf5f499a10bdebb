import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, OrchestraError } from '../common/errors.js';
import { registerAgentCommand } from './commands/agent.js';
import { registerAttachCommands } from './commands/attach.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerGcCommand } from './commands/gc.js';
import { registerImageCommands } from './commands/image.js';
import { registerInitCommand } from './commands/init.js';
import { registerMergeCommand } from './commands/merge.js';
import { registerModelServerCommand } from './commands/model-server.js';
import { registerSessionCommands } from './commands/session.js';
import { registerTaskCommands } from './commands/task.js';
import { type Output, printError, processOutput, QuietExit } from './output.js';
import { VERSION } from './version.js';

/** What every command gets: where it runs, where it prints, and the parsed global flags. */
export interface CommandEnv {
  cwd: string;
  env: NodeJS.ProcessEnv;
  output: Output;
  /** Reads all of standard input (for `task add -`). */
  readStdin(): Promise<string>;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Builds the command tree. Commander's own exits are turned into exceptions so that `main` alone
 * decides exit codes (0 ok, 1 failure, 2 usage error).
 */
export function buildProgram(env: CommandEnv): Command {
  const program = new Command('orchestra')
    .description(
      'A tmux-style multiplexer for AI coding agents: a queue of markdown tasks, one worktree per attempt',
    )
    .version(VERSION, '-V, --version')
    .option('--debug', 'print stack traces and debug logs')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => env.output.out(text.replace(/\n$/, '')),
      writeErr: (text) => env.output.err(text.replace(/\n$/, '')),
    })
    .exitOverride();
  registerInitCommand(program, env);
  registerTaskCommands(program, env);
  registerConfigCommands(program, env);
  registerDoctorCommand(program, env);
  registerGcCommand(program, env);
  registerSessionCommands(program, env);
  registerAttachCommands(program, env);
  registerDemoCommand(program, env);
  registerModelServerCommand(program, env);
  registerImageCommands(program, env);
  registerAgentCommand(program, env);
  registerMergeCommand(program, env);
  return program;
}

/**
 * Runs the CLI with `argv` (as in `process.argv`: node, script, args...).
 *
 * @returns the process exit code
 */
export async function main(argv: string[], env: Partial<CommandEnv> = {}): Promise<number> {
  const fullEnv: CommandEnv = {
    cwd: env.cwd ?? process.cwd(),
    env: env.env ?? process.env,
    output: env.output ?? processOutput,
    readStdin: env.readStdin ?? readAllStdin,
  };
  const debug = argv.includes('--debug');
  const program = buildProgram(fullEnv);
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof QuietExit) return error.exitCode;
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        // `orchestra task` with no subcommand prints help as an error (exit code 1 from commander).
        return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      }
      // Commander has already printed "error: ..." for usage errors.
      if (error.code !== 'commander.executeSubCommandAsync') {
        fullEnv.output.err('hint: run with --help to see the usage');
      }
      return EXIT_USAGE;
    }
    printError(fullEnv.output, error, debug);
    return error instanceof OrchestraError ? error.exitCode : EXIT_FAILURE;
  }
}
