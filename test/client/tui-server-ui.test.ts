import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ORCHESTRA_BIN } from '../support/cli.js';
import { TmuxTerminal } from '../support/tmux.js';
import { statusLine, TuiWorld } from './tui-fixture.js';

/**
 * The server is where a client's keys and theme come from (its welcome's `ui`), as tmux's options
 * live in its server: `orchestra attach -t` run outside the repository, which reads no config,
 * still gets the repository's prefix and bindings.
 */
describe("attach takes the session's keys from its server", () => {
  let world: TuiWorld;

  before(async () => {
    world = await TuiWorld.create();
    const init = await world.orchestra(['init']);
    assert.equal(init.code, 0, init.stderr);
    await mkdir(join(world.root, '.orchestra'), { recursive: true });
    await writeFile(
      join(world.root, '.orchestra', 'orchestra.json'),
      JSON.stringify({ keys: { prefix: 'C-g', bindings: { x: 'help' } }, theme: 'light' }),
    );
    // `orchestra tui` in the repository starts the session's server there, config loaded.
    await world.client(['tui'], { cols: 100, rows: 20, launcher: 'env -u TMUX' });
    const pane = await world.orchestra(['new-pane', '--', 'sh']);
    assert.equal(pane.code, 0, pane.stderr);
  });
  after(async () => {
    await world?.dispose();
  });

  test('from outside the repository: the configured prefix, and a configured binding works', async () => {
    const term = await TmuxTerminal.start({ cwd: world.base, env: world.env, cols: 100, rows: 20 });
    world.terminals.push(term);
    // TMUX unset: without the server's prefix the client would take C-b.
    await world.startClient(term, ['attach', '-t', world.session], 'env -u TMUX');
    assert.match(statusLine(await term.capture()), /\| C-g \| \d\d:\d\d$/);
    await term.sendKeys('C-g', 'x');
    const help = await term.waitForScreen((s) => s.includes('keys — q closes'), {
      what: 'the help, by the configured binding',
    });
    assert.match(help, /prefix: C-g/);
  });
});

/**
 * A theme the server's config names but no file has: the client draws with the default theme and
 * says so, instead of refusing to attach until the server (and every agent in it) restarts.
 */
describe('a theme that cannot be read', () => {
  let world: TuiWorld;

  before(async () => {
    world = await TuiWorld.create();
    const init = await world.orchestra(['init']);
    assert.equal(init.code, 0, init.stderr);
    await writeFile(
      join(world.root, '.orchestra', 'orchestra.json'),
      JSON.stringify({ theme: 'no-such-theme' }),
    );
  });
  after(async () => {
    await world?.dispose();
  });

  test('attaches with the default theme and says why', async () => {
    const term = await world.terminal({ cols: 120, rows: 20 });
    await term.typeLine(`${ORCHESTRA_BIN} tui; echo EXIT=$?`);
    await term.waitForScreen(
      (s) => s.includes('theme "no-such-theme" cannot be read: the default theme is used'),
      {
        what: 'the message about the theme',
      },
    );
    await term.waitForScreen((s) => statusLine(s).startsWith(`[${world.session}]`), {
      what: 'the status bar',
    });
  });
});
