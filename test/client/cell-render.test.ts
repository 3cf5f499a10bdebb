import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import xtermHeadless from '@xterm/headless';
import {
  type CopyTarget,
  copyCells,
  DEFAULT_COLOR,
  FLAG_BOLD,
  FLAG_DIM,
  FLAG_INVERSE,
  FLAG_ITALIC,
  FLAG_STRIKETHROUGH,
  FLAG_UNDERLINE,
  packAttr,
  rgbTo256,
  type ScreenLine,
  writeText,
} from '../../src/client/cell-render.js';
import { PaneView, runsToCells } from '../../src/client/pane-view.js';
import { paletteRgb } from '../../src/client/terminal-screen.js';
import { PaneScreen } from '../../src/panes/pane-screen.js';
import type { ScreenUpdate } from '../../src/protocol/screen.js';
import { historyRows } from '../../src/server/history-rows.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

/** The 256 palette as RGB triples, to check what an index looks like. */
const palette = Array.from({ length: 256 }, (_, i) => paletteRgb(i));

const fg = (attr: number) => (attr >> 9) & 0x1ff;
const bg = (attr: number) => attr & 0x1ff;
const flags = (attr: number) => attr >> 18;

function write(terminal: HeadlessTerminal, data: string): Promise<void> {
  return new Promise((resolve) => terminal.write(data, resolve));
}

/** A screen's frame: `rows` lines of `cols` blank cells with a marker attribute. */
function screen(cols: number, rows: number, attr = packAttr(0, 7, 0)): ScreenLine[] {
  return Array.from({ length: rows }, () => {
    const line: ScreenLine = Array.from({ length: cols }, () => [attr, '?'] as [number, string]);
    line.dirty = false;
    return line;
  });
}

/** The whole screen of `terminal` as a client receives it (the server's SCREEN payload, parsed). */
function screenOf(terminal: HeadlessTerminal): ScreenUpdate {
  const screen = new PaneScreen(terminal);
  screen.refresh();
  return JSON.parse(screen.updateSince(0)!) as ScreenUpdate;
}

/**
 * What the TUI does with a pane: the server encodes its screen, the client applies the update to
 * its view and copies the view's cells into the screen's lines.
 */
function copyTerminalCells(terminal: HeadlessTerminal, target: CopyTarget): void {
  const view = new PaneView();
  view.apply(screenOf(terminal));
  copyCells(view.lines, target);
}

/** A terminal with `data` written into it, copied whole into a fresh screen. */
async function render(data: string, cols = 20, rows = 4): Promise<ScreenLine[]> {
  const terminal = new Terminal({ cols, rows, allowProposedApi: true });
  try {
    await write(terminal, data);
    const lines = screen(cols, rows);
    copyTerminalCells(terminal, { lines, x: 0, y: 0, width: cols, height: rows, fillAttr: 0 });
    return lines;
  } finally {
    terminal.dispose();
  }
}

function cell(lines: ScreenLine[], x: number, y: number): [number, string] {
  const c = lines[y]?.[x];
  assert.ok(c, `cell ${x},${y}`);
  return c;
}

