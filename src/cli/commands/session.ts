import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { connectSession, type ServerConnection } from '../../client/connection.js';
import { OrchestraError } from '../../common/errors.js';
import { printable } from '../../common/printable.js';
import { parseTarget, type Target } from '../../ipc/session-target.js';
import { checkSocketDir } from '../../ipc/socket-dir.js';
import { keyNameToBytes } from '../../keys/key-names.js';
import type { PaneInfo, Command as ServerCommand, SessionInfo } from '../../protocol/messages.js';
import { socketDir } from '../../protocol/socket-path.js';
import type { CommandEnv } from '../command-env.js';
import { formatTable, printJson } from '../output.js';
import { VERSION } from '../version.js';

/** Opens a short-lived command connection to the target's session. */
export async function commandConnection(
  env: CommandEnv,
  target: Target,
  autostart = false,
): Promise<ServerConnection> {
  return connectSession({
    session: target.session,
    env: env.env,
    hello: {
      version: VERSION,
      mode: 'command',
      cols: process.stdout.columns ?? 80,
      rows: process.stdout.rows ?? 24,
      term: env.env.TERM ?? 'xterm-256color',
      readOnly: false,
    },
    ...(autostart ? { autostart: target.root ? { root: target.root } : {} } : {}),
  });
}

