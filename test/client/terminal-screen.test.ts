import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Unicode11Addon } from '@xterm/addon-unicode11';
import xtermHeadless from '@xterm/headless';
import {
  DEFAULT_COLOR,
  FLAG_BOLD,
  FLAG_DIM,
  FLAG_ITALIC,
  FLAG_STRIKETHROUGH,
  packAttr,
  serverWidths,
  writeText,
} from '../../src/client/cell-render.js';
import { colourTo16, sgrFor, TerminalScreen } from '../../src/client/terminal-screen.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

/** A real emulator standing for the person's terminal, and the screen drawing into it. */
function setup(width = 20, height = 4, depth: 256 | 16 = 256) {
  const terminal = new Terminal({ cols: width, rows: height, allowProposedApi: true });
  const written: string[] = [];
  const screen = new TerminalScreen(
    {
      write: (data) => {
        written.push(data);
        terminal.write(data);
        return true;
      },
    },
    depth,
    width,
    height,
  );
  return { terminal, screen, written };
}

function flush(terminal: HeadlessTerminal): Promise<void> {
  return new Promise((resolve) => terminal.write('', resolve));
}

function row(terminal: HeadlessTerminal, y: number): string {
  return terminal.buffer.active.getLine(y)?.translateToString(true) ?? '';
}

const plain = packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR);

