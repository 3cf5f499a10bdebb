import { CellFlag, type CellRun, COLOR_DEFAULT, COLOR_RGB, type ScreenUpdate } from '../protocol/screen.js';
import {
  DEFAULT_COLOR,
  FLAG_BLINK,
  FLAG_BOLD,
  FLAG_INVERSE,
  FLAG_INVISIBLE,
  FLAG_UNDERLINE,
  packAttr,
  rgbTo256,
} from './cell-render.js';

/** One cell: blessed's packed attribute and the character (`''` for a wide one's right half). */
export type ViewCell = [attr: number, ch: string];

function blessedColor(color: number): number {
  if (color === COLOR_DEFAULT) return DEFAULT_COLOR;
  if (color >= COLOR_RGB) return rgbTo256(color - COLOR_RGB);
  return color;
}

function blessedFlags(flags: number): number {
  let out = 0;
  if (flags & CellFlag.Bold) out |= FLAG_BOLD;
  if (flags & CellFlag.Underline) out |= FLAG_UNDERLINE;
  if (flags & CellFlag.Blink) out |= FLAG_BLINK;
  if (flags & CellFlag.Inverse) out |= FLAG_INVERSE;
  if (flags & CellFlag.Invisible) out |= FLAG_INVISIBLE;
  return out;
}

/**
 * A row of runs as drawn cells, `width` of them: 256 colours, truecolour mapped down, bold,
 * underline, blink, inverse, invisible (what blessed draws; italic, dim and strikethrough are
 * dropped). A wide character is followed by `''`, its right half.
 */
export function runsToCells(runs: readonly CellRun[], width: number): ViewCell[] {
  const cells: ViewCell[] = new Array(width);
  let col = 0;
  for (const [flags, fg, bg, text] of runs) {
    const attr = packAttr(blessedFlags(flags), blessedColor(fg), blessedColor(bg));
    for (const ch of text) {
      if (col >= width) break;
      cells[col++] = [attr, ch];
    }
  }
  const blank = packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR);
  for (; col < width; col++) cells[col] = [blank, ' '];
  return cells;
}

/**
 * The client's copy of one pane's screen: drawn cells per row as the server sent them (SCREEN
 * frames) and the cursor. No emulator: the
 * server's is the only one (issue 12).
 */
export class PaneView {
  cols = 0;
  rows = 0;
  cursor = { x: 0, y: 0, visible: false };
  lines: ViewCell[][] = [];

  /** Applies a SCREEN update. */
  apply(update: ScreenUpdate): void {
    if (update.full || update.cols !== this.cols || update.rows !== this.rows) {
      this.cols = update.cols;
      this.rows = update.rows;
      const blank = runsToCells([], this.cols);
      this.lines = Array.from({ length: this.rows }, () => blank.slice());
    }
    for (const [row, runs] of update.lines) {
      if (row < 0 || row >= this.rows) continue;
      this.lines[row] = runsToCells(runs, this.cols);
    }
    const [x, y, visible] = update.cursor;
    this.cursor = { x, y, visible };
  }
}
