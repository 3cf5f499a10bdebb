import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ServerConnection } from '../../src/client/connection.js';
import { isOrchestraError } from '../../src/common/errors.js';
import { probeSocket } from '../../src/ipc/socket-lock.js';
import { TITLE_ROWS } from '../../src/layout/layout.js';
import { encodeFrame, type Frame, FrameDecoder, FrameType, NO_PANE } from '../../src/protocol/frame.js';
import { type LayoutState, PROTOCOL_VERSION, versionMismatchMessage } from '../../src/protocol/messages.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import { STATUS_ROWS } from '../../src/protocol/status-bar.js';
import { startServer } from '../../src/server/start.js';
import {
  capture,
  listPanes,
  pidAlive,
  sendText,
  startTestSession,
  TEST_VERSION,
  type TestSession,
  tempDir,
  waitFor,
} from './fixtures.js';

/**
 * The session server over its real Unix socket, with real PTYs: the handshake, the scripting
 * commands and clients that misbehave.
 */

const HELLO = {
  version: TEST_VERSION,
  mode: 'attach' as const,
  cols: 80,
  rows: 24,
  term: 'xterm-256color',
  readOnly: false,
};

/**
 * Sends raw bytes to a socket and collects the frames that come back until the peer closes.
 * Rejects if the peer has not closed within `timeoutMs` (a hang is a failure).
 */
function exchange(path: string, bytes: Buffer, timeoutMs = 3_000): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
    socket.on('error', () => {
      // 'close' follows.
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(frames);
    });
    socket.once('connect', () => socket.write(bytes));
  });
}

function errorOf(frames: Frame[]): { code: string; message: string } {
  const frame = frames.find((f) => f.type === FrameType.Error);
  assert.ok(frame, `an ERROR frame among ${frames.map((f) => f.type).join(',')}`);
  return JSON.parse(frame.payload.toString('utf8'));
}

