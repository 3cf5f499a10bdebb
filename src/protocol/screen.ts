/**
 * Pane screens on the wire as cells, tmux's model (DESIGN.md, "Wire protocol"): the server's
 * emulator is the only one that parses a pane's bytes; an attached client receives the rows that
 * changed since the last frame it painted and draws them. Pure: no I/O, no emulator.
 *
 * A SCREEN frame's payload is the JSON of a {@link ScreenUpdate}. A row is a list of
 * {@link CellRun}s covering the row from column 0; cells past the last run are blank.
 */

/** Colour value meaning the terminal's default colour. */
export const COLOR_DEFAULT = -1;

/** Added to a 24-bit `0xRRGGBB` value to mark it as truecolour; 0–255 are palette indexes. */
export const COLOR_RGB = 0x1000000;

/** Attribute bits of a run (SGR 1, 4, 5, 7, 8, 3, 2, 9). */
export const CellFlag = {
  Bold: 1,
  Underline: 2,
  Blink: 4,
  Inverse: 8,
  Invisible: 16,
  Italic: 32,
  Dim: 64,
  Strikethrough: 128,
} as const;

/**
 * Cells of the same style, left to right: `[flags, fg, bg, text]`. `text` is a string when every
 * cell holds one code point of width 1 (one code point per cell, the common case); otherwise it is
 * one string per cell, where `''` is the right half of the wide character before it and `' '` a
 * blank cell. `fg`/`bg` are {@link COLOR_DEFAULT}, a palette index 0–255, or `COLOR_RGB + 0xRRGGBB`.
 */
export type CellRun = [flags: number, fg: number, bg: number, text: string | string[]];

/** One pane's screen, or the part of it that changed. */
export interface ScreenUpdate {
  /** The screen's size in cells. */
  cols: number;
  rows: number;
  /** The cursor's cell, and whether the program shows it (DECTCEM). */
  cursor: [x: number, y: number, visible: boolean];
  /** True when this update holds every row: the client drops what it had for the pane first. */
  full: boolean;
  /** Changed rows, `[row, runs]`, row 0 the top of the screen. */
  lines: Array<[row: number, runs: CellRun[]]>;
}

/**
 * Rows of a pane's history for scroll mode (the `history-rows` command): `lines[i]` is absolute
 * line `start + i` of a buffer of `total` lines whose live screen starts at line `base`.
 */
export interface HistoryRows {
  cols: number;
  total: number;
  base: number;
  start: number;
  lines: CellRun[][];
  /** Per line: whether it continues the line before it (it wrapped there), for copying text. */
  wrapped?: boolean[];
}

/**
 * The cells of one row, `width` of them, from runs: `[flags, fg, bg, ch]` each, blanks (default
 * colours) past the runs. A wide character's right half is `''`.
 *
 * @param runs a row as {@link ScreenUpdate} carries it
 * @param width cells wanted (the pane's columns)
 * @param each called for every cell left to right
 */
export function forEachCell(
  runs: readonly CellRun[],
  width: number,
  each: (col: number, flags: number, fg: number, bg: number, ch: string) => void,
): void {
  let col = 0;
  for (const [flags, fg, bg, text] of runs) {
    if (typeof text === 'string') {
      for (const ch of text) {
        if (col >= width) return;
        each(col++, flags, fg, bg, ch);
      }
    } else {
      for (const ch of text) {
        if (col >= width) return;
        each(col++, flags, fg, bg, ch);
      }
    }
  }
  for (; col < width; col++) each(col, 0, COLOR_DEFAULT, COLOR_DEFAULT, ' ');
}
