import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TmuxTerminal } from '../support/tmux.js';
import { statusLine, TuiWorld } from './tui-fixture.js';

/**
 * Pane names come from whoever runs `new-pane -n` (and task titles from task files): the TUI paints
 * them through `printable`, so an escape sequence in one never reaches the terminal (issue 10).
 * tmux is the terminal here: an OSC 0 that got through would retitle its pane.
 */
describe('the TUI paints untrusted names safely', () => {
  let world: TuiWorld;
  let term: TmuxTerminal;

  before(async () => {
    world = await TuiWorld.create();
    term = await world.client(['tui'], { cols: 100, rows: 20 });
  });
  after(async () => {
    await world?.dispose();
  });

  test('a pane name with OSC and CSI sequences shows as its text in the border and status bar', async () => {
    const title = await term.display('#{pane_title}');
    const name = 'evil\x1b]0;owned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07name';
    const added = await world.orchestra(['new-pane', '-n', name, '--', 'sleep', '600']);
    assert.equal(added.code, 0, added.stderr);
    const screen = await term.waitForScreen((s) => s.includes('1: evilname'), { what: 'the pane border' });
    assert.match(statusLine(screen), /1:evilname\*/);
    assert.match(screen, / 0: /, 'the screen was not cleared');
    assert.equal(await term.display('#{pane_title}'), title, 'no OSC reached the terminal');
  });
});
