import {
  cellWidth,
  DEFAULT_COLOR,
  FLAG_BLINK,
  FLAG_BOLD,
  FLAG_DIM,
  FLAG_INVERSE,
  FLAG_INVISIBLE,
  FLAG_ITALIC,
  FLAG_STRIKETHROUGH,
  FLAG_UNDERLINE,
  type ScreenLine,
} from './cell-render.js';

/** Where the terminal's cursor goes after a frame, 0-based cell; `undefined` hides it. */
export type CursorPlace = { x: number; y: number } | undefined;

/** The part of a Node write stream the screen writes to (process.stdout, or a test's sink). */
export interface ScreenOutput {
  write(data: string): boolean;
}

/** Colours the terminal draws: the 256 palette, or the 16 ANSI colours (TERM=xterm, screen). */
export type ColourDepth = 256 | 16;

/** The default attribute (cell-render.ts `packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR)`). */
const BLANK_ATTR = (DEFAULT_COLOR << 9) | DEFAULT_COLOR;

/** What a cleared terminal shows in every cell: a blank in the default colours. */
const CLEARED: readonly [number, string] = [BLANK_ATTR, ' '];

/**
 * RGB of 256-palette entry `i`: xterm's default 16 ANSI colours (its XTerm-col.ad), the 6×6×6 cube
 * and the 24 greys (256colres.pl).
 */
export function paletteRgb(i: number): [number, number, number] {
  const ansi: Array<[number, number, number]> = [
    [0, 0, 0],
    [205, 0, 0],
    [0, 205, 0],
    [205, 205, 0],
    [0, 0, 238],
    [205, 0, 205],
    [0, 205, 205],
    [229, 229, 229],
    [127, 127, 127],
    [255, 0, 0],
    [0, 255, 0],
    [255, 255, 0],
    [92, 92, 255],
    [255, 0, 255],
    [0, 255, 255],
    [255, 255, 255],
  ];
  if (i < 16) return ansi[i]!;
  if (i >= 232) {
    const v = 8 + 10 * (i - 232);
    return [v, v, v];
  }
  const levels = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];
  const n = i - 16;
  return [levels[Math.floor(n / 36)]!, levels[Math.floor(n / 6) % 6]!, levels[n % 6]!];
}

/**
 * A 256-palette colour as the closest of the 16 ANSI colours (by RGB distance), for a terminal
 * that draws only those — as tmux's `colour_256to16` does with its table.
 */
export function colourTo16(colour: number): number {
  if (colour < 16) return colour;
  const [r, g, b] = paletteRgb(colour);
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 16; i++) {
    const [r2, g2, b2] = paletteRgb(i);
    const distance = (r - r2) ** 2 + (g - g2) ** 2 + (b - b2) ** 2;
    if (distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  }
  return best;
}

function colourCode(
  colour: number,
  depth: ColourDepth,
  base: number,
  brightBase: number,
  ext: number,
): string {
  const c = depth === 16 ? colourTo16(colour) : colour;
  if (c < 8) return `;${base + c}`;
  if (c < 16) return `;${brightBase + c - 8}`;
  return `;${ext};5;${c}`;
}

/**
 * The SGR sequence that sets a packed attribute (cell-render.ts `packAttr`) from any state: it
 * starts with a reset, so no earlier attribute leaks into the cell.
 */
export function sgrFor(attr: number, depth: ColourDepth): string {
  const flags = (attr >> 18) & 0x1ff;
  const fg = (attr >> 9) & 0x1ff;
  const bg = attr & 0x1ff;
  let out = '\x1b[0';
  if (flags & FLAG_BOLD) out += ';1';
  if (flags & FLAG_DIM) out += ';2';
  if (flags & FLAG_ITALIC) out += ';3';
  if (flags & FLAG_UNDERLINE) out += ';4';
  if (flags & FLAG_BLINK) out += ';5';
  if (flags & FLAG_INVERSE) out += ';7';
  if (flags & FLAG_INVISIBLE) out += ';8';
  if (flags & FLAG_STRIKETHROUGH) out += ';9';
  if (fg !== DEFAULT_COLOR) out += colourCode(fg, depth, 30, 90, 38);
  if (bg !== DEFAULT_COLOR) out += colourCode(bg, depth, 40, 100, 48);
  return `${out}m`;
}

