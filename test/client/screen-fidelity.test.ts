import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import xtermHeadless from '@xterm/headless';
import { rgbTo256 } from '../../src/client/cell-render.js';
import { screenLines, type TmuxTerminal } from '../support/tmux.js';
import { TuiWorld } from './tui-fixture.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

/**
 * The output of a real Claude Code session (2.1.332, its native binary from the npm registry),
 * recorded with `script` at 100 × 30 inside tmux while it ran against the project's scripted
 * Messages API server, on the alternate screen: the API-key prompt, the welcome banner, a Write
 * tool call, a reply with bold text, a box-drawn table, wide characters and an emoji (cut before
 * its exit, which leaves the alternate screen).
 */
const RECORDING = fileURLToPath(new URL('../fixtures/recordings/claude-code-2.1.332.out', import.meta.url));

const COLS = 100;
const BODY_ROWS = 30;

/** A cell as both sides can be compared: 256 colours; bold, underline, inverse, italic, dim, strikethrough. */
interface Cell {
  ch: string;
  fg: string;
  bg: string;
  flags: string;
}

function colour(
  mode: 'fg' | 'bg',
  cell: NonNullable<ReturnType<HeadlessTerminal['buffer']['active']['getNullCell']>>,
): string {
  const isDefault = mode === 'fg' ? cell.isFgDefault() : cell.isBgDefault();
  if (isDefault) return 'default';
  const rgb = mode === 'fg' ? cell.isFgRGB() : cell.isBgRGB();
  const value = mode === 'fg' ? cell.getFgColor() : cell.getBgColor();
  return String(rgb ? rgbTo256(value) : value);
}

/**
 * Escape-sequence text (a `capture-pane -e`) replayed into an emulator and read back cell by cell.
 * `lineStartsClean`: each line's attributes start from the defaults (tmux) rather than carry on
 * from the line before (xterm's serialize addon, the server's capture).
 */
async function cellsOf(text: string, rows: number, lineStartsClean: boolean): Promise<Cell[][]> {
  const terminal = new Terminal({ cols: COLS, rows, allowProposedApi: true });
  try {
    const lines = text.split('\n').slice(0, rows);
    const join = lineStartsClean ? '\x1b[0m\r\n' : '\r\n';
    await new Promise<void>((resolve) => terminal.write(lines.join(join), resolve));
    const out: Cell[][] = [];
    const buffer = terminal.buffer.active;
    const scratch = buffer.getNullCell();
    for (let y = 0; y < rows; y++) {
      const line = buffer.getLine(y);
      const row: Cell[] = [];
      for (let x = 0; x < COLS; x++) {
        const cell = line?.getCell(x, scratch);
        if (!cell) {
          row.push({ ch: ' ', fg: 'default', bg: 'default', flags: '' });
          continue;
        }
        const ch = cell.getWidth() === 0 ? '' : cell.getChars() || ' ';
        const flags = `${cell.isBold() ? 'b' : ''}${cell.isUnderline() ? 'u' : ''}${cell.isInverse() ? 'i' : ''}${cell.isItalic() ? 't' : ''}${cell.isDim() ? 'd' : ''}${cell.isStrikethrough() ? 's' : ''}`;
        // A blank's foreground is invisible: only its background and inverse show.
        row.push({
          ch,
          fg: ch === ' ' && !cell.isInverse() ? '-' : colour('fg', cell),
          bg: colour('bg', cell),
          flags: ch === ' ' ? flags.replace(/[butds]/g, '') : flags,
        });
      }
      out.push(row);
    }
    return out;
  } finally {
    terminal.dispose();
  }
}

/** Every cell that differs, as `row,col: server … | tui …` (empty when the screens agree). */
function differences(server: Cell[][], tui: Cell[][]): string[] {
  const out: string[] = [];
  for (let y = 0; y < server.length; y++) {
    for (let x = 0; x < COLS; x++) {
      const a = server[y]![x]!;
      const b = tui[y]![x]!;
      if (a.ch !== b.ch || a.fg !== b.fg || a.bg !== b.bg || a.flags !== b.flags)
        out.push(`${y},${x}: server ${JSON.stringify(a)} | tui ${JSON.stringify(b)}`);
    }
  }
  return out;
}

