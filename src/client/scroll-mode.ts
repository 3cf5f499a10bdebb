import { errorMessage } from '../common/errors.js';
import type { Command, LayoutState } from '../protocol/messages.js';
import { cutToPasteLimit, PASTE_BUFFER_MAX_CHARS } from '../protocol/paste.js';
import type { HistoryRows } from '../protocol/screen.js';
import { FLAG_INVISIBLE } from './cell-render.js';
import { runsToCells, type ViewCell } from './pane-view.js';

/** History lines fetched per request in scroll mode (the server caps a request at 1000). */
const HISTORY_PAGE = 200;

/** Scroll mode on one pane (`prefix [`, the wheel): a view of its history the server keeps. */
export interface ScrollState {
  kind: 'scroll';
  pane: number;
  /** Absolute buffer line on the view's first row. */
  top: number;
  /** Lines in the pane's buffer, and the first line of its live screen (the bottom `top`). */
  total: number;
  base: number;
  /** Rows shown (the pane's height) and their width. */
  height: number;
  cols: number;
  /** History lines fetched so far, by absolute line. */
  lines: Map<number, ViewCell[]>;
  /** Lines fetched that continue the line before them (they wrapped there). */
  wrapped?: Set<number>;
  loading: boolean;
  search?: string;
  searching?: string;
  /** The copy cursor: absolute line and column (copy mode, as tmux's). */
  cursor: BufferPoint;
  /** Where the selection started (`v` or Space), when one is being made; it ends at the cursor. */
  anchor?: BufferPoint;
}

/** A position in the pane's buffer: absolute line and column. */
export interface BufferPoint {
  line: number;
  col: number;
}

/** What scroll mode needs of the TUI. */
export interface ScrollHost {
  /** Sends a command to the server and waits for its answer (`ServerConnection.request`). */
  request<T>(command: Command): Promise<T>;
  flash(text: string): void;
  requestRender(): void;
  /** Shows `state`: the TUI is in scroll mode from now on. */
  enter(state: ScrollState): void;
  /** True while `state` is what the TUI shows. */
  showing(state: ScrollState): boolean;
  /** Back to normal mode. */
  leave(): void;
  /** The selection was copied into the session's paste buffer: `text` goes to the clipboard too. */
  copied(text: string): void;
}

/**
 * Enters scroll mode on the focused pane, `linesUp` lines above its live screen, the copy cursor
 * where the pane's cursor is (`at`, a row and column of its screen) or on the view's last row.
 */
export async function enterScrollMode(
  host: ScrollHost,
  layout: LayoutState | undefined,
  linesUp: number,
  at?: { x: number; y: number },
): Promise<void> {
  if (!layout || layout.focus === null) return;
  const paneId = layout.focus;
  const info = layout.panes.find((p) => p.id === paneId);
  if (!info) return;
  try {
    const first = await host.request<HistoryRows>({
      cmd: 'history-rows',
      pane: `%${paneId}`,
      count: HISTORY_PAGE,
    });
    const mode: ScrollState = {
      kind: 'scroll',
      pane: paneId,
      top: Math.max(0, first.base - linesUp),
      total: first.total,
      base: first.base,
      height: info.rows,
      cols: first.cols,
      lines: new Map(),
      loading: false,
      cursor: { line: 0, col: 0 },
    };
    const top = Math.max(0, first.base - linesUp);
    mode.cursor =
      linesUp === 0 && at
        ? { line: Math.min(first.total - 1, first.base + at.y), col: Math.min(at.x, first.cols - 1) }
        : { line: Math.min(first.total - 1, top + info.rows - 1), col: 0 };
    keepRows(mode, first);
    host.enter(mode);
    await loadScrollRows(host, mode);
    host.requestRender();
  } catch (error) {
    host.flash(errorMessage(error));
  }
}

function keepRows(mode: ScrollState, rows: HistoryRows): void {
  mode.wrapped ??= new Set();
  for (const [i, runs] of rows.lines.entries()) {
    mode.lines.set(rows.start + i, runsToCells(runs, rows.cols));
    if (rows.wrapped?.[i]) mode.wrapped.add(rows.start + i);
    else mode.wrapped.delete(rows.start + i);
  }
}

/**
 * The selection's text as the person saw it: the cells of the fetched lines from the anchor to
 * the cursor — not the pane's buffer now, which output may have moved on since — without a wide
 * character's right half or concealed (SGR 8) cells, trailing blanks dropped where a line ends,
 * and a line that wrapped joined with the next.
 */
