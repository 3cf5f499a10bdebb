import { eastAsianWidth } from 'get-east-asian-width';
/**
 * A line of the client's frame (terminal-screen.ts): cells of `[attr, ch]` plus a dirty flag.
 * Attributes are packed as `flags << 18 | fg << 9 | bg`, colours as 256-palette indices with 0x1ff
 * meaning the terminal's default colour (the packing blessed used, kept when the client stopped
 * using it).
 */
export type ScreenLine = Array<[number, string]> & { dirty?: boolean };

/**
 * Characters the server's emulator drew two cells wide, and ones it drew one cell wide, from U+1100
 * up: the widths of record (Unicode 11, the server's), filled as pane rows arrive (pane-view.ts).
 */
export const serverWidths = { wide: new Set<string>(), narrow: new Set<string>() };

/** Marks, format characters (U+200B and the like) and variation selectors take no cell of their own. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]/u;

/**
 * Cells `ch` (one character: a code point, maybe with marks) takes on the terminal: the server's
 * width when its emulator drew it, else East Asian Width (wide and fullwidth take 2, as in
 * Unicode 11's wcwidth), 0 for controls and zero-width characters, 1 for the rest.
 */
export function cellWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  if (serverWidths.wide.has(ch)) return 2;
  if (serverWidths.narrow.has(ch)) return 1;
  if (ZERO_WIDTH.test(ch)) return 0;
  return eastAsianWidth(cp) === 2 ? 2 : 1;
}

/** Cells `text` takes when written with {@link writeText}. */
export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += cellWidth(ch);
  return width;
}

/** The "default colour" index: the terminal's own foreground or background. */
export const DEFAULT_COLOR = 0x1ff;

/** Attribute flag bits (the same bits as the protocol's `CellFlag`). */
export const FLAG_BOLD = 1;
export const FLAG_UNDERLINE = 2;
export const FLAG_BLINK = 4;
export const FLAG_INVERSE = 8;
export const FLAG_INVISIBLE = 16;
export const FLAG_ITALIC = 32;
export const FLAG_DIM = 64;
export const FLAG_STRIKETHROUGH = 128;

/** Packs flags and colours (256-palette indices or DEFAULT_COLOR) into an attribute. */
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
 * terminal themes redefine them.
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

/** Where to copy a pane's cells: a `width` × `height` window at (`x`, `y`) on the screen. */
export interface CopyTarget {
  lines: ScreenLine[];
  x: number;
  y: number;
  width: number;
  height: number;
  /** Attribute for cells outside the pane (when the window is larger than the pane). */
  fillAttr: number;
}

/**
 * Copies a pane's cells (pane-view.ts: what the server sent, attributes packed) into the frame's
 * lines, `rows[0]` onto the window's first row. A wide character's right half (`''`) becomes the
 * blank the terminal's cursor steps over; one that would be cut at the window's edge is shown as a
 * blank instead of spilling into the next pane; cells outside the pane get `fillAttr`. Marks
 * changed lines dirty. With `only`, just those rows are copied (the rest are unchanged).
 */
export function copyCells(
  rows: ReadonlyArray<ReadonlyArray<readonly [number, string]>>,
  target: CopyTarget,
  only?: ReadonlySet<number>,
): void {
  for (let row = 0; row < target.height; row++) {
    if (only && !only.has(row)) continue;
    const line = target.lines[target.y + row];
    if (!line) continue;
    const source = rows[row];
    for (let col = 0; col < target.width; col++) {
      const out = line[target.x + col];
      if (!out) continue;
      let attr = target.fillAttr;
      let ch = ' ';
      const c = source?.[col];
      if (c) {
        attr = c[0];
        // '' is a wide character's right half: the screen steps over the blank put there. A wide character whose right half the window would cut is drawn as a blank.
        ch = c[1] === '' || (col === target.width - 1 && source![col + 1]?.[1] === '') ? ' ' : c[1];
      }
      if (out[0] !== attr || out[1] !== ch) {
        out[0] = attr;
        out[1] = ch;
        line.dirty = true;
      }
    }
  }
}

/**
 * Writes `text` into a screen line at `x` with `attr`, clipped to `width` cells, by the cells each
 * character takes ({@link cellWidth}): a wide one is followed by the blank the terminal's cursor
 * steps over (as `copyCells` puts it), one that would be cut at the edge is left out, and a
 * zero-width one is dropped (it cannot have a cell of its own). The rest of `width` is blanked.
 */
export function writeText(
  line: ScreenLine | undefined,
  x: number,
  width: number,
  text: string,
  attr: number,
): void {
  if (!line) return;
  const put = (col: number, ch: string) => {
    const out = line[x + col];
    if (out && (out[0] !== attr || out[1] !== ch)) {
      out[0] = attr;
      out[1] = ch;
      line.dirty = true;
    }
  };
  let col = 0;
  for (const ch of text) {
    const w = cellWidth(ch);
    if (w === 0) continue;
    if (col + w > width) break;
    put(col, ch);
    if (w === 2) put(col + 1, ' ');
    col += w;
  }
  for (; col < width; col++) put(col, ' ');
}