describe('TerminalScreen', () => {
  test('draws a frame into a real terminal: text, colours, bold, and the cursor where asked', async () => {
    const { terminal, screen } = setup();
    screen.enter('orchestra: s');
    writeText(screen.lines[0], 0, 5, 'hello', packAttr(FLAG_BOLD, 2, DEFAULT_COLOR));
    writeText(screen.lines[3], 5, 3, 'abc', packAttr(0, 196, 21));
    writeText(
      screen.lines[1],
      0,
      3,
      'dim',
      packAttr(FLAG_ITALIC | FLAG_DIM | FLAG_STRIKETHROUGH, DEFAULT_COLOR, DEFAULT_COLOR),
    );
    screen.render({ x: 7, y: 2 });
    await flush(terminal);
    assert.equal(row(terminal, 0), 'hello');
    assert.equal(row(terminal, 3), '     abc');
    const cell = terminal.buffer.active.getLine(0)!.getCell(0)!;
    assert.ok(cell.isBold(), 'bold');
    assert.equal(cell.getFgColor(), 2);
    const styled = terminal.buffer.active.getLine(1)!.getCell(0)!;
    assert.ok(styled.isItalic() && styled.isDim() && styled.isStrikethrough(), 'italic, dim, strikethrough');
    assert.ok(!terminal.buffer.active.getLine(0)!.getCell(0)!.isItalic(), 'no italic on the bold text');
    const coloured = terminal.buffer.active.getLine(3)!.getCell(5)!;
    assert.equal(coloured.getFgColor(), 196);
    assert.equal(coloured.getBgColor(), 21);
    assert.ok(terminal.buffer.active.getLine(3)!.getCell(8)!.isBgDefault(), 'colour stops after the text');
    assert.equal(terminal.buffer.active.cursorX, 7);
    assert.equal(terminal.buffer.active.cursorY, 2);
    assert.equal(terminal.buffer.active.type, 'alternate');
  });

  test('a second frame writes only what changed; an unchanged one writes nothing', async () => {
    const { terminal, screen, written } = setup(40, 10);
    screen.enter('t');
    for (let y = 0; y < 10; y++) writeText(screen.lines[y], 0, 40, `line ${y} ${'x'.repeat(30)}`, plain);
    const first = screen.render(undefined);
    const changed = screen.lines[4]![7]!;
    changed[1] = 'Z';
    const second = screen.render(undefined);
    assert.equal(screen.render(undefined), 0);
    await flush(terminal);
    assert.ok(first > 400, `first frame ${first} bytes`);
    assert.ok(second < 20, `one changed cell took ${second} bytes: ${JSON.stringify(written.at(-1))}`);
    assert.equal(row(terminal, 4), `line 4 Z${'x'.repeat(29)}`);
  });

  test('a wide character takes two cells; changing what follows it keeps it whole', async () => {
    const { terminal, screen } = setup(10, 2);
    serverWidths.wide.add('你');
    screen.enter('t');
    const line = screen.lines[0]!;
    line[0] = [plain, '你'];
    line[1] = [plain, ' '];
    line[2] = [plain, 'a'];
    screen.render(undefined);
    await flush(terminal);
    assert.equal(row(terminal, 0), '你a');
    // The right half changes attribute (a selection, say): the wide character is drawn again.
    line[1] = [packAttr(0, DEFAULT_COLOR, 4), ' '];
    line[2] = [plain, 'b'];
    screen.render(undefined);
    await flush(terminal);
    assert.equal(row(terminal, 0), '你b');
  });

  test('a 16-colour terminal gets the closest of the 16 colours, never 38;5', () => {
    assert.equal(colourTo16(196), 9, 'bright red');
    assert.equal(colourTo16(16), 0, 'cube black');
    assert.equal(colourTo16(231), 15, 'cube white');
    assert.equal(sgrFor(packAttr(0, 196, 21), 16), '\x1b[0;91;44m');
    assert.equal(sgrFor(packAttr(0, 196, 21), 256), '\x1b[0;38;5;196;48;5;21m');
  });

  test('resize gives a blank frame of the new size and the terminal is redrawn; leave restores it', async () => {
    const { terminal, screen } = setup(20, 4);
    screen.enter('t');
    writeText(screen.lines[1], 0, 20, 'before', plain);
    screen.render(undefined);
    terminal.resize(30, 6);
    screen.resize(30, 6);
    assert.equal(screen.lines.length, 6);
    assert.equal(screen.lines[0]!.length, 30);
    writeText(screen.lines[5], 0, 30, 'after', plain);
    screen.render(undefined);
    await flush(terminal);
    assert.equal(row(terminal, 1), '', 'the old frame is gone');
    assert.equal(row(terminal, 5), 'after');
    screen.leave();
    await flush(terminal);
    assert.equal(terminal.buffer.active.type, 'normal');
  });

  test('a notification rings and asks for a desktop notification both ways; its text cannot end them', () => {
    const { screen, written } = setup();
    screen.notify('orchestra: t-1; waits', 'ok?\x07\x1b]52;c;eA==\x9c done');
    assert.equal(
      written.at(-1),
      '\x07\x1b]9;orchestra: t-1, waits: ok?]52;c;eA== done\x07\x1b]777;notify;orchestra: t-1, waits;ok?]52;c;eA== done\x07',
    );
  });

  test('a control character in a cell reaches the terminal as a blank', async () => {
    const { terminal, screen, written } = setup(10, 2);
    screen.enter('t');
    screen.lines[0]![0] = [plain, '\x1b'];
    screen.lines[0]![1] = [plain, 'a'];
    screen.render(undefined);
    await flush(terminal);
    assert.ok(!written.at(-1)!.includes('\x1ba'), 'no ESC written from a cell');
    assert.equal(row(terminal, 0), ' a');
  });

  test('text the client writes itself takes the cells each character needs: wide, zero-width, cut at the edge', async () => {
    const { terminal, screen } = setup(12, 2);
    terminal.loadAddon(new Unicode11Addon());
    terminal.unicode.activeVersion = '11';
    screen.enter('t');
    // A name no pane has drawn yet: its widths come from East Asian Width, not the server.
    writeText(screen.lines[0], 0, 12, ' 0: 日本\u200b\u200b\u200b fix', plain);
    writeText(screen.lines[1], 0, 5, 'ab語語', plain);
    screen.render({ x: 0, y: 0 });
    await flush(terminal);
    assert.equal(row(terminal, 0), ' 0: 日本 fix');
    assert.equal(row(terminal, 1), 'ab語', 'the wide character that would be cut is left out');
    assert.equal(
      terminal.buffer.active.getLine(0)!.getCell(9)!.getChars(),
      'f',
      'fix starts where it should',
    );
    assert.equal(terminal.buffer.active.baseY, 0, 'nothing wrapped or scrolled');
  });

  test("a wide character whose right half something else covers is drawn as a blank (an overlay's border stays)", async () => {
    const { terminal, screen } = setup(6, 1);
    terminal.loadAddon(new Unicode11Addon());
    terminal.unicode.activeVersion = '11';
    screen.enter('t');
    writeText(screen.lines[0], 0, 6, 'a日b', plain);
    screen.render(undefined);
    screen.lines[0]![2] = [plain, '│'];
    screen.render(undefined);
    await flush(terminal);
    assert.equal(row(terminal, 0), 'a │b');
  });

  test('a narrow character over a wide one: the right half the terminal blanked is drawn again', async () => {
    const { terminal, screen } = setup(6, 1);
    terminal.loadAddon(new Unicode11Addon());
    terminal.unicode.activeVersion = '11';
    screen.enter('t');
    const red = packAttr(0, DEFAULT_COLOR, 1);
    screen.lines[0]![0] = [red, '日'];
    screen.lines[0]![1] = [red, ' '];
    screen.render(undefined);
    screen.lines[0]![0] = [plain, 'x'];
    screen.render(undefined);
    await flush(terminal);
    assert.equal(row(terminal, 0), 'x ');
    assert.equal(
      terminal.buffer.active.getLine(0)!.getCell(1)!.getBgColor(),
      1,
      'the right half keeps its colour',
    );
  });

  test('the SGR cache stays bounded however many attributes a pane cycles through', () => {
    const { screen } = setup(1, 1);
    screen.enter('t');
    for (let i = 0; i < 10_000; i++) {
      screen.lines[0]![0] = [packAttr(0, i % 256, (i >> 8) % 256), 'x'];
      screen.render(undefined);
    }
    assert.ok((screen as unknown as { sgr: Map<number, string> }).sgr.size <= 4096);
  });

  test('the title cannot carry control characters out of its OSC', () => {
    const { screen, written } = setup();
    screen.enter('a\x07\x1b]52;c;eA==\x07b');
    const title = written[0]!.slice(written[0]!.indexOf('\x1b]2;'));
    assert.equal(title, '\x1b]2;a]52;c;eA==b\x07');
  });
});
