import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ORCHESTRA_BIN } from '../support/cli.js';
import { statusLine, TuiWorld } from './tui-fixture.js';

/** Polls `path` until it has content, up to `ms`; '' when it never did. */
async function waitForFile(path: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  return '';
}

/**
 * The terminal a client runs in can vanish under it (an SSH connection drops, the terminal window
 * closes): the client gets SIGHUP and its writes fail with EIO. It must end as a detach does —
 * exit 0, no crash — and leave the session running.
 */
describe('a client whose terminal goes away', () => {
  let world: TuiWorld;

  before(async () => {
    world = await TuiWorld.create();
    await world.client(['tui'], { cols: 100, rows: 20 });
  });
  after(async () => {
    await world?.dispose();
  });

  test('exits 0 without an error when its terminal is closed', async () => {
    const term = await world.terminal({ cols: 100, rows: 20 });
    const rc = join(world.base, 'attach.rc');
    const err = join(world.base, 'attach.err');
    // The shell ignores the hangup so that it lives to write down how the client ended (the
    // client itself listens for SIGHUP, which undoes the inherited ignore).
    await term.typeLine(
      `sh -c "trap '' HUP; ${ORCHESTRA_BIN} attach -t ${world.session} 2>${err}; echo \\$? >${rc}"`,
    );
    await term.waitForScreen((s) => statusLine(s).startsWith(`[${world.session}]`), { what: 'the client' });
    await term.kill();
    assert.equal(
      (await waitForFile(rc, 10_000)).trim(),
      '0',
      `exit code; stderr: ${await readFile(err, 'utf8').catch(() => '')}`,
    );
    assert.equal(await readFile(err, 'utf8'), '', 'nothing on stderr');
    const ls = await world.orchestra(['ls']);
    assert.match(ls.stdout, new RegExp(`^${world.session}\\b`, 'm'), 'the session runs on');
  });
});
