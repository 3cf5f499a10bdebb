import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { region, screenLines, type TmuxTerminal } from '../support/tmux.js';
import { statusLine, TuiWorld } from './tui-fixture.js';

/**
 * Detach, reattach, several clients and the end of the server, seen from real terminals (tmux).
 * Pane 0 (`bash`, left) counts ticks for the whole file; pane 1 (`hist`, right) holds 120 lines of
 * history. The tests run in order and share the session.
 */
describe('orchestra attach and detach in terminals', () => {
  let world: TuiWorld;
  let a: TmuxTerminal;
  let b: TmuxTerminal;
  let c: TmuxTerminal;
  const COLS = 120;
  const ROWS = 35;
  const BORDER = 60;
  let beforeDetach = '';
  let tickAtDetach = 0;

  const left = (screen: string) => region(screen, 0, BORDER);
  /** Pane 1's cells, status row left out (its clock may turn over). */
  const right = (screen: string) => region(screenLines(screen).slice(0, -1).join('\n'), BORDER + 1, COLS);
  const maxNumber = (text: string, word: string) =>
    Math.max(0, ...[...text.matchAll(new RegExp(`^${word}[ -](\\d+)$`, 'gm'))].map((m) => Number(m[1])));
  const minNumber = (text: string, word: string) =>
    Math.min(...[...text.matchAll(new RegExp(`^${word}[ -](\\d+)$`, 'gm'))].map((m) => Number(m[1])));

  /** What the last `orchestra ...; echo EXIT=$?` printed once it ended, or undefined while it runs. */
  const lastRun = (screen: string) => {
    const marker = 'echo EXIT=$?';
    const at = screen.lastIndexOf(marker);
    if (at < 0) return undefined;
    const out = screen.slice(at + marker.length);
    const end = /^EXIT=\d+$/m.exec(out);
    return end ? out.slice(0, end.index + end[0].length).trim() : undefined;
  };

  before(async () => {
    world = await TuiWorld.create();
    a = await world.client(['tui'], { cols: COLS, rows: ROWS });
  });
  after(async () => {
    await world?.dispose();
  });

  test('a ticking pane and a pane with history', async () => {
    await a.waitForScreen((s) => /[$#]$/m.test(left(s)), { what: 'the shell in pane 0' });
    await a.typeLine('for i in $(seq 1 1000); do echo tick $i; sleep 0.05; done');
    await a.waitForScreen((s) => maxNumber(left(s), 'tick') >= 3, { what: 'ticks' });
    const added = await world.orchestra(['new-pane', '-n', 'hist', '--', 'bash', '--norc', '--noprofile']);
    assert.equal(added.code, 0, added.stderr);
    await a.waitForText(' 1: hist');
    await a.typeLine('for i in $(seq 1 120); do echo hist-$i; done; echo done-$((60+60))');
    beforeDetach = await a.waitForScreen((s) => /^done-120$/m.test(right(s)), { what: 'done-120' });
    assert.ok(!left(beforeDetach).includes('hist-'), 'the history went to pane 1 only');
  });

  test('prefix d detaches and gives the shell back; the session keeps running', async () => {
    await a.sendKeys('C-a', 'd');
    const screen = await a.waitForScreen((s) => lastRun(s) !== undefined, { what: 'the exit code' });
    assert.equal(lastRun(screen), `[detached (from session ${world.session})]\nEXIT=0`);
    assert.equal(await a.display('#{alternate_on}'), '0', 'back on the main screen');
    assert.equal(await a.display('#{mouse_any_flag}'), '0', 'mouse reporting off');
    assert.equal(await a.display('#{cursor_flag}'), '1', 'cursor visible');
    assert.equal(await a.display('#{keypad_cursor_flag}#{keypad_flag}'), '00', 'keypad modes reset');
    assert.ok(!screen.includes(' 1: hist') && !screen.includes(`[${world.session}] `), 'no TUI left');
    // The shell after it works, and the terminal's line discipline is back to cooked mode.
    await a.typeLine('echo $((6*7))ok');
    await a.waitForScreen((s) => /^42ok$/m.test(s), { what: 'the shell to answer' });
    await a.typeLine(
      "echo modes=$(stty -a | tr ' ' '\\n' | grep -E -x -- '-?(icanon|echo|isig)' | sort | tr '\\n' ,)",
    );
    await a.waitForScreen((s) => /^modes=echo,icanon,isig,$/m.test(s), { what: 'cooked tty modes' });

    // Detached, the server keeps running the loop.
    tickAtDetach = maxNumber(await world.capturePane(0), 'tick');
    assert.ok(tickAtDetach > 0);
    const deadline = Date.now() + 8000;
    let later = tickAtDetach;
    while (later <= tickAtDetach + 5 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      later = maxNumber(await world.capturePane(0), 'tick');
    }
    assert.ok(later > tickAtDetach + 5, `ticks went on while detached: ${tickAtDetach} → ${later}`);
    tickAtDetach = later;
  });

  test('attach shows the same screens, history included', async () => {
    await world.startClient(a, ['attach']);
    const screen = await a.waitForScreen(
      (s) => /^done-120$/m.test(right(s)) && maxNumber(left(s), 'tick') > tickAtDetach,
      { what: 'both panes after reattach' },
    );
    assert.equal(right(screen), right(beforeDetach), 'pane 1 looks exactly as before the detach');
    const lowest = minNumber(right(screen), 'hist');
    assert.ok(lowest > 80, `only the tail is on screen (from hist-${lowest})`);

    await a.sendKeys('C-a', '[');
    await a.waitForScreen((s) => / 1: hist {2}\[scroll \d+-\d+\/\d+\]/.test(s), { what: 'scroll mode' });
    await a.sendKeys('PPage');
    const scrolled = await a.waitForScreen((s) => minNumber(right(s), 'hist') < lowest - 20, {
      what: 'earlier lines after PgUp',
    });
    const shown = [...right(scrolled).matchAll(/^hist-(\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      shown,
      shown.map((_, i) => shown[0]! + i),
      'consecutive lines of history, in order',
    );
    assert.ok(maxNumber(left(scrolled), 'tick') > 0, 'pane 0 stays live beside it');

    await a.sendKeys('q');
    const back = await a.waitForScreen((s) => !s.includes('[scroll'), { what: 'scroll mode to end' });
    assert.match(right(back), /^done-120$/m);
  });

  test('two clients attached at once both see live output and both type', async () => {
    // Client B runs outside tmux as far as orchestra can tell, so its prefix is C-b (DESIGN.md, "Keys").
    b = await world.client(['attach', '-t', world.session], {
      cols: COLS,
      rows: ROWS,
      launcher: 'env -u TMUX',
    });
    const first = await b.waitForScreen((s) => /^done-120$/m.test(right(s)), { what: 'pane 1 in client B' });
    assert.match(statusLine(first), /\| C-b \| \d\d:\d\d$/);
    assert.match(statusLine(await a.capture()), /\| C-a \| \d\d:\d\d$/);
    await a.typeLine('echo $((1000+234))live');
    await a.waitForScreen((s) => /^1234live$/m.test(right(s)), { what: '1234live in A' });
    await b.waitForScreen((s) => /^1234live$/m.test(right(s)), { what: '1234live in B' });
    await b.typeLine('echo $((2000+1))fromB');
    await a.waitForScreen((s) => /^2001fromB$/m.test(right(s)), { what: '2001fromB in A' });
    const tick = maxNumber(left(await b.capture()), 'tick');
    await b.waitForScreen((s) => maxNumber(left(s), 'tick') > tick, { what: 'ticks in B' });

    // A layout change made from one client shows in both.
    await b.sendKeys('C-b', 'z');
    await a.waitForScreen((s) => / Z \|/.test(statusLine(s)) && !s.includes(' 0: bash'), {
      what: 'zoom in A',
    });
    await b.sendKeys('C-b', 'z');
    await a.waitForScreen((s) => s.includes(' 0: bash') && s.includes(' 1: hist'), { what: 'unzoom in A' });
    await b.waitForScreen((s) => s.includes(' 0: bash') && !/ Z \|/.test(statusLine(s)), {
      what: 'unzoom in B',
    });
  });

  test('a read-only client watches but its keys never reach the pane', async () => {
    c = await world.client(['attach', '-t', world.session, '--read-only'], { cols: COLS, rows: ROWS });
    await c.waitForScreen((s) => /^2001fromB$/m.test(right(s)), { what: 'pane 1 in client C' });
    assert.match(statusLine(await c.capture()), /read-only \|/);
    await c.typeLine('echo $((5*5))ro');
    await c.waitForText('read-only client: keys are not sent');
    await c.sendKeys('C-a', 'z');
    await c.waitForScreen((s) => statusLine(s) === 'read-only client', { what: 'refused zoom' });

    // A writable client types after it; once its line is there, the read-only one would be too.
    await a.typeLine('echo $((3*3))rw');
    await c.waitForScreen((s) => /^9rw$/m.test(right(s)), { what: '9rw in the read-only client' });
    const pane = await world.capturePane(1);
    assert.match(pane, /^9rw$/m);
    assert.doesNotMatch(pane, /25ro|\*5\)\)ro/);
    const screenA = await a.capture();
    assert.doesNotMatch(screenA, /25ro|\*5\)\)ro/);
    assert.doesNotMatch(statusLine(screenA), / Z \|/, 'the read-only zoom did not happen');
  });

  test('kill-server ends every client, removes the socket, and ls finds nothing', async () => {
    await stat(world.socketPath);
    const killed = await world.orchestra(['kill-server']);
    assert.equal(killed.code, 0, killed.stderr);
    for (const [name, term] of [
      ['A', a],
      ['B', b],
      ['C', c],
    ] as const) {
      const screen = await term.waitForScreen((s) => lastRun(s) !== undefined, {
        what: `client ${name} to end`,
      });
      assert.equal(lastRun(screen), '[exited]\nEXIT=0', `client ${name}`);
      assert.equal(await term.display('#{alternate_on}'), '0');
    }
    await assert.rejects(stat(world.socketPath), { code: 'ENOENT' });
    const ls = await world.orchestra(['ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim(), 'no sessions');
  });
});