/**
 * The client paints what the server's emulator holds (issue 12: the client has no emulator of its
 * own). The TUI runs in tmux at 100 × 32, so its one pane is 100 × 30 below its title row; the
 * screen tmux shows for the pane is compared cell by cell with the server's `capture-pane -e`.
 */
describe('the TUI paints the server screen cell for cell', () => {
  let world: TuiWorld;
  let term: TmuxTerminal;

  before(async () => {
    world = await TuiWorld.create();
    // A 256-colour terminal, as tmux users set `default-terminal` (in a 16-colour one the client
    // draws the nearest of 16 colours, and the screens would rightly differ).
    term = await world.client(['tui'], { cols: COLS, rows: BODY_ROWS + 2, term: 'tmux-256color' });
    await term.waitForScreen((s) => /[$#] *$/m.test(screenLines(s)[1] ?? ''), { what: 'the shell prompt' });
  });
  after(async () => {
    await world?.dispose();
  });

  /** The pane's body as the person sees it (rows 1..30 of the terminal), as escape-sequence text. */
  async function paintedBody(): Promise<string> {
    // -N keeps trailing blanks, which carry a background colour when a program erased with one.
    const screen = await term.tmux('capture-pane', '-p', '-e', '-N', '-t', 't');
    return screen
      .split('\n')
      .slice(1, BODY_ROWS + 1)
      .join('\n');
  }

  async function compare(pane: number | string = 0): Promise<void> {
    // The TUI may still be one frame behind: compare until the two agree or time runs out.
    let last: string[] = [];
    let raw = '';
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const serverText = await world.capturePane(pane, ['-e']);
      const tuiText = await paintedBody();
      last = differences(
        await cellsOf(serverText, BODY_ROWS, false),
        await cellsOf(tuiText, BODY_ROWS, true),
      );
      if (last.length === 0) return;
      const row = Number(last[0]!.split(',')[0]);
      raw = `server row ${row}: ${JSON.stringify(serverText.split('\n')[row])}\ntui row ${row}:    ${JSON.stringify(tuiText.split('\n')[row])}`;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(last.slice(0, 10), [], `${last.length} cells differ\n${raw}`);
  }

  test('a recorded Claude Code session: text, colours, box drawing, wide characters', async () => {
    // Raw and without echo, as Claude Code had its terminal: the emulator's answers to the
    // recording's queries (device attributes) must not be echoed onto the screen.
    await term.typeLine(`clear; stty raw -echo; cat ${RECORDING}; exec sleep 600`);
    await term.waitForScreen((s) => s.includes('render too.') && s.includes('auto mode on'), {
      what: 'the end of the recorded session',
    });
    await compare();
    const server = await world.capturePane(0);
    assert.match(server, /│ hello\.txt │ 1 {5}│/, 'the table is in the server screen');
    assert.match(server, /漢字 and emoji ✅ render too\./);
  });

  test('the alternate screen, colours at set positions and the cursor', async () => {
    const script = [
      "printf '\\033[?1049h\\033[2J\\033[3;5H\\033[1;31mbold red\\033[0m \\033[48;5;27;38;2;255;200;0m truecolour \\033[0m'",
      "printf '\\033[10;20H\\033[4m漢字\\033[24m|\\033[7m inverse \\033[27m\\033[12;7H'",
      'exec sleep 600',
    ].join('; ');
    // A second pane with the drawing takes the first one's place: add it, then kill the first.
    const added = await world.orchestra([
      'new-pane',
      '-t',
      world.session,
      '--json',
      '--',
      'sh',
      '-c',
      script,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const pane = (JSON.parse(added.stdout) as { id: number }).id;
    const killed = await world.orchestra(['kill-pane', '-t', `${world.session}:0`]);
    assert.equal(killed.code, 0, killed.stderr);
    await term.waitForScreen((s) => s.includes('| inverse') && s.includes('truecolour'), {
      what: 'the alternate-screen drawing',
    });
    await compare(`%${pane}`);
    // The cursor sits where the program left it: row 12, column 7 of the pane (1-based), which is
    // terminal row 12 (below the title row) and column 6 (0-based).
    const cursor = await term.display('#{cursor_x},#{cursor_y},#{cursor_flag}');
    assert.equal(cursor, '6,12,1');
  });
});