describe('session server: handshake and bad clients', () => {
  let s: TestSession;
  before(async () => {
    s = await startTestSession('handshake');
  });
  after(async () => {
    await s?.cleanup();
  });

  test('HELLO with another protocol number gets PROTOCOL_MISMATCH and the connection ends', async () => {
    const other = PROTOCOL_VERSION + 41;
    // A future client may send fields this server does not know; the version is read first.
    const hello = JSON.stringify({ ...HELLO, protocol: other, flavour: 'future' });
    const frames = await exchange(s.socket, encodeFrame(FrameType.Hello, NO_PANE, hello));
    const error = errorOf(frames);
    assert.equal(error.code, 'PROTOCOL_MISMATCH');
    assert.equal(error.message, versionMismatchMessage(PROTOCOL_VERSION, other));
    assert.ok(!frames.some((f) => f.type === FrameType.Welcome), 'no WELCOME');
  });

  test('a HELLO without a protocol number is a mismatch too, not a crash', async () => {
    const frames = await exchange(s.socket, encodeFrame(FrameType.Hello, NO_PANE, '{"hello":true}'));
    assert.equal(errorOf(frames).message, versionMismatchMessage(PROTOCOL_VERSION, -1));
  });

  test('a first frame that is not HELLO, or an oversized frame, is refused and the server carries on', async () => {
    const request = JSON.stringify({ kind: 'request', id: 1, command: { cmd: 'list-panes' } });
    const first = await exchange(s.socket, encodeFrame(FrameType.Control, NO_PANE, request));
    assert.equal(errorOf(first).code, 'PROTOCOL');
    const header = Buffer.alloc(9);
    header.writeUInt8(FrameType.Hello, 0);
    header.writeUInt32BE(0xffffffff, 5);
    const oversized = await exchange(s.socket, header);
    assert.match(errorOf(oversized).message, /exceeds/);
    const client = await s.connect();
    assert.deepEqual(await listPanes(client), []);
    client.close();
  });

  test('a client meeting a server of another protocol fails with PROTOCOL_MISMATCH', async () => {
    // Servers of other versions, stood in by a socket that answers HELLO as such a server would:
    // one with today's WELCOME fields, one whose WELCOME has changed shape.
    const welcomes = [
      { protocol: PROTOCOL_VERSION + 1, version: '9', session: 'x', pid: 1, clientId: 1 },
      { protocol: PROTOCOL_VERSION + 2, server: { version: '10' } },
    ];
    const dir = await tempDir();
    let next = 0;
    const fake = createServer((socket) => {
      const welcome = welcomes[next++];
      socket.once('data', () => socket.end(encodeFrame(FrameType.Welcome, NO_PANE, JSON.stringify(welcome))));
    });
    await new Promise<void>((resolve) => fake.listen(`${dir}/old`, resolve));
    try {
      for (const welcome of welcomes) {
        await assert.rejects(ServerConnection.open(`${dir}/old`, { ...HELLO, mode: 'command' }), (error) => {
          assert.ok(isOrchestraError(error, 'PROTOCOL_MISMATCH'), String(error));
          assert.equal(error.message, versionMismatchMessage(welcome.protocol, PROTOCOL_VERSION));
          return true;
        });
      }
    } finally {
      await new Promise((resolve) => fake.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a HELLO of the right protocol but missing a field is refused in one line', async () => {
    const { cols: _cols, ...partial } = HELLO;
    const hello = JSON.stringify({ ...partial, protocol: PROTOCOL_VERSION });
    const frames = await exchange(s.socket, encodeFrame(FrameType.Hello, NO_PANE, hello));
    const error = errorOf(frames);
    assert.equal(error.code, 'PROTOCOL');
    assert.match(error.message, /^HELLO: cols: [^\n]+$/);
  });

  test('a second server for a live session is refused; a stale socket is replaced', async () => {
    await assert.rejects(startServer({ session: 'handshake', version: TEST_VERSION, env: s.env }), (error) =>
      isOrchestraError(error, 'SERVER_EXISTS'),
    );
    const client = await s.connect();
    assert.deepEqual(await listPanes(client), [], 'the first server is untouched');
    client.close();
    // A socket file nobody listens on, as a server killed with SIGKILL leaves behind.
    const stalePath = socketPath('stale', s.env);
    const killed = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(await probeSocket(stalePath), 'stale');
    const revived = await startServer({ session: 'stale', version: TEST_VERSION, env: s.env });
    try {
      assert.equal(await probeSocket(stalePath), 'live');
    } finally {
      await revived.shutdown('test');
    }
  });
});

describe('session server: commands over the socket', () => {
  let s: TestSession;
  before(async () => {
    s = await startTestSession('commands');
  });
  after(async () => {
    await s?.cleanup();
  });

  test('resize: the pane follows the attached client and `stty size` in it agrees', async () => {
    const layouts: LayoutState[] = [];
    const attached = await s.connect(
      { mode: 'attach', cols: 100, rows: 30 },
      { onLayout: (l) => layouts.push(l) },
    );
    const pane = await attached.request<{ id: number; cols: number; rows: number }>({
      cmd: 'new-pane',
      name: 'shell',
      command: ['/bin/sh'],
      env: { PS1: '$ ' },
    });
    assert.deepEqual([pane.cols, pane.rows], [100, 30 - STATUS_ROWS - TITLE_ROWS]);
    const result = await attached.request<{ cols: number; rows: number }>({
      cmd: 'resize',
      cols: 60,
      rows: 20,
    });
    assert.deepEqual(result, { cols: 60, rows: 20 });
    const expected = { cols: 60, rows: 20 - STATUS_ROWS - TITLE_ROWS };
    const [info] = await listPanes(attached);
    assert.deepEqual([info!.cols, info!.rows], [expected.cols, expected.rows]);
    await waitFor(() => layouts.at(-1)?.cols === 60, 'a layout event with the new size');
    await waitFor(async () => /^\$ $/m.test(await capture(attached, 'shell')), 'the prompt');
    await sendText(attached, 'shell', 'stty size\r');
    const text = await waitFor(async () => {
      const t = await capture(attached, 'shell');
      return new RegExp(`^${expected.rows} ${expected.cols}$`, 'm').test(t) ? t : undefined;
    }, '`stty size` to print the new size');
    assert.doesNotMatch(text, /^28 100$/m);
    await attached.request({ cmd: 'kill-pane', pane: 'shell' });
    attached.close();
  });

  test('resize with two clients: the window takes the size the latest client last reported', async () => {
    // As tmux's window-size latest: the first client resizes while the second is the latest, so
    // the window must take the first client's new size, not the one it attached with.
    const first = await s.connect({ mode: 'attach', cols: 100, rows: 30 });
    const second = await s.connect({ mode: 'attach', cols: 90, rows: 25 });
    try {
      const result = await first.request<{ cols: number; rows: number }>({
        cmd: 'resize',
        cols: 60,
        rows: 20,
      });
      assert.deepEqual(
        result,
        { cols: 60, rows: 20 },
        'the first client is the latest again, at its new size',
      );
      const again = await second.request<{ cols: number; rows: number }>({
        cmd: 'resize',
        cols: 90,
        rows: 25,
      });
      assert.deepEqual(again, { cols: 90, rows: 25 });
    } finally {
      first.close();
      second.close();
    }
  });

  test('capture-pane: -S -N reaches N lines into history', async () => {
    const client = await s.connect();
    await client.request({
      cmd: 'new-pane',
      name: 'hist',
      command: ['/bin/sh', '-c', 'seq 1 300; exec sleep 30'],
    });
    const screen = await waitFor(async () => {
      const t = await capture(client, 'hist');
      return t.endsWith('300') ? t : undefined;
    }, 'seq to finish');
    const visible = screen.split('\n');
    const top = Number(visible[0]);
    assert.ok(top > 60, `the screen starts at line ${top}, so history holds more than 50 lines`);
    assert.ok(!visible.includes('1'), 'the first lines are in history, not on screen');
    const withHistory = (await capture(client, 'hist', -50)).split('\n');
    assert.equal(withHistory.length, visible.length + 50);
    assert.deepEqual(
      withHistory.map(Number),
      Array.from({ length: visible.length + 50 }, (_, i) => top - 50 + i),
    );
    const all = (await capture(client, 'hist', -100_000)).split('\n');
    assert.equal(all[0], '1');
    assert.equal(all.length, 300);
    await client.request({ cmd: 'kill-pane', pane: 'hist' });
    client.close();
  });

  test('kill-pane ends the pane and its process; select-pane ! goes back to the last pane', async () => {
    const client = await s.connect();
    const ids: Record<string, { id: number; pid?: number }> = {};
    for (const name of ['a', 'b', 'c']) {
      ids[name] = await client.request({ cmd: 'new-pane', name, command: ['sleep', '30'] });
    }
    // The newest pane has the focus; the one before it is the last pane.
    assert.equal(s.server.layoutState().focus, ids.c!.id);
    assert.deepEqual(await client.request({ cmd: 'select-pane', pane: '!' }), { pane: ids.b!.id });
    assert.equal(s.server.layoutState().focus, ids.b!.id);
    assert.deepEqual(await client.request({ cmd: 'select-pane', pane: '!' }), { pane: ids.c!.id });
    await client.request({ cmd: 'select-pane', pane: 'a' });
    assert.deepEqual(await client.request({ cmd: 'select-pane', pane: '!' }), { pane: ids.c!.id });

    const pidA = ids.a!.pid;
    assert.ok(pidA && pidAlive(pidA));
    await client.request({ cmd: 'kill-pane', pane: 'a' });
    assert.deepEqual(
      (await listPanes(client)).map((p) => p.name),
      ['b', 'c'],
    );
    await waitFor(() => !pidAlive(pidA), `pid ${pidA} of the killed pane to be gone`);
    await assert.rejects(client.request({ cmd: 'select-pane', pane: 'a' }), (error) =>
      isOrchestraError(error, 'PANE_NOT_FOUND'),
    );
    for (const name of ['b', 'c']) await client.request({ cmd: 'kill-pane', pane: name });
    assert.deepEqual(await listPanes(client), []);
    client.close();
  });

  test('a client killed mid-stream leaves the server answering and the pane running', async () => {
    let received = 0;
    const doomed = await s.connect(
      { mode: 'attach' },
      {
        onOutput: (_pane, data) => {
          received += data.length;
        },
      },
    );
    const pane = await doomed.request<{ id: number; pid: number }>({
      cmd: 'new-pane',
      name: 'yes',
      command: ['yes', 'orchestra'],
    });
    await waitFor(() => received > 100_000, 'the attached client to be receiving output');
    doomed.rawSocket.destroy();
    const other = await s.connect();
    const clients = await waitFor(async () => {
      const list = await other.request<unknown[]>({ cmd: 'list-clients' });
      return list.length === 0 ? list : undefined;
    }, 'the server to drop the dead client');
    assert.deepEqual(clients, []);
    const [info] = await listPanes(other);
    assert.equal(info?.name, 'yes');
    assert.equal(info?.exited, false);
    assert.ok(pidAlive(pane.pid));
    assert.match(await capture(other, 'yes'), /^orchestra$/m);
    let parsed = 0;
    const listener = s.server.listPanes()[0]!.onOutput((data) => {
      parsed += data.length;
    });
    await waitFor(() => parsed > 100_000, 'the pane to keep printing');
    listener.dispose();
    await other.request({ cmd: 'kill-pane', pane: 'yes' });
    other.close();
  });
});

describe('session server: kill-server', () => {
  let s: TestSession;
  before(async () => {
    s = await startTestSession('doomed');
  });
  after(async () => {
    await s?.cleanup();
  });

  test('kill-server ends pane processes, tells attached clients and removes the socket', async () => {
    let closeReason: string | undefined;
    const watcher = await s.connect({ mode: 'attach' }, { onClose: (reason) => (closeReason = reason) });
    const client = await s.connect();
    const pids: number[] = [];
    for (const name of ['one', 'two']) {
      const pane = await client.request<{ pid: number }>({ cmd: 'new-pane', name, command: ['sleep', '30'] });
      pids.push(pane.pid);
    }
    assert.ok(pids.every(pidAlive));
    assert.deepEqual(await client.request({ cmd: 'kill-server' }), { session: 'doomed' });
    const reason = await Promise.race([
      s.server.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('server did not close')), 5_000)),
    ]);
    assert.equal(reason, 'kill-server');
    await assert.rejects(access(s.socket), { code: 'ENOENT' });
    for (const pid of pids) await waitFor(() => !pidAlive(pid), `pane process ${pid} to end`);
    await waitFor(() => closeReason, 'the attached client to see the end');
    assert.match(closeReason!, /server exited \(kill-server\)/);
    await assert.rejects(s.connect(), (error) => isOrchestraError(error, 'SERVER_UNREACHABLE'));
    watcher.close();
  });
});
