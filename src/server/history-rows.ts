import type xtermHeadless from '@xterm/headless';
import { encodeLine } from '../panes/pane-screen.js';
import type { HistoryRows } from '../protocol/screen.js';

type HeadlessTerminal = InstanceType<typeof xtermHeadless.Terminal>;

/**
 * Rows of a pane's buffer as cells, for a client's scroll mode (command `history-rows`).
 *
 * @param terminal the pane's emulator
 * @param count lines wanted (the caller caps it)
 * @param start first absolute line (0 the oldest); default the `count` lines above the screen
 */
export function historyRows(terminal: HeadlessTerminal, count: number, start?: number): HistoryRows {
  const buffer = terminal.buffer.active;
  const base = buffer.baseY;
  const first = Math.max(0, Math.min(start ?? base - count, buffer.length - 1));
  const last = Math.min(buffer.length - 1, first + count - 1);
  const a = buffer.getNullCell();
  const b = buffer.getNullCell();
  const lines = [];
  const wrapped: boolean[] = [];
  for (let y = first; y <= last; y++) {
    const line = buffer.getLine(y);
    lines.push(encodeLine(line, terminal.cols, a, b));
    wrapped.push(line?.isWrapped === true);
  }
  return { cols: terminal.cols, total: buffer.length, base, start: first, lines, wrapped };
}

/**
 * The nearest absolute line from `from` (inclusive) in `direction` whose text contains `text`,
 * case-insensitive; null when none does.
 */
export function searchHistory(
  terminal: HeadlessTerminal,
  text: string,
  from: number,
  direction: -1 | 1,
): number | null {
  const needle = text.toLowerCase();
  const buffer = terminal.buffer.active;
  for (let y = from; y >= 0 && y < buffer.length; y += direction) {
    if (buffer.getLine(y)?.translateToString(true).toLowerCase().includes(needle)) return y;
  }
  return null;
}
