import { errorMessage } from '../common/errors.js';
import { printable } from '../common/printable.js';
import type { BoardTask } from '../protocol/board.js';
import type { Command, PaneInfo } from '../protocol/messages.js';

/** The task board overlay (`prefix t`): the rows the server sent, and the one selected. */
export interface BoardState {
  kind: 'board';
  rows: BoardTask[];
  selected: number;
}

/**
 * The board's text: a header, one line per task (status, strategy, cost, title, attempts with
 * the panes they run in), the total and the keys.
 *
 * @param panes the session's panes, to show an attempt's pane by its index
 */
export function boardContent(mode: BoardState, panes: readonly PaneInfo[]): string {
  const paneIndex = (id: number | undefined) => panes.find((p) => p.id === id)?.index;
  const usd = (n: number | undefined) => (n === undefined ? '' : `$${n.toFixed(n < 1 ? 4 : 2)}`);
  const lines = mode.rows.map((row, i) => {
    const attempts = row.attempts
      .map(
        (a) =>
          `${a.id.replace(`${row.id}-`, '')}:${a.state}${paneIndex(a.paneId) !== undefined ? `@${paneIndex(a.paneId)}` : ''}`,
      )
      .join(' ');
    const marker = i === mode.selected ? '>' : ' ';
    // Autonomous work says so, with its cycle: `[auto 2]`, `[plan 2]`.
    const origin =
      row.origin === 'autonomy'
        ? `[${row.kind === 'plan' ? 'plan' : 'auto'}${row.cycle ? ` ${row.cycle}` : ''}] `
        : '';
    return `${marker} ${printable(row.id).padEnd(9)} ${row.status.padEnd(9)} ${printable(row.strategy).padEnd(10)} ${usd(row.costUsd).padEnd(9)} ${printable(
      `${origin}${row.title ?? ''}`,
    )
      .slice(0, 40)
      .padEnd(40)} ${attempts}${row.error ? `  (${printable(row.error)})` : ''}`;
  });
  const total = mode.rows.reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
  const header = `  ${'TASK'.padEnd(9)} ${'STATUS'.padEnd(9)} ${'STRATEGY'.padEnd(10)} ${'COST'.padEnd(9)} ${'TITLE'.padEnd(40)} ATTEMPTS (@pane)`;
  const help =
    'j/k move · Enter jumps to its pane · d shows its diff · r retries a failed task · m merges a done one · q closes';
  return [
    header,
    ...(lines.length ? lines : ['  no tasks — add one with `orchestra task add "<goal>"`']),
    '',
    `  total ${usd(total) || '$0.00'}`,
    `  ${help}`,
  ].join('\n');
}

/** What the board's keys need of the TUI. */
export interface BoardHost {
  readonly readOnly: boolean;
  /** The session's panes now. */
  panes(): readonly PaneInfo[];
  /** Sends a command to the server and waits for its answer (`ServerConnection.request`). */
  request<T>(command: Command): Promise<T>;
  flash(text: string): void;
  /** Draws the board again (the selection moved). */
  render(): void;
  close(): void;
  selectPane(target: string): void;
  /** True while the board is open. */
  open(): boolean;
  /** Fetches the board again, keeping row `selected` selected. */
  reload(selected: number): void;
  /** Fetches and shows task `task`'s diff over the board; closing it brings the board back at row `selected`. */
  openDiff(task: string, selected: number): void;
}

/** One key on the board: j/k move, Enter jumps to the task's pane, d diffs, r retries, m merges, q closes. */
export function boardKey(host: BoardHost, mode: BoardState, token: string): void {
  const row = mode.rows[mode.selected];
  switch (token) {
    case 'q':
    case '\x1b':
      host.close();
      return;
    case 'j':
    case '\x1b[B':
    case '\x1bOB':
      mode.selected = Math.min(mode.rows.length - 1, mode.selected + 1);
      host.render();
      return;
    case 'k':
    case '\x1b[A':
    case '\x1bOA':
      mode.selected = Math.max(0, mode.selected - 1);
      host.render();
      return;
    case '\r': {
      const pane = [...(row?.attempts ?? [])]
        .reverse()
        .find((a) => a.paneId !== undefined && host.panes().some((p) => p.id === a.paneId));
      if (!pane) {
        host.flash(`${row?.id ?? 'this task'} has no pane`);
        return;
      }
      host.close();
      host.selectPane(`%${pane.paneId}`);
      return;
    }
    case 'd':
      if (row) host.openDiff(row.id, mode.selected);
      return;
    case 'r':
    case 'm': {
      if (!row || host.readOnly) return;
      const command =
        token === 'r'
          ? ({ cmd: 'retry-task', task: row.id } as const)
          : ({ cmd: 'merge-task', task: row.id } as const);
      host.flash(
        token === 'r' ? `retrying ${row.id}…` : `merging ${row.id} (running the checks on the merge)…`,
      );
      host
        .request<{ merged?: boolean; reason?: string; detail?: string; commit?: string }>(command)
        .then((result) => {
          if (token === 'm') {
            host.flash(
              result.merged
                ? `merged ${row.id}: ${result.commit?.slice(0, 10)}`
                : `not merged (${result.reason}): ${result.detail}`,
            );
          } else host.flash(`${row.id} is queued again`);
          if (host.open()) host.reload(mode.selected);
        })
        .catch((error: unknown) => host.flash(errorMessage(error)));
      return;
    }
    default:
  }
}
