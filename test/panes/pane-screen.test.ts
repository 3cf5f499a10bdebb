import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import xtermHeadless from '@xterm/headless';
import { PaneScreen } from '../../src/panes/pane-screen.js';
import type { ScreenUpdate } from '../../src/protocol/screen.js';

const { Terminal } = xtermHeadless;
type HeadlessTerminal = InstanceType<typeof Terminal>;

function write(terminal: HeadlessTerminal, data: string): Promise<void> {
  return new Promise((resolve) => terminal.write(data, resolve));
}

/** The text of each row an update carries, by row. */
function rowsOf(update: ScreenUpdate): Map<number, string> {
  return new Map(
    update.lines.map(([row, runs]) => [
      row,
      runs
        .map(([, , , text]) => (typeof text === 'string' ? text : text.join('')))
        .join('')
        .trimEnd(),
    ]),
  );
}

describe('PaneScreen: the rows a client gets', () => {
  for (const [what, scrollback] of [
    ['with history to spare', 100],
    ['with the history full (lines are recycled)', 2],
  ] as const) {
    test(`a scroll resends every row, shifted (${what})`, async () => {
      const terminal = new Terminal({ cols: 10, rows: 4, scrollback, allowProposedApi: true });
      const screen = new PaneScreen(terminal);
      await write(terminal, 'a\r\nb\r\nc\r\nd');
      const before = screen.refresh();
      await write(terminal, '\r\ne');
      screen.refresh();
      const update = JSON.parse(screen.updateSince(before)!) as ScreenUpdate;
      assert.deepEqual(
        [...rowsOf(update)],
        [
          [0, 'b'],
          [1, 'c'],
          [2, 'd'],
          [3, 'e'],
        ],
      );
      terminal.dispose();
    });
  }

  test('a scroll inside a scroll region resends the region', async () => {
    const terminal = new Terminal({ cols: 10, rows: 4, allowProposedApi: true });
    const screen = new PaneScreen(terminal);
    // Rows 1–2 scroll (DECSTBM 2;3), rows 0 and 3 stay.
    await write(terminal, 'top\r\nx\r\ny\r\nbottom\x1b[2;3r\x1b[3;1H');
    const before = screen.refresh();
    await write(terminal, '\nz');
    screen.refresh();
    const rows = rowsOf(JSON.parse(screen.updateSince(before)!) as ScreenUpdate);
    assert.equal(rows.get(1), 'y');
    assert.equal(rows.get(2), 'z');
    terminal.dispose();
  });

  test('writing one row resends that row only', async () => {
    const terminal = new Terminal({ cols: 10, rows: 4, allowProposedApi: true });
    const screen = new PaneScreen(terminal);
    await write(terminal, 'a\r\nb\r\nc');
    const before = screen.refresh();
    await write(terminal, '\x1b[1;1HA');
    screen.refresh();
    assert.deepEqual([...rowsOf(JSON.parse(screen.updateSince(before)!) as ScreenUpdate)], [[0, 'A']]);
    terminal.dispose();
  });
});
