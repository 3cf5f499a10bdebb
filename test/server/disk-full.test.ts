import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { orchestraPaths } from '../../src/common/paths.js';
import { makeRepo } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../support/tmpfs.js';
import { listPanes, startTestSession, type TestSession, tempDir, waitFor } from './fixtures.js';

/**
 * The server on a full disk (issue 10: "ENOSPC: no space left on device, write at
 * FileLogger.error" ended it, and again after each restart). Its log lives on a 256 KiB tmpfs
 * filled to the last byte: the server starts, serves clients and runs panes; once there is room
 * again its log says how many lines were lost.
 */

describe('a server whose log is on a full disk', () => {
  let root: string;
  let xdg: string;
  let logs: string;
  let skip: string | undefined;
  let s: TestSession | undefined;
  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    const init = await runCli(['init'], { cwd: root, env: { ...process.env, XDG_CONFIG_HOME: xdg } });
    assert.equal(init.code, 0, init.stderr);
    logs = orchestraPaths(root).logs;
    skip = mountTmpfs(logs);
  });
  after(async () => {
    await s?.cleanup();
    unmountTmpfs(logs);
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('starts, serves clients and runs panes, and logs again once there is room', async (t) => {
    if (skip) return t.skip(skip);
    const filler = fillDisk(logs);
    s = await startTestSession('disk-full', { root });
    const client = await s.connect();
    // Each pane that ends is logged ("pane process ended"), and every line is dropped.
    for (let i = 0; i < 20; i++) {
      await client.request({ cmd: 'new-pane', name: `brief-${i}`, command: ['/bin/sh', '-c', 'exit 0'] });
    }
    await waitFor(async () => (await listPanes(client)).length === 0, 'the brief panes to end');
    s.server.containError('a test error', new Error('while the disk is full'));
    assert.equal((await listPanes(client)).length, 0, 'the server still answers');

    await rm(filler);
    await client.request({ cmd: 'new-pane', name: 'after', command: ['/bin/sh', '-c', 'exit 0'] });
    const log = orchestraPaths(root).log;
    const recovered = await waitFor(async () => {
      const lines = (await readFile(log, 'utf8').catch(() => '')).trimEnd().split('\n').filter(Boolean);
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.droppedLines);
    }, 'the log to say logging recovered');
    assert.equal(recovered.msg, 'logging recovered after failed writes');
    assert.ok((recovered.droppedLines as number) >= 21, `${recovered.droppedLines} lines dropped`);
  });
});
