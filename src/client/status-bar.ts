import { printable } from '../common/printable.js';
import type { LayoutState } from '../protocol/messages.js';
import { type ScreenLine, writeText } from './cell-render.js';
import type { Theme } from './theme.js';

/** What the status bar shows. */
export interface StatusBarView {
  session: string;
  layout: LayoutState | undefined;
  theme: Theme;
  /** The prefix key's name (`C-b`), highlighted while `prefixPending`. */
  prefixName: string;
  prefixPending: boolean;
  readOnly: boolean;
  /**
   * A line that takes the whole bar instead: the `:` prompt, a question, a search being typed or
   * a message.
   */
  message?: string | undefined;
}

/**
 * Draws the bottom row: `[session] panes… | extras | flags | N panes | prefix | clock`, or the
 * view's message across the whole bar. The flags, prefix and clock always show at the right edge;
 * the session's extras (task counts, cost) and the pane list give way when the terminal is narrow.
 */
export function drawStatusBar(line: ScreenLine | undefined, width: number, view: StatusBarView): void {
  if (!line) return;
  const { layout, theme, prefixName } = view;
  if (view.message !== undefined) {
    writeText(line, 0, width, view.message, theme.message);
    return;
  }
  const left = `[${view.session}] `;
  const panes = (layout?.panes ?? [])
    .map(
      (p) =>
        `${p.index}:${printable(p.name)}${p.id === layout?.focus ? '*' : ''}${p.state === 'waiting' ? '!' : ''}`,
    )
    .join(' ');
  // A value that already names its field ("cost unknown") is shown alone, not "cost cost unknown".
  const extras = Object.entries(layout?.status ?? {})
    .map(([k, v]) => (v.startsWith(`${k} `) ? v : `${k} ${v}`))
    .join(' | ');
  const now = new Date();
  const clock = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  const prefix = view.prefixPending ? ` ${prefixName} ` : ` ${prefixName}`;
  const flags = [view.readOnly ? 'read-only' : '', layout?.zoomed ? 'Z' : ''].filter(Boolean).join(' ');
  const right = ` ${flags ? `${flags} | ` : ''}${layout?.panes.length ?? 0} panes |${prefix} | ${clock} `;
  const rightStart = Math.max(0, width - right.length);
  const middle = extras ? `${extras} | ` : '';
  const middleStart = Math.max(left.length + panes.length + 1, rightStart - middle.length);
  writeText(line, 0, rightStart, left + panes, theme.status);
  if (middle && middleStart < rightStart) {
    writeText(line, middleStart, rightStart - middleStart, middle, theme.status);
  }
  writeText(line, rightStart, width - rightStart, right, theme.status);
  if (view.prefixPending) {
    const at = rightStart + right.indexOf(prefixName) - 1;
    writeText(line, at, prefixName.length + 2, ` ${prefixName} `, theme.statusPrefix);
  }
}