/** Distinct attributes whose SGR sequence is kept: past this the cache starts again (a pane cycling colours cannot grow it). */
const SGR_CACHE_MAX = 4096;

/** What `painted` holds for a cell the terminal may show anything in: never equal to a frame's cell. */
const UNKNOWN: readonly [number, string] = [-1, ''];

function blankLine(width: number, attr: number): ScreenLine {
  return Array.from({ length: width }, () => [attr, ' '] as [number, string]);
}

/**
 * The client's own terminal, drawn as tmux's tty.c draws it: `lines` is the frame being built
 * (cells of a packed attribute and a character), `painted` what the terminal shows, and `render`
 * writes only the cells that differ — one write per frame, cursor moves and SGR changes only where
 * needed. The screen owns the alternate screen: `enter` switches to it and `leave` restores the
 * person's screen and cursor.
 *
 * A wide character's right half is the blank `copyCells` puts after it (the terminal's cursor steps
 * over it); widths are cell-render.ts `cellWidth`'s (the server's emulator's where it drew them).
 */
export class TerminalScreen {
  /** The frame being built, `height` lines of `width` cells. */
  lines: ScreenLine[] = [];
  private painted: Array<Array<readonly [number, string]>> = [];
  private readonly sgr = new Map<number, string>();
  private cursorShown = false;
  private cursorX = -1;
  private cursorY = -1;
  private entered = false;

  /**
   * @param output where the escape sequences go (process.stdout)
   * @param depth colours the terminal draws; 256-palette colours are mapped down for a 16-colour one
   */
  constructor(
    private readonly output: ScreenOutput,
    readonly depth: ColourDepth,
    public width: number,
    public height: number,
  ) {
    this.allocate();
  }

  /** Switches to the alternate screen, clears it, hides the cursor and sets the window title. */
  enter(title: string): void {
    this.entered = true;
    // Title: OSC 2, with C0 controls taken out so a session name cannot end the sequence early.
    const safeTitle = [...title].filter((ch) => ch >= ' ' && (ch < '\x7f' || ch > '\x9f')).join('');
    // The scroll region is reset too: a program before may have left one set.
    this.output.write(`\x1b[?1049h\x1b[r\x1b[?25l\x1b[0m\x1b[H\x1b[2J\x1b]2;${safeTitle}\x07`);
    this.cursorShown = false;
    this.forgetPainted();
  }

  /**
   * Rings the terminal's bell and asks it for a desktop notification, both ways terminals take it:
   * OSC 9 (iTerm2, Windows Terminal, kitty, WezTerm) and OSC 777 `notify` (urxvt, foot, Ghostty,
   * VTE). They pass over SSH as any output does; a terminal that knows neither ignores them.
   * `title` and `body` lose every control character (they cannot end the sequence early) and
   * the title its `;` (OSC 777's separator).
   */
  notify(title: string, body: string): void {
    const clean = (text: string) =>
      [...text].filter((ch) => ch >= ' ' && (ch < '\x7f' || ch > '\x9f')).join('');
    const t = clean(title).replaceAll(';', ',');
    const b = clean(body);
    this.output.write(`\x07\x1b]9;${t}: ${b}\x07\x1b]777;notify;${t};${b}\x07`);
  }

  /**
   * Puts `text` on the person's clipboard with OSC 52 (xterm's "manipulate selection data"), which
   * travels over SSH; terminals that do not allow it ignore it. Base64 carries any text safely.
   */
  copyToClipboard(text: string): void {
    this.output.write(`\x1b]52;c;${Buffer.from(text, 'utf8').toString('base64')}\x07`);
  }

  /** Leaves the alternate screen: attributes reset, cursor shown, the person's screen back. */
  leave(): void {
    if (!this.entered) return;
    this.entered = false;
    this.output.write('\x1b[0m\x1b[?25h\x1b[?1049l');
  }

  /** Takes a new terminal size: a fresh blank frame, and the terminal cleared so all is redrawn. */
  resize(width: number, height: number): void {
    this.width = Math.max(1, width);
    this.height = Math.max(1, height);
    this.allocate();
    if (this.entered) this.output.write('\x1b[0m\x1b[H\x1b[2J');
  }