describe('screen cells from the server emulator to the client screen lines', () => {
  test('plain text keeps the default colours and no flags', async () => {
    const lines = await render('hi');
    assert.equal(cell(lines, 0, 0)[1], 'h');
    assert.equal(cell(lines, 1, 0)[1], 'i');
    assert.equal(cell(lines, 2, 0)[1], ' ', 'empty cells become blanks');
    for (const x of [0, 1, 2]) {
      const [attr] = cell(lines, x, 0);
      assert.equal(fg(attr), DEFAULT_COLOR);
      assert.equal(bg(attr), DEFAULT_COLOR);
      assert.equal(flags(attr), 0);
    }
    assert.equal(lines[0]!.dirty, true);
  });

  test('a wide character lands in one cell with a blank after it', async () => {
    const lines = await render('a漢b');
    assert.deepEqual(
      lines[0]!.slice(0, 4).map(([, ch]) => ch),
      ['a', '漢', ' ', 'b'],
    );
  });

  test('a wide character cut by the window edge is drawn as a blank', async () => {
    const terminal = new Terminal({ cols: 10, rows: 2, allowProposedApi: true });
    try {
      await write(terminal, 'abc漢');
      const lines = screen(4, 1);
      copyTerminalCells(terminal, { lines, x: 0, y: 0, width: 4, height: 1, fillAttr: 0 });
      assert.deepEqual(
        lines[0]!.map(([, ch]) => ch),
        ['a', 'b', 'c', ' '],
      );
    } finally {
      terminal.dispose();
    }
  });

  test('256-colour foreground and background land in the right cells', async () => {
    const lines = await render('a\x1b[38;5;196mB\x1b[48;5;21mC\x1b[39mD\x1b[0mE');
    const [a, b, c, d, e] = [0, 1, 2, 3, 4].map((x) => cell(lines, x, 0)[0]);
    assert.deepEqual([fg(a!), bg(a!)], [DEFAULT_COLOR, DEFAULT_COLOR]);
    assert.deepEqual([fg(b!), bg(b!)], [196, DEFAULT_COLOR]);
    assert.deepEqual([fg(c!), bg(c!)], [196, 21]);
    assert.deepEqual([fg(d!), bg(d!)], [DEFAULT_COLOR, 21]);
    assert.deepEqual([fg(e!), bg(e!)], [DEFAULT_COLOR, DEFAULT_COLOR]);
  });

  test('the 16 basic colours keep their indexes', async () => {
    const lines = await render('\x1b[31;42mx\x1b[94;103my');
    assert.deepEqual([fg(cell(lines, 0, 0)[0]), bg(cell(lines, 0, 0)[0])], [1, 2]);
    assert.deepEqual([fg(cell(lines, 1, 0)[0]), bg(cell(lines, 1, 0)[0])], [12, 11]);
  });

  test('truecolour is mapped to a nearby palette colour', async () => {
    const lines = await render('\x1b[38;2;255;0;0;48;2;0;0;255mR\x1b[0m\x1b[38;2;0;135;0mG');
    const [red] = cell(lines, 0, 0);
    const [r, g, b] = palette[fg(red)]!;
    assert.ok(r >= 200 && g <= 60 && b <= 60, `fg ${fg(red)} = rgb(${r},${g},${b}) is red`);
    const [br, bgreen, bb] = palette[bg(red)]!;
    assert.ok(bb >= 200 && br <= 60 && bgreen <= 60, `bg ${bg(red)} = rgb(${br},${bgreen},${bb}) is blue`);
    // 0,135,0 is exactly a colour of the 256-colour cube, so it maps to that colour, not to an
    // approximation (blessed's own matcher returned basic green 0,205,0 for it).
    const [green] = cell(lines, 1, 0);
    assert.deepEqual(palette[fg(green)], [0, 135, 0]);
  });

  test('every palette colour of the cube and grey ramp maps to itself; others land close', () => {
    for (let index = 16; index < 256; index++) {
      const [r, g, b] = palette[index]!;
      assert.equal(rgbTo256((r << 16) | (g << 8) | b), index, `palette ${index}`);
    }
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed & 0xff;
    };
    for (let i = 0; i < 500; i++) {
      const rgb: number[] = [random(), random(), random()];
      const index = rgbTo256((rgb[0]! << 16) | (rgb[1]! << 8) | rgb[2]!);
      assert.ok(index >= 16 && index <= 255, 'never a theme-dependent basic colour');
      const got = palette[index]!;
      for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(got[c]! - rgb[c]!) <= 48, `rgb(${rgb}) → ${index} rgb(${got})`);
      }
    }
  });

  test('bold, underline, inverse, italic, dim and strikethrough set the attribute flags', async () => {
    const lines = await render(
      '\x1b[1mB\x1b[0;4mU\x1b[0;7mI\x1b[1;4;7mA\x1b[0mN\x1b[3mT\x1b[0;2mD\x1b[0;9mS\x1b[0m',
    );
    const f = [0, 1, 2, 3, 4, 5, 6, 7].map((x) => flags(cell(lines, x, 0)[0]));
    assert.deepEqual(f, [
      FLAG_BOLD,
      FLAG_UNDERLINE,
      FLAG_INVERSE,
      FLAG_BOLD | FLAG_UNDERLINE | FLAG_INVERSE,
      0,
      FLAG_ITALIC,
      FLAG_DIM,
      FLAG_STRIKETHROUGH,
    ]);
  });

  test('copies into a window at an offset, filling beyond the terminal and leaving the rest alone', async () => {
    const terminal = new Terminal({ cols: 3, rows: 2, allowProposedApi: true });
    try {
      await write(terminal, 'abc\r\ndef');
      const outside = packAttr(0, 7, 0);
      const lines = screen(8, 4, outside);
      const fill = packAttr(0, DEFAULT_COLOR, 4);
      copyTerminalCells(terminal, { lines, x: 2, y: 1, width: 5, height: 3, fillAttr: fill });
      assert.deepEqual(
        lines.map((line) => line.map(([, ch]) => ch).join('')),
        ['????????', '??abc  ?', '??def  ?', '??     ?'],
      );
      assert.equal(cell(lines, 5, 1)[0], fill, 'right of the terminal: fill attribute');
      assert.equal(cell(lines, 2, 3)[0], fill, 'below the terminal: fill attribute');
      assert.equal(cell(lines, 0, 0)[0], outside);
      assert.equal(lines[0]!.dirty, false, 'lines outside the window are not touched');
      // Copying again changes nothing, so nothing is marked dirty.
      for (const line of lines) line.dirty = false;
      copyTerminalCells(terminal, { lines, x: 2, y: 1, width: 5, height: 3, fillAttr: fill });
      assert.ok(lines.every((line) => line.dirty === false));
    } finally {
      terminal.dispose();
    }
  });

  test('history rows show the lines above the screen', async () => {
    const terminal = new Terminal({ cols: 5, rows: 2, scrollback: 10, allowProposedApi: true });
    try {
      await write(terminal, '1\r\n2\r\n3\r\n4');
      const lines = screen(5, 2);
      const history = historyRows(terminal, 2, 0);
      assert.deepEqual([history.total, history.base, history.start], [4, 2, 0]);
      copyCells(
        history.lines.map((runs) => runsToCells(runs, history.cols)),
        { lines, x: 0, y: 0, width: 5, height: 2, fillAttr: 0 },
      );
      assert.deepEqual(
        lines.map((line) => line[0]![1]),
        ['1', '2'],
      );
      copyTerminalCells(terminal, { lines, x: 0, y: 0, width: 5, height: 2, fillAttr: 0 });
      assert.deepEqual(
        lines.map((line) => line[0]![1]),
        ['3', '4'],
      );
    } finally {
      terminal.dispose();
    }
  });
});

