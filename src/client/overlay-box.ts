import { type ScreenLine, writeText } from './cell-render.js';

/** Colours of an overlay: its body and its border (packed attributes, cell-render.ts `packAttr`). */
export interface OverlayStyle {
  body: number;
  border: number;
}

/** Share of the screen an overlay covers, each way (centred). */
const OVERLAY_SHARE = 0.8;

/** `text` as lines of at most `width` characters: long lines wrap, as a pager's do. */
export function wrapLines(text: string, width: number): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const chars = [...line];
    if (chars.length === 0) out.push('');
    for (let i = 0; i < chars.length; i += Math.max(1, width)) out.push(chars.slice(i, i + width).join(''));
  }
  return out;
}

/**
 * A bordered, scrollable box of text over the panes (key help, command output, the task board):
 * 80 % of the screen each way, centred, its label in the top border. It draws itself into the
 * frame's lines each time (TerminalScreen then writes only what changed).
 */
export class OverlayBox {
  private content: string;
  private top = 0;
  /** Body lines shown by the last draw (for scrolling's bound). */
  private shown = 1;
  private total = 0;

  constructor(
    readonly label: string,
    content: string,
    private readonly style: OverlayStyle,
  ) {
    this.content = content;
  }

  /** Replaces the text; the scroll position stays where it was (within the new text). */
  setContent(content: string): void {
    this.content = content;
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
    const label = [...this.label].slice(0, Math.max(0, inner - 1));
    const { border } = this.style;
    const rule = '─'.repeat(Math.max(0, inner - 1 - label.length));
    writeText(lines[y], x, w, `┌─${label.join('')}${rule}┐`, border);
    for (let row = 0; row < this.shown; row++) {
      const line = lines[y + 1 + row];
      writeText(line, x, 1, '│', border);
      writeText(line, x + 1, inner, body[this.top + row] ?? '', this.style.body);
      writeText(line, x + w - 1, 1, '│', border);
    }
    writeText(lines[y + h - 1], x, w, `└${'─'.repeat(inner)}┘`, border);
  }
}
