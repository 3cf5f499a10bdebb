import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeRepo } from '../git/fixtures.js';
import { startTestSession } from '../server/fixtures.js';
import { runCli } from '../support/cli.js';

test("commands without -t find the repository's session by the config's sessionName, as tui names it", async () => {
  const root = await makeRepo();
  await writeFile(join(root, '.orchestra', 'orchestra.json'), JSON.stringify({ sessionName: 'custom-name' }));
  const session = await startTestSession('custom-name', { root });
  try {
    const connection = await session.connect();
    await connection.request({ cmd: 'new-pane', name: 'here', command: ['sleep', '30'] });
    const panes = await runCli(['list-panes'], { cwd: root, env: session.env });
    assert.equal(panes.code, 0, panes.stderr);
    assert.match(panes.stdout, /here/);
  } finally {
    await session.cleanup();
    await rm(root, { recursive: true, force: true });
  }
});