/** Sends one command to the target's session and closes the connection. */
async function run<T>(
  env: CommandEnv,
  target: Target,
  command: ServerCommand,
  autostart = false,
): Promise<T> {
  const connection = await commandConnection(env, target, autostart);
  try {
    return await connection.request<T>(command);
  } finally {
    connection.close();
  }
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/**
 * Live sessions in the socket directory, with their pane counts. A directory the server would
 * refuse is refused here too, with its error: listing it as empty would hide that it is unsafe.
 *
 * @throws OrchestraError SOCKET_DIR_UNSAFE as {@link checkSocketDir}
 */
async function listSessions(env: CommandEnv): Promise<SessionInfo[]> {
  const dir = socketDir(env.env);
  try {
    await checkSocketDir(dir);
  } catch (error) {
    // No directory: no server has ever started here.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const names = await readdir(dir);
  const sessions: SessionInfo[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isSocket()) continue;
    try {
      // One connection and one request per session; a socket nobody answers is not listed.
      const answer = await run<SessionInfo>(env, { session: name }, { cmd: 'session-info' });
      sessions.push({ session: name, panes: answer.panes, clients: answer.clients });
    } catch {
      // A stale socket, or a server that dies while we ask, is simply not listed.
    }
  }
  return sessions;
}

function printPanes(env: CommandEnv, panes: PaneInfo[], json: boolean): void {
  if (json) {
    printJson(env.output, panes);
    return;
  }
  const rows = [['INDEX', 'ID', 'NAME', 'SIZE', 'STATE', 'COMMAND']];
  for (const p of panes) {
    rows.push([
      String(p.index),
      `%${p.id}`,
      p.name,
      `${p.cols}x${p.rows}`,
      p.exited ? `exited ${p.exitCode ?? 'signal'}` : (p.state ?? 'running'),
      p.command.join(' '),
    ]);
  }
  for (const line of formatTable(rows)) env.output.out(line);
}

/** Registers the tmux-like scripting commands and `server`. */
export function registerSessionCommands(program: Command, env: CommandEnv): void {
  program
    .command('server')
    .description('run the session server in the foreground (clients start it in the background themselves)')
    .option('-s, --session <name>', 'session name (default: the repository directory name)')
    .option('--repo <dir>', 'repository whose .orchestra/ holds the store and config')
    .action(async (opts: { session?: string; repo?: string }) => {
      const { runServerForeground } = await import('../../server/run.js');
      await runServerForeground(env, opts);
    });

  program
    .command('ls')
    .alias('list-sessions')
    .description('list running sessions; with -t, the panes of that session')
    .option('-t, --target <session>', 'list the panes of this session')
    .option('--json', 'print as JSON')
    .action(async (opts: { target?: string; json?: boolean }) => {
      if (opts.target !== undefined) {
        const target = await parseTarget(opts.target, env.cwd, env.env, false);
        printPanes(env, await run<PaneInfo[]>(env, target, { cmd: 'list-panes' }), opts.json ?? false);
        return;
      }
      const sessions = await listSessions(env);
      if (opts.json) printJson(env.output, sessions);
      else if (sessions.length === 0) env.output.out('no sessions');
      else {
        for (const s of sessions) {
          env.output.out(
            printable(`${s.session}: ${s.panes} panes${s.clients > 0 ? ` (${s.clients} attached)` : ''}`),
          );
        }
      }
    });

  program
    .command('list-panes')
    .description('list the panes of a session')
    .option('-t, --target <session>', "session (default: this repository's)")
    .option('--json', 'print as JSON')
    .action(async (opts: { target?: string; json?: boolean }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, false);
      printPanes(env, await run<PaneInfo[]>(env, target, { cmd: 'list-panes' }), opts.json ?? false);
    });

  program
    .command('new-pane')
    .description('start a command in a new pane (the server starts if needed); default: your shell')
    .option('-t, --target <session>', "session (default: this repository's)")
    .option('-n, --name <name>', 'pane name shown in its title')
    .option('-c, --cwd <dir>', 'working directory')
    .option('--remain', 'keep the pane on screen after its command ends')
    .option(
      '--run-dir <dir>',
      "an agent's run directory: its events.jsonl shows as the pane's state and cost",
    )
    .option('--json', 'print the new pane as JSON')
    .argument('[command...]', 'command and arguments (put them after --)')
    .action(
      async (command: string[], opts: { target?: string; name?: string; cwd?: string; json?: boolean }) => {
        const target = await parseTarget(opts.target, env.cwd, env.env, false);
        const argv = command.length > 0 ? command : [env.env.SHELL || '/bin/sh'];
        const pane = await run<PaneInfo>(
          env,
          target,
          {
            cmd: 'new-pane',
            command: argv,
            cwd: resolve(env.cwd, opts.cwd ?? '.'),
            ...(opts.name ? { name: opts.name } : {}),
          },
          true,
        );
        if (opts.json) printJson(env.output, pane);
        else env.output.out(printable(`${target.session}:${pane.index} (%${pane.id}) ${pane.name}`));
      },
    );

  program
    .command('send-keys')
    .description('type keys into a pane: tmux key names (Enter, C-c, Escape, Up...) or text')
    .option('-t, --target <session:pane>', "pane (default: the focused pane of this repository's session)")
    .option('-l, --literal', 'send the arguments as text, not key names')
    .argument('<keys...>', 'keys or text')
    .action(async (keys: string[], opts: { target?: string; literal?: boolean }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, true);
      const data = keys.map((k) => (opts.literal ? k : (keyNameToBytes(k) ?? k))).join('');
      await run(env, target, {
        cmd: 'send-keys',
        pane: target.pane ?? '',
        data: Buffer.from(data).toString('base64'),
      });
    });

  program
    .command('capture-pane')
    .description("print a pane's text from the server's screen (history with -S)")
    .option('-t, --target <session:pane>', 'pane')
    .option('-p, --print', 'print to standard output (the only mode; accepted for tmux habits)')
    .option('-S, --start <line>', 'first line; negative numbers reach into history', integer)
    .option('-E, --end <line>', 'last line (default: the bottom of the screen)', integer)
    .option('-e, --escapes', 'keep colours and attributes as escape sequences')
    .action(async (opts: { target?: string; start?: number; end?: number; escapes?: boolean }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, true);
      const { text } = await run<{ text: string }>(env, target, {
        cmd: 'capture-pane',
        pane: target.pane ?? '',
        ...(opts.start !== undefined ? { start: opts.start } : {}),
        ...(opts.end !== undefined ? { end: opts.end } : {}),
        ...(opts.escapes ? { escapes: true } : {}),
      });
      env.output.out(text);
    });

  for (const [name, description] of [
    ['kill-pane', 'end a pane and its process'],
    ['select-pane', 'focus a pane'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .option('-t, --target <session:pane>', 'pane')
      .action(async (opts: { target?: string }) => {
        const target = await parseTarget(opts.target, env.cwd, env.env, true);
        await run(env, target, { cmd: name, pane: target.pane ?? '' });
      });
  }

  program
    .command('resize-pane')
    .description("move a border of a pane, as tmux's resize-pane: -L/-R/-U/-D [cells] (default 1)")
    .option('-t, --target <session:pane>', 'pane (default: the focused one)')
    .option('-L', 'left')
    .option('-R', 'right')
    .option('-U', 'up')
    .option('-D', 'down')
    .argument('[cells]', 'how many cells', '1')
    .action(
      async (
        cells: string,
        opts: { target?: string; L?: boolean; R?: boolean; U?: boolean; D?: boolean },
      ) => {
        const directions = (['L', 'R', 'U', 'D'] as const).filter((d) => opts[d]);
        const n = Number(cells);
        if (directions.length !== 1 || !Number.isInteger(n) || n < 1 || n > 1000) {
          throw new OrchestraError(
            'USAGE',
            'resize-pane takes one of -L, -R, -U, -D and a number of cells from 1 to 1000',
            {
              hint: 'orchestra resize-pane -t 1 -R 5',
            },
          );
        }
        const target = await parseTarget(opts.target, env.cwd, env.env, true);
        await run(env, target, {
          cmd: 'resize-pane',
          pane: target.pane ?? '',
          direction: directions[0]!,
          cells: n,
        });
      },
    );

  program
    .command('swap-pane')
    .description("swap a pane with the one before it (-U) or after it (-D), as tmux's swap-pane")
    .option('-t, --target <session:pane>', 'pane (default: the focused one)')
    .option('-U', 'with the one before')
    .option('-D', 'with the one after')
    .action(async (opts: { target?: string; U?: boolean; D?: boolean }) => {
      if (opts.U === opts.D) {
        throw new OrchestraError('USAGE', 'swap-pane takes one of -U and -D', {
          hint: 'orchestra swap-pane -t 1 -D',
        });
      }
      const target = await parseTarget(opts.target, env.cwd, env.env, true);
      await run(env, target, { cmd: 'swap-pane', pane: target.pane ?? '', direction: opts.U ? 'U' : 'D' });
    });

  program
    .command('select-layout')
    .description('tiled, even-horizontal, even-vertical, main-vertical, or next')
    .option('-t, --target <session>', 'session')
    .argument('<layout>', 'layout name')
    .action(async (layout: string, opts: { target?: string }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, false);
      const allowed = ['tiled', 'even-horizontal', 'even-vertical', 'main-vertical', 'next'];
      if (!allowed.includes(layout)) {
        throw new OrchestraError('USAGE', `unknown layout "${layout}"`, {
          hint: `use one of ${allowed.join(', ')}`,
        });
      }
      await run(env, target, { cmd: 'select-layout', layout: layout as 'tiled' });
    });

  program
    .command('kill-server')
    .description("end a session's server: its panes' processes end and the socket is removed")
    .option('-t, --target <session>', "session (default: this repository's)")
    .action(async (opts: { target?: string }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, false);
      await run(env, target, { cmd: 'kill-server' });
    });
}
