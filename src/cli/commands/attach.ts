import { access } from 'node:fs/promises';
import type { Command } from 'commander';
import { OrchestraError } from '../../common/errors.js';
import { orchestraPaths } from '../../common/paths.js';
import { parseTarget, repoSessionName } from '../../ipc/session-target.js';
import type { CommandEnv } from '../command-env.js';
import { QuietExit } from '../output.js';
import { VERSION } from '../version.js';

function requireTerminal(): void {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new OrchestraError('USAGE', 'the TUI needs a terminal', {
      hint: 'run it in a terminal; scripts can use `orchestra send-keys` and `orchestra capture-pane`',
    });
  }
}

async function runTui(
  env: CommandEnv,
  options: {
    session: string;
    root?: string;
    autostart: boolean;
    readOnly: boolean;
    initialCommand?: string[];
  },
): Promise<void> {
  requireTerminal();
  const { Tui } = await import('../../client/tui.js');
  const tui = new Tui({
    ...options,
    version: VERSION,
    env: env.env,
    // The `:` prompt runs commands through the CLI in-process; handed in so the client does not
    // import the CLI (which imports the client).
    runCommand: async (argv, commandEnv) => {
      const lines: string[] = [];
      if (!env.run) return { code: 1, lines: ['commands cannot run from this TUI'] };
      const code = await env.run(argv, {
        cwd: options.root ?? env.cwd,
        env: commandEnv,
        output: { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        readStdin: async () => '',
      });
      return { code, lines };
    },
  });
  const code = await tui.run();
  if (code !== 0) throw new QuietExit(code);
}

/** Registers `orchestra tui` and `orchestra attach`. */
export function registerAttachCommands(program: Command, env: CommandEnv): void {
  program
    .command('tui')
    .description("open this repository's session full-screen (starting its server if needed)")
    .option('-r, --read-only', 'watch only: keys are not sent to panes')
    .action(async (opts: { readOnly?: boolean }) => {
      // The config names the session (and its server loads it again for the keys and theme the
      // TUI gets); `attach` reads no config at all, so it starts quicker.
      const [{ findRepoRoot }, { loadConfig }, { defaultConfig }] = await Promise.all([
        import('../../git/repo.js'),
        import('../../config/load.js'),
        import('../../config/schema.js'),
      ]);
      const root = await findRepoRoot(env.cwd);
      const config = root ? (await loadConfig(root, { env: env.env })).config : defaultConfig();
      const session = repoSessionName(root, config);
      // A repository with a task queue fills the window with agent panes; elsewhere start with a
      // shell, as tmux's new-session does.
      const hasQueue = await access(orchestraPaths(root).tasks).then(
        () => true,
        () => false,
      );
      await runTui(env, {
        session,
        root,
        autostart: true,
        readOnly: opts.readOnly ?? false,
        ...(hasQueue ? {} : { initialCommand: [env.env.SHELL || '/bin/sh'] }),
      });
    });

  program
    .command('attach')
    .alias('a')
    .description('attach to a running session')
    .option('-t, --target <session>', "session (default: this repository's)")
    .option('-r, --read-only', 'watch only: keys are not sent to panes')
    .action(async (opts: { target?: string; readOnly?: boolean }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, false);
      await runTui(env, {
        session: target.session,
        ...(target.root ? { root: target.root } : {}),
        autostart: false,
        readOnly: opts.readOnly ?? false,
      });
    });
}
