import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addTaskWithTwoAttempts } from '../scheduler/diff-fixture.js';
import type { TmuxTerminal } from '../support/tmux.js';
import { TuiWorld } from './tui-fixture.js';

/**
 * The task board's `d`, driven in tmux and read back: a best-of-n task's diff in an overlay, under
 * the compare view of its two attempts (check result, score, diffstat, the result marked).
 */
describe('the task board shows a task diff before it is merged', () => {
  let world: TuiWorld;
  let term: TmuxTerminal;

  before(async () => {
    world = await TuiWorld.create();
    const init = await world.orchestra(['init']);
    assert.equal(init.code, 0, init.stderr);
    await addTaskWithTwoAttempts(world.root);
    term = await world.client(['tui'], { cols: 140, rows: 40, launcher: 'env -u TMUX' });
  });
  after(async () => {
    await world?.dispose();
  });

  test('d opens the diff with the candidates; q goes back to the board', async () => {
    await term.sendKeys('C-b', 't');
    await term.waitForScreen((s) => /task-04 +done/.test(s), { what: 'the board with task-04' });
    await term.sendKeys('d');
    const screen = await term.waitForScreen(
      (s) => s.includes('diff task-04 — a next attempt · w makes it the result — q closes'),
      {
        what: 'the diff overlay',
      },
    );
    assert.match(screen, /task-04-a2: 1 files, \+2 -0 against [0-9a-f]{10}/);
    assert.match(screen, / {2}task-04-a1 {2}archived {2}checks pass {2}score 4 {2}1 files \+1 -0/);
    assert.match(
      screen,
      /\* task-04-a2 {2}archived {2}checks pass {2}score 7 {2}1 files \+2 -0 {2}\(the result\)/,
    );
    assert.match(screen, /\+\+\+ b\/two\.txt/);
    assert.match(screen, /\+second try/);
    assert.match(screen, /\+ {7}indented/);
    await term.sendKeys('q');
    await term.waitForScreen((s) => /task-04 +done/.test(s) && !s.includes('diff task-04'), {
      what: 'the board again',
    });
  });

  test("a shows the next attempt; w makes it the result, after a yes, recorded as the person's pick", async () => {
    await term.sendKeys('d');
    await term.waitForScreen((s) => s.includes('+second try'), { what: 'the result attempt' });
    await term.sendKeys('a');
    const other = await term.waitForScreen((s) => s.includes('+first try'), { what: 'the other attempt' });
    assert.match(other, /task-04-a1: 1 files, \+1 -0/);
    await term.sendKeys('w');
    await term.waitForScreen((s) => s.includes('make task-04-a1 the result of task-04? (y/n)'), {
      what: 'the question',
    });
    await term.sendKeys('y');
    const picked = await term.waitForScreen((s) => s.includes('(the result, picked by you)'), {
      what: 'the pick in the compare view',
    });
    assert.match(picked, /\* task-04-a1 .*\(the result, picked by you\)/);
    assert.match(picked, / {2}task-04-a2 {2}archived/);
  });
});
