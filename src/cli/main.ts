import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, OrchestraError } from '../common/errors.js';
import type { CommandEnv } from './command-env.js';
import { printError, processOutput, QuietExit } from './output.js';
import { VERSION } from './version.js';

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type Register = (program: Command, env: CommandEnv) => void;

/**
 * The modules that define commands, loaded on demand: a command's module (and what it imports)
 * is loaded only when that command runs, so `orchestra send-keys` or `attach` does not pay for
 * dockerode, the scheduler or the task parser. `--help` and unknown commands load them all.
 */
const COMMAND_MODULES: Array<{ names: string[]; load: () => Promise<Register[]> }> = [
  { names: ['init'], load: async () => [(await import('./commands/init.js')).registerInitCommand] },
  { names: ['task'], load: async () => [(await import('./commands/task.js')).registerTaskCommands] },
  { names: ['config'], load: async () => [(await import('./commands/config.js')).registerConfigCommands] },
  { names: ['doctor'], load: async () => [(await import('./commands/doctor.js')).registerDoctorCommand] },
  { names: ['gc'], load: async () => [(await import('./commands/gc.js')).registerGcCommand] },
  {
    names: [
      'server',
      'ls',
      'list-sessions',
      'list-panes',
      'new-pane',
      'send-keys',
      'capture-pane',
      'kill-pane',
      'select-pane',
      'select-layout',
      'resize-pane',
      'swap-pane',
      'kill-server',
    ],
    load: async () => [(await import('./commands/session.js')).registerSessionCommands],
  },
  {
    names: ['tui', 'attach', 'a'],
    load: async () => [(await import('./commands/attach.js')).registerAttachCommands],
  },
  { names: ['demo'], load: async () => [(await import('./commands/demo.js')).registerDemoCommand] },
  {
    names: ['model-server'],
    load: async () => [(await import('./commands/model-server.js')).registerModelServerCommand],
  },
  { names: ['image'], load: async () => [(await import('./commands/image.js')).registerImageCommands] },
  { names: ['hosts'], load: async () => [(await import('./commands/hosts.js')).registerHostsCommand] },
  { names: ['agent'], load: async () => [(await import('./commands/agent.js')).registerAgentCommand] },
  { names: ['merge'], load: async () => [(await import('./commands/merge.js')).registerMergeCommand] },
  { names: ['diff'], load: async () => [(await import('./commands/diff.js')).registerDiffCommand] },
  {
    names: ['autonomy'],
    load: async () => [(await import('./commands/autonomy.js')).registerAutonomyCommands],
  },
  {
    names: ['service'],
    load: async () => [(await import('./commands/service.js')).registerServiceCommands],
  },
];

/** The register functions needed for `argv`: only the named command's, or all of them. */
async function registersFor(argv: string[]): Promise<Register[]> {
  const name = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const one = COMMAND_MODULES.find((m) => name !== undefined && m.names.includes(name));
  if (one) return one.load();
  return (await Promise.all(COMMAND_MODULES.map((m) => m.load()))).flat();
}

/**
 * Builds the command tree. Commander's own exits are turned into exceptions so that `main` alone
 * decides exit codes (0 ok, 1 failure, 2 usage error).
 */
export function buildProgram(env: CommandEnv, registers: Register[]): Command {
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
  for (const register of registers) register(program, env);
  return program;
}

export { holdYoungGeneration } from '../common/young-generation.js';

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
    run: (args, inner) => main(['node', 'orchestra', ...args], inner),
  };
  const debug = argv.includes('--debug');
  const program = buildProgram(fullEnv, await registersFor(argv));
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