describe('writeText and the cursor', () => {
  test('writeText clips to the width and pads with blanks', () => {
    const [line] = screen(10, 1);
    writeText(line, 2, 4, 'status bar', 99);
    assert.deepEqual(line!.map(([, ch]) => ch).join(''), '??stat????');
    writeText(line, 0, 3, 'x', 5);
    assert.deepEqual(
      line!.slice(0, 3).map(([a, ch]) => [a, ch]),
      [
        [5, 'x'],
        [5, ' '],
        [5, ' '],
      ],
    );
  });

  test("the update's cursor follows DECTCEM and the cursor's cell", async () => {
    const terminal = new Terminal({ cols: 5, rows: 2, allowProposedApi: true });
    try {
      assert.deepEqual(screenOf(terminal).cursor, [0, 0, true]);
      await write(terminal, 'ab\x1b[?25l');
      assert.deepEqual(screenOf(terminal).cursor, [2, 0, false]);
      await write(terminal, '\r\nc\x1b[?25h');
      assert.deepEqual(screenOf(terminal).cursor, [1, 1, true]);
    } finally {
      terminal.dispose();
    }
  });
});

describe('PaneScreen: only what changed goes to a client', () => {
  test('a client up to date gets nothing; after a keystroke echo, only that row', async () => {
    const terminal = new Terminal({ cols: 10, rows: 5, allowProposedApi: true });
    try {
      await write(terminal, 'one\r\ntwo\r\n$ ');
      const screen = new PaneScreen(terminal);
      const v1 = screen.refresh();
      const first = JSON.parse(screen.updateSince(0)!) as ScreenUpdate;
      assert.equal(first.full, true);
      assert.equal(first.lines.length, 5, 'a new client gets every row');
      assert.equal(screen.updateSince(v1), undefined, 'nothing changed: no update');
      await write(terminal, 'x');
      const v2 = screen.refresh();
      assert.ok(v2 > v1);
      const echo = JSON.parse(screen.updateSince(v1)!) as ScreenUpdate;
      assert.equal(echo.full, false);
      assert.deepEqual(echo.lines, [[2, [[0, -1, -1, '$ x']]]]);
      assert.deepEqual(echo.cursor, [3, 2, true]);
      assert.equal(screen.rowsSince(v1), 1);
    } finally {
      terminal.dispose();
    }
  });

  test('scrolling sends every row that moved; a resize sends a full screen', async () => {
    const terminal = new Terminal({ cols: 10, rows: 3, scrollback: 10, allowProposedApi: true });
    try {
      await write(terminal, 'a\r\nb\r\nc');
      const screen = new PaneScreen(terminal);
      const v1 = screen.refresh();
      await write(terminal, '\r\nd');
      screen.refresh();
      const scrolled = JSON.parse(screen.updateSince(v1)!) as ScreenUpdate;
      assert.deepEqual(
        scrolled.lines.map(([row, runs]) => [row, runs[0]?.[3]]),
        [
          [0, 'b'],
          [1, 'c'],
          [2, 'd'],
        ],
      );
      const v2 = screen.version;
      terminal.resize(12, 3);
      screen.refresh();
      const resized = JSON.parse(screen.updateSince(v2)!) as ScreenUpdate;
      assert.equal(resized.full, true);
      assert.equal(resized.cols, 12);
    } finally {
      terminal.dispose();
    }
  });

  test('colours, wide and combining characters survive the trip in the right cells', async () => {
    const terminal = new Terminal({ cols: 10, rows: 1, allowProposedApi: true });
    try {
      await write(terminal, '\x1b[38;2;1;2;3mé\x1b[0m漢e\u0301');
      const update = screenOf(terminal);
      const cells = new PaneView();
      cells.apply(update);
      assert.deepEqual(
        cells.lines[0]!.slice(0, 5).map(([, ch]) => ch),
        ['é', '漢', '', 'e\u0301', ' '],
      );
      assert.deepEqual(update.lines[0]![1][0]!.slice(0, 3), [0, 0x1000000 + 0x010203, -1]);
    } finally {
      terminal.dispose();
    }
  });
});
