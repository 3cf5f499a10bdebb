import { cellWidth, type ScreenLine, textWidth, writeText } from './cell-render.js';

/** Colours of an overlay: its body and its border (packed attributes, cell-render.ts `packAttr`). */
export interface OverlayStyle {
  body: number;
  border: number;
}

/** Share of the screen an overlay covers, each way (centred). */
const OVERLAY_SHARE = 0.8;

/** A line of an overlay with its own attribute (a diff's added line in green); default the body's. */
export interface OverlayLine {
  text: string;
  attr?: number;
}

/**
 * Lines of at most `width` cells (cell-render.ts `cellWidth`: a wide character takes two): long
 * lines wrap, as a pager's do, keeping their attribute.
 */
export function wrapLines(lines: readonly OverlayLine[], width: number): OverlayLine[] {
  const out: OverlayLine[] = [];
  const limit = Math.max(2, width);
  for (const line of lines) {
    let text = '';
    let used = 0;
    let pushed = false;
    for (const ch of line.text) {
      const w = cellWidth(ch);
      if (used + w > limit) {
        out.push({ ...line, text });
        pushed = true;
        text = '';
        used = 0;
      }
      text += ch;
      used += w;
    }
    if (text || !pushed) out.push({ ...line, text });
  }
  return out;
}

function asLines(content: string | readonly OverlayLine[]): readonly OverlayLine[] {
  return typeof content === 'string' ? content.split('\n').map((text) => ({ text })) : content;
}

/**
 * A bordered, scrollable box of text over the panes (key help, command output, the task board, a
 * diff):
 * 80 % of the screen each way, centred, its label in the top border. It draws itself into the
 * frame's lines each time (TerminalScreen then writes only what changed).
 */
export class OverlayBox {
  private content: readonly OverlayLine[];
  private top = 0;
  /** Body lines shown by the last draw (for scrolling's bound). */
  private shown = 1;
  private total = 0;

  /** @param content text (lines split at `\n`), or lines with attributes of their own */
  constructor(
    readonly label: string,
    content: string | readonly OverlayLine[],
    private readonly style: OverlayStyle,
  ) {
    this.content = asLines(content);
  }

  /** Replaces the text; the scroll position stays where it was (within the new text). */
  setContent(content: string | readonly OverlayLine[]): void {
    this.content = asLines(content);
  }

  /** Body lines a page scrolls (what one screenful shows, less one line kept for context). */
  get page(): number {
    return Math.max(1, this.shown - 1);
  }

  /** Scrolls by `lines` (negative: up), kept between the first line and the last screenful. */
  scroll(lines: number): void {
    this.top = Math.max(0, Math.min(this.top + lines, Math.max(0, this.total - this.shown)));
  }

  /** Draws the box into `lines`, a `width` × `height` screen. */
  draw(lines: ScreenLine[], width: number, height: number): void {
    const w = Math.max(4, Math.floor(width * OVERLAY_SHARE));
    const h = Math.max(3, Math.floor(height * OVERLAY_SHARE));
    const x = Math.max(0, Math.floor((width - w) / 2));
    const y = Math.max(0, Math.floor((height - h) / 2));
    const inner = w - 2;
    const body = wrapLines(this.content, inner);
    this.total = body.length;
    this.shown = h - 2;
    this.top = Math.max(0, Math.min(this.top, Math.max(0, this.total - this.shown)));
    const label = wrapLines([{ text: this.label }], Math.max(2, inner - 1))[0]?.text ?? '';
    const { border } = this.style;
    const rule = '─'.repeat(Math.max(0, inner - 1 - textWidth(label)));
    writeText(lines[y], x, w, `┌─${label}${rule}┐`, border);
    for (let row = 0; row < this.shown; row++) {
      const line = lines[y + 1 + row];
      writeText(line, x, 1, '│', border);
      const shown = body[this.top + row];
      writeText(line, x + 1, inner, shown?.text ?? '', shown?.attr ?? this.style.body);
      writeText(line, x + w - 1, 1, '│', border);
    }
    writeText(lines[y + h - 1], x, w, `└${'─'.repeat(inner)}┘`, border);
  }
}
