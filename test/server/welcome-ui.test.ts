import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ServerConnection } from '../../src/client/connection.js';
import { DEFAULT_KEY_BINDINGS } from '../../src/config/key-bindings.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import { startServer } from '../../src/server/start.js';
import { TEST_VERSION, tempDir } from './fixtures.js';

/** A plain session's server (no repository) and what it tells a client about keys and theme. */
async function welcomeUi(userConfig: unknown | undefined) {
  const tmp = await tempDir();
  const xdg = join(tmp, 'xdg');
  if (userConfig !== undefined) {
    await mkdir(join(xdg, 'orchestra'), { recursive: true });
    await writeFile(join(xdg, 'orchestra', 'config.json'), JSON.stringify(userConfig));
  }
  const env = { ...process.env, ORCHESTRA_TMPDIR: tmp, ORCHESTRA_SESSION: '', XDG_CONFIG_HOME: xdg };
  try {
    const server = await startServer({ session: 'plain', version: TEST_VERSION, env });
    try {
      const connection = await ServerConnection.open(
        socketPath('plain', env),
        { version: TEST_VERSION, mode: 'command', cols: 80, rows: 24, term: 'xterm', readOnly: false },
        {},
      );
      connection.close();
      return connection.welcome!.ui;
    } finally {
      await server.shutdown('test');
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

test("a plain session's clients get the user-level config's keys and theme; without one, the defaults", async () => {
  const ui = await welcomeUi({ keys: { prefix: 'C-g', bindings: { x: 'help' } }, theme: 'light' });
  assert.equal(ui.prefix, 'C-g');
  assert.equal(ui.theme, 'light');
  assert.equal(ui.bindings.x, 'help');
  assert.equal(ui.bindings.z, 'zoom', 'merged over the defaults');
  assert.deepEqual(await welcomeUi(undefined), { bindings: { ...DEFAULT_KEY_BINDINGS }, theme: 'default' });
  await assert.rejects(welcomeUi({ theme: 7 }), /theme/);
});
