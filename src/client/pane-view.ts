import { CellFlag, type CellRun, COLOR_DEFAULT, COLOR_RGB, type ScreenUpdate } from '../protocol/screen.js';
import { DEFAULT_COLOR, packAttr, rgbTo256, serverWidths } from './cell-render.js';

/** Below U+1100 no character takes two cells. */
const WIDE_FROM = 0x1100;

/** One cell: its packed attribute (cell-render.ts `packAttr`) and the character (`''` for a wide one's right half). */
export type ViewCell = [attr: number, ch: string];

function paletteColor(color: number): number {
  if (color === COLOR_DEFAULT) return DEFAULT_COLOR;
  if (color >= COLOR_RGB) return rgbTo256(color - COLOR_RGB);
  return color;
}

/** The protocol's `CellFlag` bits the attribute keeps (cell-render.ts uses the same bits). */
const ATTR_FLAGS =
  CellFlag.Bold |
  CellFlag.Underline |
  CellFlag.Blink |
  CellFlag.Inverse |
  CellFlag.Invisible |
  CellFlag.Italic |
  CellFlag.Dim |
  CellFlag.Strikethrough;

const BLANK = packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR);

/** Sets cell `col` of `cells` (reusing its pair when there is one) and returns the next column. */
function setCell(cells: ViewCell[], col: number, attr: number, ch: string): number {
  const cell = cells[col];
  if (cell) {
    cell[0] = attr;
    cell[1] = ch;
  } else cells[col] = [attr, ch];
  return col + 1;
}

/**
 * A row of runs as cells, `width` of them: 256 colours, truecolour mapped down, bold, underline,
 * blink, inverse, invisible, italic, dim, strikethrough. A wide character is followed by `''`, its
 * right half. Fills `into` in place when given (no allocation per cell on the hot path). Plain
 * loops, no closures or string iterators: attach converts every visible cell before the JIT has
 * warmed up.
 */
export function runsToCells(runs: readonly CellRun[], width: number, into?: ViewCell[]): ViewCell[] {
  const cells: ViewCell[] = into && into.length === width ? into : new Array(width);
  let col = 0;
  for (let r = 0; r < runs.length && col < width; r++) {
    const [flags, fg, bg, text] = runs[r]!;
    const attr = packAttr(flags & ATTR_FLAGS, paletteColor(fg), paletteColor(bg));
    if (typeof text === 'string') {
      // One code point per cell: a surrogate pair is one character.
      for (let i = 0; i < text.length && col < width; i++) {
        const code = text.charCodeAt(i);
        if (code < WIDE_FROM) {
          col = setCell(cells, col, attr, text[i]!);
          continue;
        }
        const pair = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length;
        const ch = pair ? text.slice(i, i + 2) : text[i]!;
        if (pair) i++;
        serverWidths.narrow.add(ch);
        col = setCell(cells, col, attr, ch);
      }
    } else {
      for (let i = 0; i < text.length && col < width; i++) {
        const ch = text[i]!;
        if (ch.charCodeAt(0) >= WIDE_FROM)
          (text[i + 1] === '' ? serverWidths.wide : serverWidths.narrow).add(ch);
        col = setCell(cells, col, attr, ch);
      }
    }
  }
  while (col < width) col = setCell(cells, col, BLANK, ' ');
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
  /** Rows changed since the last {@link takeDirty}; every row when `allDirty`. */
  private dirty = new Set<number>();
  private allDirty = true;

  /** Applies a SCREEN update. */
  apply(update: ScreenUpdate): void {
    if (update.full || update.cols !== this.cols || update.rows !== this.rows) {
      this.cols = update.cols;
      this.rows = update.rows;
      this.lines = Array.from({ length: this.rows }, () => runsToCells([], this.cols));
      this.allDirty = true;
    }
    for (const [row, runs] of update.lines) {
      if (row < 0 || row >= this.rows) continue;
      runsToCells(runs, this.cols, this.lines[row]);
      this.dirty.add(row);
    }
    const [x, y, visible] = update.cursor;
    this.cursor = { x, y, visible };
  }

  /** The rows to draw again since the last call (`'all'`: every one), and forgets them. */
  takeDirty(): ReadonlySet<number> | 'all' {
    const dirty = this.allDirty ? 'all' : this.dirty;
    this.allDirty = false;
    if (dirty !== 'all') this.dirty = new Set();
    else this.dirty.clear();
    return dirty;
  }
}
