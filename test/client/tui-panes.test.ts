import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor } from '../server/fixtures.js';
import type { TmuxTerminal } from '../support/tmux.js';
import { focusedName, statusLine, TuiWorld } from './tui-fixture.js';

/** Pane widths as `orchestra list-panes --json` reports them, in display order. */
async function widths(world: TuiWorld): Promise<number[]> {
  const out = await world.orchestra(['list-panes', '-t', `${world.session}:`, '--json']);
  assert.equal(out.code, 0, out.stderr);
  return (JSON.parse(out.stdout) as Array<{ cols: number }>).map((p) => p.cols);
}

/**
 * Panes like tmux's, driven in tmux: prefix C-arrows move the focused pane's border, prefix { and }
 * swap it with its neighbours, and the sizes set stay when the terminal changes size.
 */
describe('resizing and swapping panes', () => {
  let world: TuiWorld;
  let term: TmuxTerminal;

  before(async () => {
    world = await TuiWorld.create();
    term = await world.client(['tui'], { cols: 101, rows: 30, launcher: 'env -u TMUX' });
    const second = await world.orchestra(['new-pane', '-t', `${world.session}:`, '-n', 'right', '--', 'sh']);
    assert.equal(second.code, 0, second.stderr);
    const layout = await world.orchestra(['select-layout', '-t', world.session, 'even-horizontal']);
    assert.equal(layout.code, 0, layout.stderr);
    await term.waitForScreen((s) => s.includes(' 1: right'), { what: 'two panes side by side' });
  });
  after(async () => {
    await world?.dispose();
  });

  test('prefix C-Left and C-Right move the border; resize-pane does from the CLI', async () => {
    assert.deepEqual(await widths(world), [50, 50]);
    for (let i = 0; i < 3; i++) await term.sendKeys('C-b', 'C-Left');
    // The focused pane is the right one: its left border moves left, so it is 3 cells wider.
    await waitFor(async () => (await widths(world))[1] === 53, 'the right pane 3 wider');
    assert.deepEqual(await widths(world), [47, 53]);
    const cli = await world.orchestra(['resize-pane', '-t', `${world.session}:0`, '-R', '7']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(await widths(world), [54, 46]);
    const bad = await world.orchestra(['resize-pane', '-t', `${world.session}:0`, '-R', '-L']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /one of -L, -R, -U, -D/);
  });

  test('the sizes set stay, scaled, when the terminal is resized', async () => {
    await term.tmux('resize-window', '-x', '201', '-y', '30');
    await waitFor(async () => (await widths(world))[0] === 108, 'scaled to the new width');
    assert.deepEqual(await widths(world), [108, 92]);
  });

  test('prefix } and { swap the focused pane with its neighbour; the focus goes with it', async () => {
    const before = await term.capture();
    const focused = focusedName(before, world.session);
    assert.equal(focused, 'right');
    await term.sendKeys('C-b', '}');
    const swapped = await term.waitForScreen((s) => / 0: right/.test(s), { what: 'right is first' });
    assert.equal(focusedName(swapped, world.session), 'right');
    assert.match(statusLine(swapped), /0:right\* 1:/);
    await term.sendKeys('C-b', '{');
    await term.waitForScreen((s) => / 1: right/.test(s), { what: 'back where it was' });
  });
});
