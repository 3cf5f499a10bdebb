import type xtermHeadless from '@xterm/headless';

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

/** Levels of the xterm 6×6×6 colour cube (colours 16–231), per channel. */
const CUBE_LEVELS = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];

function cubeIndex(v: number): number {
  if (v < 48) return 0;
  if (v < 114) return 1;
  return Math.floor((v - 35) / 40);
}

function distanceSquared(r: number, g: number, b: number, r2: number, g2: number, b2: number): number {
  return (r - r2) ** 2 + (g - g2) ** 2 + (b - b2) ** 2;
}

/**
 * A truecolour value (0xRRGGBB) mapped down to a close colour of the xterm 256-colour cube or
 * grey ramp (16–255), as tmux does (colour.c `colour_find_rgb`). Colours 0–15 are left out because
 * terminal themes redefine them. blessed's own `colors.match` is not used: its cache is seeded with
 * 8-colour matches for every palette colour, so an exact palette colour such as #008700 came back
 * as basic green (#00cd00).
 */
export function rgbTo256(rgb: number): number {
  const r = (rgb >> 16) & 0xff;
  const g = (rgb >> 8) & 0xff;
  const b = rgb & 0xff;
  const [qr, qg, qb] = [cubeIndex(r), cubeIndex(g), cubeIndex(b)];
  const cube = 16 + 36 * qr + 6 * qg + qb;
  const [cr, cg, cb] = [CUBE_LEVELS[qr]!, CUBE_LEVELS[qg]!, CUBE_LEVELS[qb]!];
  if (cr === r && cg === g && cb === b) return cube;
  const average = Math.floor((r + g + b) / 3);
  const greyIndex = average > 238 ? 23 : Math.max(0, Math.floor((average - 3) / 10));
  const grey = 8 + 10 * greyIndex;
  return distanceSquared(grey, grey, grey, r, g, b) < distanceSquared(cr, cg, cb, r, g, b)
    ? 232 + greyIndex
    : cube;
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