export function selectionText(mode: ScrollState): string {
  const anchor = mode.anchor;
  if (!anchor) return '';
  const c = mode.cursor;
  const [start, end] =
    anchor.line < c.line || (anchor.line === c.line && anchor.col <= c.col) ? [anchor, c] : [c, anchor];
  let text = '';
  for (let line = start.line; line <= end.line; line++) {
    const span = selectionSpan(mode, line);
    const cells = mode.lines.get(line) ?? [];
    let part = '';
    if (span) {
      for (let col = span[0]; col <= span[1] && col < cells.length; col++) {
        const [attr, ch] = cells[col]!;
        if (ch === '' || ((attr >> 18) & FLAG_INVISIBLE) !== 0) continue;
        part += ch;
      }
    }
    const continues = line < end.line && mode.wrapped?.has(line + 1) === true;
    text += continues ? part : part.replace(/ +$/, '');
    if (line < end.line && !continues) text += '\n';
  }
  return text;
}

/** Fetches the lines the scroll view shows that it does not have yet, then draws. */
async function loadScrollRows(host: ScrollHost, mode: ScrollState): Promise<void> {
  if (mode.loading) return;
  const missing: number[] = [];
  for (let y = mode.top; y < Math.min(mode.total, mode.top + mode.height); y++)
    if (!mode.lines.has(y)) missing.push(y);
  if (missing.length === 0) return;
  mode.loading = true;
  try {
    // A page around what is missing, so that scrolling on rarely waits for the server.
    const start = Math.max(
      0,
      Math.min(missing[0]!, missing[missing.length - 1]! - HISTORY_PAGE + mode.height),
    );
    const rows = await host.request<HistoryRows>({
      cmd: 'history-rows',
      pane: `%${mode.pane}`,
      start,
      count: HISTORY_PAGE,
    });
    keepRows(mode, rows);
  } catch (error) {
    host.flash(errorMessage(error));
  } finally {
    mode.loading = false;
  }
  if (host.showing(mode)) {
    host.requestRender();
    void loadScrollRows(host, mode);
  }
}

/** Scrolls the view by `delta` lines (negative: up), fetching what it then shows. */
export function scrollBy(host: ScrollHost, mode: ScrollState, delta: number): void {
  scrollTo(host, mode, mode.top + delta);
}

function scrollTo(host: ScrollHost, mode: ScrollState, top: number): void {
  mode.top = Math.max(0, Math.min(mode.base, top));
  // The copy cursor moves with the view, as tmux's does.
  const bottom = Math.min(mode.total - 1, mode.top + mode.height - 1);
  mode.cursor.line = Math.max(mode.top, Math.min(bottom, mode.cursor.line));
  void loadScrollRows(host, mode);
}

/** Moves the copy cursor to `line`, `col` (kept in the buffer), scrolling the view to show it. */
function moveCursor(host: ScrollHost, mode: ScrollState, line: number, col: number): void {
  mode.cursor = {
    line: Math.max(0, Math.min(mode.total - 1, line)),
    col: Math.max(0, Math.min(mode.cols - 1, col)),
  };
  if (mode.cursor.line < mode.top) scrollTo(host, mode, mode.cursor.line);
  else if (mode.cursor.line >= mode.top + mode.height)
    scrollTo(host, mode, mode.cursor.line - mode.height + 1);
}

/** The last column of `line` that is not blank (0 for an empty or unfetched line). */
function lineEnd(mode: ScrollState, line: number): number {
  const cells = mode.lines.get(line) ?? [];
  for (let col = cells.length - 1; col >= 0; col--)
    if (cells[col]![1] !== ' ' && cells[col]![1] !== '') return col;
  return 0;
}

/**
 * The columns of `line` the selection covers, both included, or undefined when it covers none:
 * from the anchor to the cursor, whole lines in between (tmux's default, not a rectangle).
 */
export function selectionSpan(mode: ScrollState, line: number): [number, number] | undefined {
  if (!mode.anchor) return undefined;
  const a = mode.anchor;
  const c = mode.cursor;
  const [start, end] = a.line < c.line || (a.line === c.line && a.col <= c.col) ? [a, c] : [c, a];
  if (line < start.line || line > end.line) return undefined;
  return [line === start.line ? start.col : 0, line === end.line ? end.col : mode.cols - 1];
}

/**
 * Copies the selection into the session's paste buffer (and the clipboard), then leaves. Lines of
 * it not fetched yet (a jump with g) are fetched first.
 */
