import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { orchestraPaths } from '../../src/common/paths.js';
import type { PaneInfo } from '../../src/protocol/messages.js';
import { makeRepo } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';
import { pidAlive, startTestSession, type TestSession, tempDir, waitFor } from './fixtures.js';

/**
 * Starting servers: the built CLI racing to start one session, and a session's layout surviving a
 * restart of its server.
 */

/** Pids of `orchestra server -s <session>` processes (the background servers clients start). */
function serverPids(session: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => new RegExp(`\\sserver -s ${session}(\\s|$)`).test(line))
    .map((line) => Number.parseInt(line.trim(), 10));
}

describe('two clients starting the same session at once', () => {
  const session = `racer-${process.pid}`;
  let tmp: string;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    tmp = await tempDir();
    // Not a git repository, so the server has no store and no repository of its own.
    cwd = await tempDir();
    env = { ...process.env, ORCHESTRA_TMPDIR: tmp, ORCHESTRA_SESSION: '', XDG_CONFIG_HOME: cwd };
  });
  after(async () => {
    await runCli(['kill-server', '-t', session], { cwd, env, timeoutMs: 10_000 }).catch(() => undefined);
    for (const pid of serverPids(session)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(tmp, { recursive: true, force: true });
    await rm(cwd, { recursive: true, force: true });
  });

  test('end with exactly one server holding both panes', async () => {
    const argv = ['new-pane', '-t', session, '--json', '--', 'sleep', '30'];
    const results = await Promise.all([runCli(argv, { cwd, env }), runCli(argv, { cwd, env })]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const ids = results.map((r) => (JSON.parse(r.stdout) as PaneInfo).id);
    assert.notEqual(ids[0], ids[1], 'two different panes');
    assert.equal(serverPids(session).length, 1, `one server process: ${serverPids(session)}`);
    const ls = await runCli(['ls', '-t', session, '--json'], { cwd, env });
    assert.equal(ls.code, 0, ls.stderr);
    const panes = JSON.parse(ls.stdout) as PaneInfo[];
    assert.deepEqual(panes.map((p) => p.id).sort(), [...ids].sort());
    assert.ok(panes.every((p) => p.command.join(' ') === 'sleep 30' && !p.exited));
    const kill = await runCli(['kill-server', '-t', session], { cwd, env });
    assert.equal(kill.code, 0, kill.stderr);
    await waitFor(() => serverPids(session).length === 0, 'the server process to exit');
    for (const pane of panes) await waitFor(() => !pidAlive(pane.pid!), `pane process ${pane.pid} to end`);
  });
});

describe('layout persistence', () => {
  let root: string;
  let xdg: string;
  let first: TestSession | undefined;
  let second: TestSession | undefined;
  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    const init = await runCli(['init'], { cwd: root, env: { ...process.env, XDG_CONFIG_HOME: xdg } });
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await second?.cleanup();
    await first?.cleanup();
    if (first) await rm(first.tmp, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('kind, panes and focus survive a restart of the server', async () => {
    const tmp = await tempDir();
    first = await startTestSession('persist', { root, tmp });
    const client = await first.connect();
    for (const name of ['editor', 'logs', 'shell']) {
      await client.request({ cmd: 'new-pane', name, command: ['sleep', '30'] });
    }
    await client.request({ cmd: 'select-layout', layout: 'even-vertical' });
    await client.request({ cmd: 'select-pane', pane: 'logs' });
    const before = first.server.layoutState();
    // Straight away, as `orchestra select-pane ... && orchestra kill-server` would.
    await client.request({ cmd: 'kill-server' });
    await first.server.closed;

    second = await startTestSession('persist', { root, tmp });
    const after = second.server.layoutState();
    assert.equal(after.kind, 'even-vertical');
    assert.deepEqual(
      after.panes.map((p) => p.name),
      before.panes.map((p) => p.name),
    );
    const focused = after.panes.find((p) => p.id === after.focus);
    assert.equal(focused?.name, 'logs');
    assert.ok(after.panes.every((p) => !p.exited && p.command.join(' ') === 'sleep 30'));
    assert.ok(
      after.panes.every((p) => !before.panes.some((old) => old.pid === p.pid)),
      'each command started afresh',
    );
    // Every line of a session server's log names its session, whichever part wrote it.
    const lines = (await readFile(orchestraPaths(root).log, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['server started', 'server shutting down', 'server started'],
    );
    assert.deepEqual(
      lines.filter((l) => l.session !== 'persist'),
      [],
    );
  });
});
