import type xtermHeadless from '@xterm/headless';

type HeadlessTerminal = InstanceType<typeof xtermHeadless.Terminal>;

/** A position in a pane's buffer: absolute line (0 = the oldest kept) and column. */
export interface BufferPoint {
  line: number;
  col: number;
}

/** The most characters a copy keeps (a terminal's OSC 52 takes about this much at most). */
export const PASTE_BUFFER_MAX_CHARS = 256 * 1024;

/** Bracketed paste's end marker: text may not carry it, or it would end the paste early. */
const PASTE_END = '\x1b[201~';

/**
 * The text between `from` and `to` (either order, both ends included), as tmux's copy mode takes a
 * selection: whole cells, trailing blanks of each line dropped, a line that wrapped onto the next
 * joined with it, others ended by `\n`. Cut at {@link PASTE_BUFFER_MAX_CHARS}.
 */
export function selectionText(terminal: HeadlessTerminal, from: BufferPoint, to: BufferPoint): string {
  const [start, end] =
    from.line < to.line || (from.line === to.line && from.col <= to.col) ? [from, to] : [to, from];
  const buffer = terminal.buffer.active;
  const last = Math.min(end.line, buffer.length - 1);
  let text = '';
  for (let y = start.line; y <= last; y++) {
    const line = buffer.getLine(y);
    if (!line) continue;
    const first = y === start.line ? start.col : 0;
    const stop = y === end.line ? end.col + 1 : terminal.cols;
    const next = buffer.getLine(y + 1);
    const wraps = y < last && next?.isWrapped === true;
    const cells = line.translateToString(true, first, stop);
    // Blanks before a wrap are text; at a line's end they are only the screen's width.
    text += wraps ? cells : cells.replace(/ +$/, '');
    if (y < last && !wraps) text += '\n';
    if (text.length > PASTE_BUFFER_MAX_CHARS) return text.slice(0, PASTE_BUFFER_MAX_CHARS);
  }
  return text;
}

/**
 * The bytes that type `text` into a pane as tmux's `paste-buffer` does: line feeds become carriage
 * returns (Enter), and when the pane's program asked for bracketed paste (mode 2004) the text is
 * wrapped in its markers, with any end marker inside taken out so pasted text cannot end the paste
 * and be read as typed keys.
 */
export function pasteBytes(text: string, bracketed: boolean): string {
  const body = text.replace(/\r?\n/g, '\r');
  if (!bracketed) return body;
  return `\x1b[200~${body.split(PASTE_END).join('')}\x1b[201~`;
}