async function copySelection(host: ScrollHost, mode: ScrollState): Promise<void> {
  const anchor = mode.anchor;
  if (!anchor) return;
  try {
    const first = Math.min(anchor.line, mode.cursor.line);
    const last = Math.max(anchor.line, mode.cursor.line);
    for (let line = first; line <= last; line++) {
      if (mode.lines.has(line)) continue;
      keepRows(
        mode,
        await host.request<HistoryRows>({
          cmd: 'history-rows',
          pane: `%${mode.pane}`,
          start: line,
          count: HISTORY_PAGE,
        }),
      );
    }
    const whole = selectionText(mode);
    // The buffer's limit (and about an OSC 52's): a longer selection is cut, never refused.
    const text = cutToPasteLimit(whole);
    await host.request({ cmd: 'set-buffer', data: text });
    if (text !== whole) host.flash(`the selection is cut to its first ${PASTE_BUFFER_MAX_CHARS} characters`);
    if (host.showing(mode)) host.copied(text);
  } catch (error) {
    host.flash(errorMessage(error));
  }
}

/**
 * One key in scroll mode (tmux's copy mode, vi keys): the copy cursor (arrows, `h j k l`, `0`,
 * `$`), the view (PgUp/PgDn, `C-b`/`C-f`, `g`/`G`), a selection (`v` or Space starts it, `y` or
 * Enter copies it, Escape drops it), `/` search and its prompt, `n`/`N`, `q` to leave.
 */
export function scrollKey(host: ScrollHost, mode: ScrollState, token: string): void {
  if (mode.searching !== undefined) {
    if (token === '\r') {
      mode.search = mode.searching;
      mode.searching = undefined;
      void searchFrom(host, mode, mode.top - 1, -1);
    } else if (token === '\x1b') mode.searching = undefined;
    else if (token === '\x7f') mode.searching = [...mode.searching].slice(0, -1).join('');
    else if (!token.startsWith('\x1b') && token >= ' ') mode.searching += token;
    return;
  }
  const page = Math.max(1, mode.height - 1);
  const { line, col } = mode.cursor;
  switch (token) {
    case '\x1b':
      if (mode.anchor) mode.anchor = undefined;
      else host.leave();
      return;
    case 'q':
    case '\x03':
      host.leave();
      return;
    case 'k':
    case '\x1b[A':
    case '\x1bOA':
      moveCursor(host, mode, line - 1, col);
      return;
    case 'j':
    case '\x1b[B':
    case '\x1bOB':
      moveCursor(host, mode, line + 1, col);
      return;
    case 'h':
    case '\x1b[D':
    case '\x1bOD':
      moveCursor(host, mode, line, col - 1);
      return;
    case 'l':
    case '\x1b[C':
    case '\x1bOC':
      moveCursor(host, mode, line, col + 1);
      return;
    case '0':
      moveCursor(host, mode, line, 0);
      return;
    case '$':
      moveCursor(host, mode, line, lineEnd(mode, line));
      return;
    case 'v':
    case ' ':
      mode.anchor = mode.anchor ? undefined : { ...mode.cursor };
      return;
    case 'y':
    case '\r':
      if (mode.anchor) void copySelection(host, mode);
      else if (token === '\r') host.leave();
      return;
    case '\x1b[5~':
    case '\x02':
      scrollBy(host, mode, -page);
      return;
    case '\x1b[6~':
    case '\x06':
      scrollBy(host, mode, page);
      return;
    case 'g':
      scrollTo(host, mode, 0);
      return;
    case 'G':
      scrollTo(host, mode, mode.base);
      return;
    case '/':
    case '?':
      mode.searching = '';
      return;
    case 'n':
      void searchFrom(host, mode, mode.top - 1, -1);
      return;
    case 'N':
      void searchFrom(host, mode, mode.top + 1, 1);
      return;
    default:
  }
}

/** Moves the view to the next line containing the search text, upwards (-1) or downwards (1). */
async function searchFrom(host: ScrollHost, mode: ScrollState, start: number, step: -1 | 1): Promise<void> {
  const text = mode.search;
  if (!text) return;
  try {
    const { line } = await host.request<{ line: number | null }>({
      cmd: 'search-history',
      pane: `%${mode.pane}`,
      text,
      from: start,
      direction: step,
    });
    if (!host.showing(mode)) return;
    if (line === null) {
      host.flash(`"${text}" not found`);
      return;
    }
    scrollTo(host, mode, line);
    mode.cursor = { line, col: 0 };
    host.flash(`found "${text}" at line ${line + 1}`);
  } catch (error) {
    host.flash(errorMessage(error));
  }
}
