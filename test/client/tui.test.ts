import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cells, columnOf, region, screenLines, type TmuxTerminal } from '../support/tmux.js';
import { focusedName, statusLine, TuiWorld } from './tui-fixture.js';

/**
 * `orchestra tui` in a real terminal (tmux, 120 × 35), driven by keys and read back as a person
 * sees it. Inside tmux the prefix is C-a. The tests share one session and run in order: two panes
 * side by side, pane 0 in columns 0–59, the border in column 60, pane 1 in columns 61–119.
 */
describe('orchestra tui in a terminal', () => {
  let world: TuiWorld;
  let term: TmuxTerminal;
  const COLS = 120;
  const ROWS = 35;
  const BORDER = 60;

  const left = (screen: string) => region(screen, 0, BORDER);
  const right = (screen: string) => region(screen, BORDER + 1, COLS);
  const focus = (screen: string) => focusedName(screen, world.session);
  const waitFocus = (name: string) =>
    term.waitForScreen((s) => focus(s) === name, { what: `focus on ${name}` });

  before(async () => {
    world = await TuiWorld.create();
    term = await world.client(['tui'], { cols: COLS, rows: ROWS });
  });
  after(async () => {
    await world?.dispose();
  });

  test('opens on a shell pane with its title and the status bar', async () => {
    const screen = await term.waitForScreen((s) => /[$#]$/m.test(s), { what: 'the pane shell prompt' });
    const lines = screenLines(screen);
    assert.equal(lines.length, ROWS);
    assert.match(lines[0]!, /^ 0: bash\s*$/);
    const status = statusLine(screen);
    assert.match(status, new RegExp(`^\\[${world.session}\\] 0:bash\\*`));
    assert.match(status, /1 panes \| C-a \| \d\d:\d\d$/, 'the status bar says which prefix is live');
    assert.equal(await term.display('#{alternate_on}'), '1', 'full screen on the alternate screen');
  });

  test('a pane added from outside appears beside the first and takes the focus', async () => {
    const added = await world.orchestra(['new-pane', '-n', 'second', '--', 'bash', '--norc', '--noprofile']);
    assert.equal(added.code, 0, added.stderr);
    const screen = await term.waitForScreen((s) => s.includes(' 1: second') && s.includes('2 panes'), {
      what: 'the second pane',
    });
    const lines = screenLines(screen);
    assert.equal(cells(lines[0]!, 0, BORDER).trimEnd(), ' 0: bash');
    assert.equal(cells(lines[0]!, BORDER + 1, COLS).trimEnd(), ' 1: second');
    for (let y = 0; y < ROWS - 1; y++) assert.equal(cells(lines[y]!, BORDER, BORDER + 1), '│', `row ${y}`);
    assert.equal(focus(screen), 'second');
  });

  test('typed text reaches only the focused pane; prefix o and arrows move the focus', async () => {
    // The output differs from the typed command, so seeing it proves the shell ran it.
    await term.typeLine('echo $((111*3))B');
    let screen = await term.waitForScreen((s) => right(s).includes('\n333B'), { what: '333B in pane 1' });
    assert.ok(!left(screen).includes('333B'), 'nothing reached pane 0');

    await term.sendKeys('C-a', 'o');
    await waitFocus('bash');
    await term.typeLine('echo $((37*3))A');
    screen = await term.waitForScreen((s) => left(s).includes('\n111A'), { what: '111A in pane 0' });
    assert.ok(!right(screen).includes('111A'), 'nothing reached pane 1');
    assert.ok(!left(screen).includes('333B'));

    await term.sendKeys('C-a', 'Right');
    await waitFocus('second');
    await term.typeLine('echo $((2+2))R');
    screen = await term.waitForScreen((s) => right(s).includes('\n4R'), { what: '4R in pane 1' });
    assert.ok(!left(screen).includes('4R'));

    await term.sendKeys('C-a', 'Left');
    await waitFocus('bash');
    // Arrows stop at the edge: nothing lies left of pane 0.
    await term.sendKeys('C-a', 'Left');
    await term.typeLine('echo $((3+3))L');
    screen = await term.waitForScreen((s) => left(s).includes('\n6L'), { what: '6L in pane 0' });
    assert.equal(focus(screen), 'bash');

    // The server's own screens agree with what the terminal shows.
    const pane0 = await world.capturePane(0);
    const pane1 = await world.capturePane(1);
    assert.match(pane0, /^111A$/m);
    assert.match(pane0, /^6L$/m);
    assert.doesNotMatch(pane0, /333B|4R/);
    assert.match(pane1, /^333B$/m);
    assert.match(pane1, /^4R$/m);
    assert.doesNotMatch(pane1, /111A|6L/);
  });

  test('prefix z zooms the focused pane and again unzooms', async () => {
    await term.sendKeys('C-a', 'z');
    let screen = await term.waitForScreen((s) => / Z \| 2 panes/.test(statusLine(s)), { what: 'Z' });
    let lines = screenLines(screen);
    assert.equal(lines[0]!.trimEnd(), ' 0: bash', 'only the zoomed title, across the whole width');
    assert.ok(!screen.includes(' 1: second'));
    assert.ok(!screen.includes('│'), 'no border while zoomed');
    assert.match(screen, /^111A$/m);

    await term.sendKeys('C-a', 'z');
    screen = await term.waitForScreen((s) => s.includes(' 1: second'), { what: 'unzoom' });
    lines = screenLines(screen);
    assert.doesNotMatch(statusLine(screen), / Z \|/);
    assert.equal(cells(lines[0]!, BORDER, BORDER + 1), '│');
  });

  test('wide characters and colours land in the right cells', async () => {
    await term.sendKeys('C-a', 'Right');
    await waitFocus('second');
    await term.typeLine('echo 漢字$((1+1)); printf "\\033[31mRED\\033[0m-plain\\n"');
    const screen = await term.waitForScreen((s) => right(s).includes('\n漢字2'), { what: '漢字2' });
    const lines = screenLines(screen);
    const wide = lines.find((l) => cells(l, BORDER + 1, COLS).startsWith('漢字2'));
    assert.ok(wide, screen);
    assert.equal(columnOf(wide, '漢'), BORDER + 1);
    assert.equal(columnOf(wide, '2'), BORDER + 5, 'each wide character takes two cells');
    assert.equal(cells(wide, BORDER, BORDER + 1), '│', 'the border stays in its column');
    // The typed command line holds wide characters too; everything after it still lines up.
    const typed = lines.find((l) => l.includes('echo 漢字'));
    assert.ok(typed);
    assert.equal(cells(typed, BORDER, BORDER + 1), '│');
    assert.match(await world.capturePane(1), /^漢字2$/m);

    // Colours: the terminal's own cells (tmux capture-pane -e) hold red for RED only.
    const coloured = await term.waitForScreen((s) => s.includes('RED'), { escapes: true, what: 'RED' });
    const redLine = screenLines(coloured).find((l) => /RED(?:\x1b\[[0-9;]*m)*-plain/.test(l));
    assert.ok(redLine, coloured);
    assert.match(redLine, /\x1b\[(?:[0-9;]*;)?(?:31|38;5;1)m(?:\x1b\[[0-9;]*m)*RED/, 'RED is red');
    const afterRed = redLine.slice(redLine.indexOf('RED') + 3, redLine.indexOf('-plain'));
    assert.match(afterRed, /\x1b\[(?:[0-9;]*;)?(?:39|0)?m/, 'the colour ends after RED');
    assert.equal(cells(coloured.replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0]!, BORDER, BORDER + 1), '│');
    // The server's screen keeps the same colour (orchestra capture-pane -e).
    const served = await world.capturePane(1, ['-e']);
    assert.match(served, /\x1b\[(?:[0-9;]*;)?(?:31|38;5;1)m(?:\x1b\[[0-9;]*m)*RED/);
  });

  test('prefix ? shows the key help; q closes it', async () => {
    await term.sendKeys('C-a', '?');
    const screen = await term.waitForScreen((s) => s.includes('keys — q closes'), { what: 'the help' });
    assert.match(screen, /prefix: C-a/);
    assert.match(screen, /\bz\s+zoom\b/);
    assert.match(screen, /\bd\s+detach\b/);
    await term.sendKeys('q');
    const closed = await term.waitForScreen((s) => !s.includes('keys — q closes'), { what: 'help closed' });
    assert.match(closed, / 1: second/);
  });

  test('prefix : runs a command: select-layout even-vertical stacks the panes', async () => {
    await term.sendKeys('C-a', ':');
    await term.waitForScreen((s) => statusLine(s) === ':', { what: 'the prompt' });
    await term.type('select-layout even-vertical');
    await term.waitForScreen((s) => statusLine(s) === ':select-layout even-vertical', { what: 'typed text' });
    await term.sendKeys('Enter');
    const screen = await term.waitForScreen((s) => screenLines(s)[17]?.trimEnd() === ' 1: second', {
      what: 'pane 1 below pane 0',
    });
    const lines = screenLines(screen);
    assert.equal(lines[0]!.trimEnd(), ' 0: bash');
    assert.ok(!screen.includes('│'), 'stacked panes have no vertical border');
    // Pane 1 (focused) now has the full width and half the height less its title.
    await term.typeLine('echo stacked=$(stty size)');
    await term.waitForScreen((s) => /^stacked=16 120$/m.test(s), { what: 'stty size 16 120' });
    await world.orchestra(['select-layout', 'tiled']);
    await term.waitForScreen((s) => cells(screenLines(s)[0] ?? '', BORDER, BORDER + 1) === '│', {
      what: 'side by side again',
    });
  });

  test('resizing the terminal resizes the panes', async () => {
    await term.resize(80, 24);
    let screen = await term.waitForScreen(
      (s) => screenLines(s).length === 24 && Math.abs(columnOf(screenLines(s)[0]!, '│') - 40) < 3,
      { what: 'the panes redrawn for 80x24' },
    );
    assert.ok(screenLines(screen).every((l) => l.length <= 80));
    // Zoomed, the pane gets the window less the status row and its title row.
    await term.sendKeys('C-a', 'z');
    await term.waitForScreen((s) => / Z \|/.test(statusLine(s)), { what: 'Z' });
    await term.typeLine('echo zoomed=$(stty size)');
    await term.waitForScreen((s) => /^zoomed=22 80$/m.test(s), { what: 'stty size 22 80' });
    await term.sendKeys('C-a', 'z');
    screen = await term.waitForScreen((s) => s.includes(' 0: bash') && s.includes('│'), { what: 'unzoom' });
    // Side by side, the width the pane reports is the width it is drawn with.
    const border = columnOf(screenLines(screen)[0]!, '│');
    assert.ok(border > 30 && border < 50, `border at ${border}`);
    await term.typeLine('echo beside=$(stty size)');
    screen = await term.waitForScreen((s) => /^beside=\d+ \d+$/m.test(region(s, border + 1, 80)), {
      what: 'stty size in pane 1',
    });
    const size = /^beside=(\d+) (\d+)$/m.exec(region(screen, border + 1, 80))!;
    assert.deepEqual([Number(size[1]), Number(size[2])], [22, 80 - border - 1]);
  });
});
