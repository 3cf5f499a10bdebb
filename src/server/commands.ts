import { OrchestraError } from '../common/errors.js';
import { isSecretEnv, SECRET_ENV } from '../common/secret-env.js';
import type { Logger } from '../log/logger.js';
import type { Pane, PaneCloseReason } from '../panes/pane.js';
import type { Command, LayoutState } from '../protocol/messages.js';
import type { ClientConnection } from './client-connection.js';
import { historyRows, searchHistory } from './history-rows.js';
import type { NewPaneRequest } from './pane-request.js';
import { cleanPasteText, pasteBytes } from './paste-buffer.js';
import type { Window } from './window.js';

/**
 * The commands clients send (the CLI, the TUI's key bindings and its `:` prompt): one function
 * runs each against a {@link CommandHost}, the small part of the session server they act on.
 */

/** Commands that change nothing a read-only client may not (queries, and its own terminal's size). */
const READ_COMMANDS: ReadonlySet<string> = new Set([
  'list-panes',
  'capture-pane',
  'history',
  'history-rows',
  'search-history',
  'list-clients',
  'session-info',
  'task-diff',
  'resize',
]);

/** Commands that do not count as a person's activity (the autonomy loop's idle clock). */
const QUIET_COMMANDS: ReadonlySet<string> = new Set([...READ_COMMANDS, 'task-board', 'autonomy']);

/** What the scheduler offers to clients through the server. */
export interface SessionTasks {
  board(): unknown;
  /** An attempt's change and the task's candidates (scheduler/task-diff.ts `taskDiff`). */
  diff(task: string, attempt?: string): Promise<unknown>;
  /** Makes `attempt` the task's result (scheduler/task-diff.ts `pickWinner`). */
  pick(task: string, attempt: string): Promise<unknown>;
  retry(task: string): Promise<unknown>;
  merge(task: string): Promise<unknown>;
  /** Secrets (SECRET_ENV names) queued agents need that the server's environment lacks. */
  missingEnv(): string[];
  /** The server's environment gained a secret: tasks waiting for it may start. */
  envChanged(): void;
  /** `orchestra autonomy status|pause|resume|run-now`; throws USAGE when autonomy is off. */
  autonomyCommand(action: 'status' | 'pause' | 'resume' | 'run-now'): unknown;
}

/** What the commands act on: the session server's window, panes, clients and task queue. */
export interface CommandHost {
  readonly session: string;
  readonly window: Window<Pane>;
  /** Task commands, when the session has a scheduler (set after the server starts). */
  tasks(): SessionTasks | undefined;
  /** Settles once the scheduler of a repository's session is up (at once for other sessions). */
  tasksReady(): Promise<void>;
  /** The environment pane processes get, into which `set-env` hands a secret. */
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger | undefined;
  /** Every connected client, attached or not. */
  clients(): Iterable<ClientConnection>;
  /** @throws OrchestraError SPAWN_FAILED when the process cannot be started */
  newPane(request: NewPaneRequest): Pane;
  removePane(pane: Pane, reason: PaneCloseReason): void;
  /** Fits the panes to the layout, then {@link changed}. */
  relayout(): void;
  /** Broadcasts the layout (and saves it). */
  changed(): void;
  layoutState(): LayoutState;
  /** The session's paste buffer (copy mode's last copy), shared by its clients as tmux's is. */
  pasteBuffer: string | undefined;
  /**
   * `client`'s terminal is now `cols` × `rows` cells (already recorded in its hello, which
   * `list-clients` and a later makeLatest read): the window follows it when it is, or thereby
   * becomes, the latest client.
   */
  resizeClient(client: ClientConnection, cols: number, rows: number): void;
}

/**
 * Whether `command` from `client` is a person at the keyboard, as typing is (the autonomy loop's
 * idle clock): a key binding of an attached client that changes something, or `send-keys` from
 * anywhere; a query or a terminal's resize is not.
 */