  /**
   * Writes what changed since the last frame, then places the cursor (`undefined` hides it).
   * @returns the bytes written (0 when nothing changed)
   */
  render(cursor: CursorPlace): number {
    let out = '';
    let attr = -1;
    // Where the terminal's cursor is while drawing (-1: not known since the frame began).
    let cx = -1;
    let cy = -1;
    const draw = (line: ScreenLine, painted: Array<readonly [number, string]>, at: number, y: number) => {
      const c = line[at]!;
      if (cx !== at || cy !== y) out += `\x1b[${y + 1};${at + 1}H`;
      if (c[0] !== attr) {
        attr = c[0];
        let code = this.sgr.get(attr);
        if (code === undefined) {
          code = sgrFor(attr, this.depth);
          if (this.sgr.size >= SGR_CACHE_MAX) this.sgr.clear();
          this.sgr.set(attr, code);
        }
        out += code;
      }
      // A wide character is drawn only over the blank the frame keeps for its right half: one cut
      // by the screen's edge, or whose right half something else covers (an overlay's border), is
      // shown as a blank, as tmux does.
      const wide = cellWidth(c[1]) === 2;
      const fits = !wide || (at + 1 < this.width && line[at + 1]![1] === ' ');
      // A narrow character over a wide one's left half makes the terminal blank its right half too,
      // in whatever attribute it likes: that cell is drawn again.
      const was = painted[at]!;
      if (!wide && at + 1 < this.width && cellWidth(was[1]) === 2) painted[at + 1] = UNKNOWN;
      // A control character never reaches the terminal from a cell, whoever put it there.
      const code = c[1].charCodeAt(0);
      out += fits && c[1] && code >= 0x20 && (code < 0x7f || code > 0x9f) ? c[1] : ' ';
      painted[at] = [c[0], c[1]];
      cx = at + (wide && fits ? 2 : 1);
      cy = y;
      // The terminal drew the right half too: it now shows what the frame has there (a blank).
      if (wide && fits) painted[at + 1] = [line[at + 1]![0], line[at + 1]![1]];
    };
    for (let y = 0; y < this.height; y++) {
      const line = this.lines[y]!;
      const painted = this.painted[y]!;
      line.dirty = false;
      for (let x = 0; x < this.width; x++) {
        const cell = line[x]!;
        const old = painted[x]!;
        if (old[0] === cell[0] && old[1] === cell[1]) continue;
        // A cell under the right half of a wide character that stays: drawing it alone would
        // break the wide one, so the wide one is drawn again (covering this cell).
        const left = x > 0 ? line[x - 1]! : undefined;
        if (left && cellWidth(left[1]) === 2 && painted[x - 1]![1] === left[1]) {
          draw(line, painted, x - 1, y);
          // It no longer fits (this cell is no blank now): drawn as a blank, and this cell too.
          if (cx <= x) draw(line, painted, x, y);
        } else draw(line, painted, x, y);
        if (cy === y && cx > x + 1) x = cx - 1;
      }
    }
    const drew = out.length > 0;
    // The cursor is hidden while cells are drawn, so it never flickers across the screen.
    const head = drew && this.cursorShown ? '\x1b[?25l' : '';
    if (cursor && cursor.x >= 0 && cursor.y >= 0 && cursor.x < this.width && cursor.y < this.height) {
      if (drew || cursor.x !== this.cursorX || cursor.y !== this.cursorY) {
        out += `\x1b[${cursor.y + 1};${cursor.x + 1}H`;
      }
      if (drew || !this.cursorShown) out += '\x1b[?25h';
      this.cursorX = cursor.x;
      this.cursorY = cursor.y;
      this.cursorShown = true;
    } else if (this.cursorShown) {
      out += '\x1b[?25l';
      this.cursorShown = false;
    }
    if (out.length === 0) return 0;
    const frame = head + out;
    this.output.write(frame);
    return frame.length;
  }

  private allocate(): void {
    this.lines = Array.from({ length: this.height }, () => blankLine(this.width, BLANK_ATTR));
    this.forgetPainted();
  }

  /** What the terminal shows right after a clear (`ESC [ 2 J` with attributes reset): blanks. */
  private forgetPainted(): void {
    this.painted = Array.from({ length: this.height }, () =>
      Array.from({ length: this.width }, () => CLEARED),
    );
    this.cursorX = -1;
    this.cursorY = -1;
  }
}
