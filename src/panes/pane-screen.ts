import type xtermHeadless from '@xterm/headless';
import { CellFlag, type CellRun, COLOR_DEFAULT, COLOR_RGB } from '../protocol/screen.js';

type HeadlessTerminal = InstanceType<typeof xtermHeadless.Terminal>;
type BufferCell = NonNullable<ReturnType<HeadlessTerminal['buffer']['active']['getNullCell']>>;
type BufferLine = NonNullable<ReturnType<HeadlessTerminal['buffer']['active']['getLine']>>;

/** xterm.js colour modes (`Attributes.CM_*` in xterm's common/buffer/Constants.ts). */
const CM_P16 = 0x1000000;
const CM_P256 = 0x2000000;
const CM_RGB = 0x3000000;

function colorOf(mode: number, value: number): number {
  if (mode === CM_P16 || mode === CM_P256) return value;
  if (mode === CM_RGB) return COLOR_RGB + value;
  return COLOR_DEFAULT;
}

function flagsOf(cell: BufferCell): number {
  let flags = 0;
  if (cell.isBold()) flags |= CellFlag.Bold;
  if (cell.isUnderline()) flags |= CellFlag.Underline;
  if (cell.isBlink()) flags |= CellFlag.Blink;
  if (cell.isInverse()) flags |= CellFlag.Inverse;
  if (cell.isInvisible()) flags |= CellFlag.Invisible;
  if (cell.isItalic()) flags |= CellFlag.Italic;
  if (cell.isDim()) flags |= CellFlag.Dim;
  if (cell.isStrikethrough()) flags |= CellFlag.Strikethrough;
  return flags;
}

/**
 * Whether two cells have the same colours and attributes. xterm's cell data keeps them in two
 * packed words, `fg` and `bg` (common/buffer/CellData.ts); when those are not there, the public
 * getters are compared.
 */
function sameStyle(a: BufferCell, b: BufferCell): boolean {
  const pa = a as unknown as { fg?: number; bg?: number };
  const pb = b as unknown as { fg?: number; bg?: number };
  if (pa.fg !== undefined && pa.bg !== undefined) return pa.fg === pb.fg && pa.bg === pb.bg;
  return (
    a.getFgColorMode() === b.getFgColorMode() &&
    a.getFgColor() === b.getFgColor() &&
    a.getBgColorMode() === b.getBgColorMode() &&
    a.getBgColor() === b.getBgColor() &&
    flagsOf(a) === flagsOf(b)
  );
}

/**
 * One buffer line as runs of same-style cells, trailing default blanks left out.
 *
 * @param line an xterm buffer line
 * @param cols the terminal's width in cells
 * @param a, b two scratch cells (`buffer.getNullCell()`), reused across calls
 */
export function encodeLine(
  line: BufferLine | undefined,
  cols: number,
  a: BufferCell,
  b: BufferCell,
): CellRun[] {
  const runs: CellRun[] = [];
  if (!line) return runs;
  // The last cell that is not a default-coloured blank: nothing after it is sent.
  let end = cols;
  while (end > 0) {
    const cell = line.getCell(end - 1, a);
    if (!cell) break;
    if (cell.getChars() !== '' || cell.getWidth() !== 1) break;
    if (!cell.isAttributeDefault() || flagsOf(cell) !== 0) break;
    end--;
  }
  let current: CellRun | undefined;
  let cells: string[] | undefined;
  let text = '';
  let previous: BufferCell | undefined;
  let scratch = a;
  const close = () => {
    if (current) {
      current[3] = cells ?? text;
      runs.push(current);
    }
  };
  for (let col = 0; col < end; col++) {
    const cell = line.getCell(col, scratch);
    if (!cell) break;
    if (!current || !previous || !sameStyle(cell, previous)) {
      close();
      current = [
        flagsOf(cell),
        colorOf(cell.getFgColorMode(), cell.getFgColor()),
        colorOf(cell.getBgColorMode(), cell.getBgColor()),
        '',
      ];
      cells = undefined;
      text = '';
    }
    const width = cell.getWidth();
    const chars = width === 0 ? '' : cell.getChars() || ' ';
    if (!cells && (width !== 1 || chars.length !== 1)) {
      // Leave the fast form: from here every cell is its own string.
      cells = [...text];
    }
    if (cells) cells.push(chars);
    else text += chars;
    previous = cell;
    scratch = scratch === a ? b : a;
  }
  close();
  return runs;
}

/**
 * The wire view of one pane's screen (issue 12: one parse per byte): the rows of the viewport as
 * encoded runs, each stamped with the version that last changed it, so that each client gets only
 * the rows changed since the version it has. Rows are re-encoded only where the emulator reported
 * them dirty (or all of them after a scroll, resize or screen switch), and a row whose encoding is
 * unchanged keeps its version.
 */