export function isActivity(client: ClientConnection, command: Command): boolean {
  return command.cmd === 'send-keys' || (client.attached && !QUIET_COMMANDS.has(command.cmd));
}

/**
 * Finds a pane by target (see {@link Window.find}): index, `%id`, `!`, name, or empty for the
 * focused one.
 * @throws OrchestraError PANE_NOT_FOUND
 */
export function resolvePane(host: CommandHost, target: string | undefined): Pane {
  const pane = host.window.find(target);
  if (!pane) {
    const t = (target ?? '').trim();
    throw new OrchestraError(
      'PANE_NOT_FOUND',
      t ? `no pane "${t}" in session ${host.session}` : 'no pane to act on',
      {
        hint: `list them with \`orchestra ls -t ${host.session}\``,
      },
    );
  }
  return pane;
}

/** Waits until output the pane has already received is parsed, so a capture includes it. */
function parsed(pane: Pane): Promise<void> {
  return new Promise<void>((resolve) => pane.terminal.write('', resolve));
}

/**
 * Runs one command for a client (undefined: the server itself); the same commands the CLI and
 * the TUI's `:` prompt send. Returns the response's result.
 * @throws OrchestraError for a user's mistake (unknown pane, read-only client)
 */
export async function executeCommand(
  host: CommandHost,
  client: ClientConnection | undefined,
  command: Command,
): Promise<unknown> {
  const mutating = !READ_COMMANDS.has(command.cmd);
  if (client?.readOnly && client.hello?.mode === 'attach' && mutating) {
    throw new OrchestraError('USAGE', 'this client is read-only', {
      hint: 'attach without --read-only to act',
    });
  }
  const window = host.window;
  switch (command.cmd) {
    case 'list-panes':
      return host.layoutState().panes;
    case 'new-pane': {
      const pane = host.newPane({
        command: command.command,
        ...(command.name ? { name: command.name } : {}),
        ...(command.cwd ? { cwd: command.cwd } : {}),
        ...(command.env ? { env: command.env } : {}),
        ...(command.remainOnExit ? { remainOnExit: true } : {}),
        ...(command.runDir ? { runDir: command.runDir } : {}),
      });
      return pane.info(window.panes.indexOf(pane));
    }
    case 'send-keys': {
      const pane = resolvePane(host, command.pane);
      pane.input(Buffer.from(command.data, 'base64'));
      return { pane: pane.id };
    }
    case 'capture-pane': {
      const pane = resolvePane(host, command.pane);
      await parsed(pane);
      if (client && !client.withinBudget()) return {};
      return { text: pane.capture(command.start, command.end, command.escapes ?? false) };
    }
    case 'history': {
      const pane = resolvePane(host, command.pane);
      await parsed(pane);
      // A client over its output budget is dropped before its history is built, not after.
      if (client && !client.withinBudget()) return {};
      return { snapshot: pane.snapshot(Number.MAX_SAFE_INTEGER) };
    }
    case 'history-rows': {
      const pane = resolvePane(host, command.pane);
      await parsed(pane);
      if (client && !client.withinBudget()) return {};
      return historyRows(pane.terminal, command.count, command.start);
    }
    case 'search-history': {
      const pane = resolvePane(host, command.pane);
      return { line: searchHistory(pane.terminal, command.text, command.from, command.direction) };
    }
    case 'set-buffer': {
      host.pasteBuffer = cleanPasteText(command.data);
      return { chars: host.pasteBuffer.length };
    }
    case 'paste-buffer': {
      const pane = resolvePane(host, command.pane);
      if (!host.pasteBuffer) {
        throw new OrchestraError('USAGE', 'the paste buffer is empty', {
          hint: 'copy text first: prefix [, move, v or Space, move, y',
        });
      }
      pane.input(Buffer.from(pasteBytes(host.pasteBuffer, pane.terminal.modes.bracketedPasteMode), 'utf8'));
      return { pane: pane.id, chars: host.pasteBuffer.length };
    }
    case 'kill-pane': {
      const pane = resolvePane(host, command.pane);
      host.removePane(pane, 'killed');
      return { pane: pane.id };
    }
    case 'select-pane': {
      const pane = resolvePane(host, command.pane);
      window.setFocus(pane.id);
      if (window.zoomed) host.relayout();
      else host.changed();
      return { pane: pane.id };
    }
    case 'rename-pane': {
      const pane = resolvePane(host, command.pane);
      pane.spec.name = command.name;
      host.changed();
      return { pane: pane.id };
    }
    case 'select-layout': {
      const layout = window.selectLayout(command.layout);
      host.relayout();
      return { layout };
    }
    case 'resize-pane': {
      const pane = resolvePane(host, command.pane);
      const changed = window.resizePane(window.panes.indexOf(pane), command.direction, command.cells);
      if (changed) host.relayout();
      return { changed };
    }
    case 'swap-pane': {
      const pane = resolvePane(host, command.pane);
      const index = window.swapPane(window.panes.indexOf(pane), command.direction === 'U' ? -1 : 1);
      host.relayout();
      return { index };
    }
    case 'zoom': {
      if (command.pane !== undefined) window.setFocus(resolvePane(host, command.pane).id);
      const zoomed = window.toggleZoom();
      host.relayout();
      return { zoomed };
    }
    case 'resize': {
      if (!client) return {};
      // Recorded first: the window follows the latest client at the size its hello holds.
      client.hello = { ...client.hello!, cols: command.cols, rows: command.rows };
      host.resizeClient(client, command.cols, command.rows);
      return { cols: window.size.cols, rows: window.size.rows };
    }
    case 'session-info':
      return {
        session: host.session,
        panes: window.panes.length,
        clients: [...host.clients()].filter((c) => c.attached).length,
      };
    case 'list-clients':
      return [...host.clients()]
        .filter((c) => c.attached)
        .map((c) => ({ id: c.id, cols: c.cols, rows: c.rows, term: c.hello?.term, readOnly: c.readOnly }));
    case 'task-board':
      // A client that attached while the queue was still starting sees it, not an empty board.
      await host.tasksReady();
      return host.tasks()?.board() ?? [];
    case 'task-diff':
      return (await readyTasks(host)).diff(command.task, command.attempt);
    case 'pick-winner':
      return (await readyTasks(host)).pick(command.task, command.attempt);
    case 'retry-task':
      return (await readyTasks(host)).retry(command.task);
    case 'merge-task':
      return (await readyTasks(host)).merge(command.task);
    case 'kill-server':
      return { session: host.session };
    case 'autonomy':
      return (await readyTasks(host)).autonomyCommand(command.action);
    case 'set-env': {
      if (!isSecretEnv(command.name)) {
        throw new OrchestraError('USAGE', `${command.name} cannot be handed to the server`, {
          hint: `only ${SECRET_ENV.join(', ')}`,
        });
      }
      // A hand-over fills a gap; it never replaces a key the server was started with (a process
      // of the person's that reaches the socket must not swap the session's key for its own).
      if (host.env[command.name]) {
        throw new OrchestraError('USAGE', `the server already has ${command.name}`, {
          hint: 'restart the server (`orchestra kill-server`) to start it with another',
        });
      }
      host.env[command.name] = command.value;
      host.logger?.info({ name: command.name }, 'a client handed the server a secret');
      host.tasks()?.envChanged();
      return { name: command.name };
    }
  }
}

/** The task queue once it is up. @throws OrchestraError NOT_INITIALIZED when the session has none */
async function readyTasks(host: CommandHost): Promise<SessionTasks> {
  await host.tasksReady();
  return requireTasks(host);
}

/** @throws OrchestraError NOT_INITIALIZED when the session has no task queue */
function requireTasks(host: CommandHost): SessionTasks {
  const tasks = host.tasks();
  if (!tasks) {
    throw new OrchestraError('NOT_INITIALIZED', `session ${host.session} has no task queue`, {
      hint: 'run `orchestra init` in the repository, then `orchestra tui` there',
    });
  }
  return tasks;
}
