import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import xtermHeadless from '@xterm/headless';
import { pasteBytes, selectionText } from '../../src/server/paste-buffer.js';

const { Terminal } = xtermHeadless;

async function terminalWith(data: string, cols = 10) {
  const terminal = new Terminal({ cols, rows: 4, scrollback: 100, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(data, resolve));
  return terminal;
}

describe('the paste buffer', () => {
  test('a selection runs from its first cell to its last, in either order, whole lines between', async () => {
    const t = await terminalWith('alpha one\r\nbeta two\r\ngamma');
    assert.equal(selectionText(t, { line: 0, col: 6 }, { line: 2, col: 2 }), 'one\nbeta two\ngam');
    assert.equal(selectionText(t, { line: 2, col: 2 }, { line: 0, col: 6 }), 'one\nbeta two\ngam');
    assert.equal(selectionText(t, { line: 1, col: 0 }, { line: 1, col: 3 }), 'beta');
  });

  test('trailing blanks are dropped and a wrapped line is joined with its continuation', async () => {
    const t = await terminalWith('0123456789abc\r\nx   ');
    // Line 0 wrapped onto line 1 ("abc"): one logical line.
    assert.equal(selectionText(t, { line: 0, col: 0 }, { line: 2, col: 9 }), '0123456789abc\nx');
  });

  test('typed into a pane: newlines become Enter; bracketed paste cannot be ended from inside', () => {
    assert.equal(pasteBytes('a\nb\r\nc', false), 'a\rb\rc');
    assert.equal(pasteBytes('ls\x1b[201~rm -rf ~\n', true), '\x1b[200~lsrm -rf ~\r\x1b[201~');
  });
});