export class PaneScreen {
  /** Bumped by every change a client can see; a client that has `version` is up to date. */
  version = 0;
  private rows: string[] = [];
  private rowVersion: number[] = [];
  /** The version at which the screen was last resized or cleared: older clients get every row. */
  private baseVersion = 0;
  private cursor = '';
  private dirtyStart = Number.POSITIVE_INFINITY;
  private dirtyEnd = -1;
  private allDirty = true;
  /** Set when the emulator reports no dirty rows (an xterm without the internal event). */
  private trackEverything = false;
  private cols = 0;
  private height = 0;
  private readonly a: BufferCell;
  private readonly b: BufferCell;

  constructor(private readonly terminal: HeadlessTerminal) {
    this.a = terminal.buffer.active.getNullCell();
    this.b = terminal.buffer.active.getNullCell();
    // xterm's input handler reports the viewport rows each parsed chunk touched (its renderer's
    // refresh request; `undefined` means all of them). It is internal, so without it every row
    // counts as dirty: slower, still right.
    const core = (terminal as unknown as { _core?: { _inputHandler?: { onRequestRefreshRows?: unknown } } })
      ._core;
    const onRefresh = core?._inputHandler?.onRequestRefreshRows as
      | ((listener: (range: { start: number; end: number } | undefined) => void) => unknown)
      | undefined;
    if (typeof onRefresh === 'function') {
      onRefresh.call(core!._inputHandler, (range) => {
        if (!range) this.allDirty = true;
        else this.markDirty(range.start, range.end);
      });
    } else this.trackEverything = true;
    // A scroll needs no listener of its own: xterm marks the scrolled region dirty itself (its
    // core's buffer-service scroll handler), so the rows above arrive through the same event. A
    // listener on the public onScroll cost a `seq` flood ~10 % of the server's time (3 emitters
    // per scrolled line); test/panes/pane-screen.test.ts pins that scrolled rows are resent.
    terminal.buffer.onBufferChange(() => {
      this.allDirty = true;
    });
  }

  private markDirty(start: number, end: number): void {
    if (start < this.dirtyStart) this.dirtyStart = start;
    if (end > this.dirtyEnd) this.dirtyEnd = end;
  }

  /** Re-encodes what changed since the last call; cheap when nothing did. @returns the version */
  refresh(): number {
    const terminal = this.terminal;
    const buffer = terminal.buffer.active;
    if (terminal.cols !== this.cols || terminal.rows !== this.height) {
      this.cols = terminal.cols;
      this.height = terminal.rows;
      this.rows = new Array<string>(this.height).fill('');
      this.baseVersion = ++this.version;
      this.rowVersion = new Array<number>(this.height).fill(this.baseVersion);
      this.allDirty = true;
    }
    let start = this.dirtyStart;
    let end = Math.min(this.dirtyEnd, this.height - 1);
    if (this.allDirty || this.trackEverything) {
      start = 0;
      end = this.height - 1;
    }
    this.allDirty = false;
    this.dirtyStart = Number.POSITIVE_INFINITY;
    this.dirtyEnd = -1;
    const top = buffer.viewportY;
    for (let y = Math.max(0, start); y <= end; y++) {
      const encoded = JSON.stringify(encodeLine(buffer.getLine(top + y), this.cols, this.a, this.b));
      if (encoded !== this.rows[y]) {
        this.rows[y] = encoded;
        this.rowVersion[y] = ++this.version;
      }
    }
    const hidden =
      (terminal as unknown as { _core?: { coreService?: { isCursorHidden?: boolean } } })._core?.coreService
        ?.isCursorHidden === true;
    const cursor = `${buffer.cursorX},${buffer.cursorY},${hidden ? 0 : 1}`;
    if (cursor !== this.cursor) {
      this.cursor = cursor;
      ++this.version;
    }
    return this.version;
  }

  /**
   * The JSON of a ScreenUpdate (protocol/screen.ts) for a client that has `since` (0: nothing), or undefined
   * when it is up to date. Call {@link refresh} first.
   */
  updateSince(since: number): string | undefined {
    if (since >= this.version) return undefined;
    const full = since < this.baseVersion;
    const lines: string[] = [];
    for (let y = 0; y < this.height; y++) {
      if (full || this.rowVersion[y]! > since) lines.push(`[${y},${this.rows[y] || '[]'}]`);
    }
    const [x, y, visible] = this.cursor.split(',');
    return `{"cols":${this.cols},"rows":${this.height},"cursor":[${x},${y},${visible === '1'}],"full":${full},"lines":[${lines.join(',')}]}`;
  }

  /** Rows an update for `since` would carry (the frame budget's cost). */
  rowsSince(since: number): number {
    if (since < this.baseVersion) return this.height;
    let n = 0;
    for (let y = 0; y < this.height; y++) if (this.rowVersion[y]! > since) n++;
    return n;
  }
}
