import type xtermHeadless from '@xterm/headless';
import { blessedColors } from './blessed-colors.js';

type HeadlessTerminal = InstanceType<typeof xtermHeadless.Terminal>;
type BufferCell = NonNullable<ReturnType<HeadlessTerminal['buffer']['active']['getNullCell']>>;

/**
 * A blessed screen line: cells of `[attr, ch]` plus a dirty flag. blessed packs attributes as
 * `flags << 18 | fg << 9 | bg` with 0x1ff meaning the default colour (blessed/lib/widgets/screen.js).
 */
export type ScreenLine = Array<[number, string]> & { dirty?: boolean };

/** blessed's "default colour" index. */
export const DEFAULT_COLOR = 0x1ff;

/** blessed attribute flag bits (screen.js `attrCode`). */
export const FLAG_BOLD = 1;
export const FLAG_UNDERLINE = 2;
export const FLAG_BLINK = 4;
export const FLAG_INVERSE = 8;
export const FLAG_INVISIBLE = 16;

/** Packs flags and colours into a blessed attribute. */
export function packAttr(flags: number, fg: number, bg: number): number {
  return (flags << 18) | (fg << 9) | bg;
}

const rgbCache = new Map<number, number>();

/** A truecolour value (0xRRGGBB) mapped down to the nearest of the 256 palette colours. */
export function rgbTo256(rgb: number): number {
  let index = rgbCache.get(rgb);
  if (index === undefined) {
    index = blessedColors.match((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
    rgbCache.set(rgb, index);
  }
  return index;
}

function fgOf(cell: BufferCell): number {
  if (cell.isFgDefault()) return DEFAULT_COLOR;
  if (cell.isFgRGB()) return rgbTo256(cell.getFgColor());
  return cell.getFgColor();
}

function bgOf(cell: BufferCell): number {
  if (cell.isBgDefault()) return DEFAULT_COLOR;
  if (cell.isBgRGB()) return rgbTo256(cell.getBgColor());
  return cell.getBgColor();
}

/** The blessed attribute for one emulator cell. */
export function cellAttr(cell: BufferCell): number {
  let flags = 0;
  if (cell.isBold()) flags |= FLAG_BOLD;
  if (cell.isUnderline()) flags |= FLAG_UNDERLINE;
  if (cell.isBlink()) flags |= FLAG_BLINK;
  if (cell.isInverse()) flags |= FLAG_INVERSE;
  if (cell.isInvisible()) flags |= FLAG_INVISIBLE;
  return packAttr(flags, fgOf(cell), bgOf(cell));
}

/** Where to copy a terminal's viewport: a `width` × `height` window at (`x`, `y`) on the screen. */
export interface CopyTarget {
  lines: ScreenLine[];
  x: number;
  y: number;
  width: number;
  height: number;
  /** Attribute for cells outside the terminal (when the window is larger than the pane). */
  fillAttr: number;
  /** Absolute buffer line shown on the window's first row; default the viewport's top. */
  topLine?: number;
}

/**
 * Copies a terminal's cells into blessed's screen lines: characters (wide ones as a character
 * followed by a blank that blessed's fullUnicode drawing skips), 256 colours, truecolour mapped
 * down, bold, underline, blink, inverse, invisible. Marks changed lines dirty.
 */
export function copyTerminalCells(
  terminal: HeadlessTerminal,
  target: CopyTarget,
  scratch?: BufferCell,
): void {
  const buffer = terminal.buffer.active;
  const top = target.topLine ?? buffer.viewportY;
  const cell = scratch ?? buffer.getNullCell();
  for (let row = 0; row < target.height; row++) {
    const line = target.lines[target.y + row];
    if (!line) continue;
    const source = row < terminal.rows ? buffer.getLine(top + row) : undefined;
    for (let col = 0; col < target.width; col++) {
      const out = line[target.x + col];
      if (!out) continue;
      let attr = target.fillAttr;
      let ch = ' ';
      if (source && col < terminal.cols) {
        const c = source.getCell(col, cell);
        if (c) {
          attr = cellAttr(c);
          const width = c.getWidth();
          const chars = c.getChars();
          // Width 0 is the right half of a wide character; a wide character that would be cut at
          // the window's edge is shown as a blank instead of spilling into the next pane.
          ch = width === 0 ? ' ' : chars === '' ? ' ' : width === 2 && col === target.width - 1 ? ' ' : chars;
        }
      }
      if (out[0] !== attr || out[1] !== ch) {
        out[0] = attr;
        out[1] = ch;
        line.dirty = true;
      }
    }
  }
}

/** Writes `text` into a screen line at `x` with `attr`, clipped to `width` cells. */
export function writeText(
  line: ScreenLine | undefined,
  x: number,
  width: number,
  text: string,
  attr: number,
): void {
  if (!line) return;
  let col = 0;
  for (const ch of text) {
    if (col >= width) break;
    const out = line[x + col];
    if (out && (out[0] !== attr || out[1] !== ch)) {
      out[0] = attr;
      out[1] = ch;
      line.dirty = true;
    }
    col++;
  }
  for (; col < width; col++) {
    const out = line[x + col];
    if (out && (out[0] !== attr || out[1] !== ' ')) {
      out[0] = attr;
      out[1] = ' ';
      line.dirty = true;
    }
  }
}

/**
 * Whether the program in the terminal has hidden its cursor (DECTCEM). xterm.js keeps this in its
 * core service without a public getter, so it is read from there; a missing field means visible.
 */
export function isCursorHidden(terminal: HeadlessTerminal): boolean {
  const core = (terminal as unknown as { _core?: { coreService?: { isCursorHidden?: boolean } } })._core;
  return core?.coreService?.isCursorHidden === true;
}
