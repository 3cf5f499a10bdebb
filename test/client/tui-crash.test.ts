import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as pty from 'node-pty';
import { DEFAULT_KEY_BINDINGS } from '../../src/config/key-bindings.js';
import { ensureSocketDir } from '../../src/ipc/socket-dir.js';
import { encodeFrame, FrameDecoder, FrameType, NO_PANE } from '../../src/protocol/frame.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { tempDir, waitFor } from '../server/fixtures.js';
import { ORCHESTRA_BIN } from '../support/cli.js';

/**
 * A client meeting what it cannot read (a newer server's event, a bug) ends as a lost server
 * does — the person's terminal given back (main screen, mouse and bracketed paste off, cursor
 * shown) and the reason printed — never with a stack trace on the screen it was drawing.
 */
describe('a client that cannot read its server', () => {
  let tmp: string;
  let server: Server;

  before(async () => {
    tmp = await tempDir();
    const env = { ORCHESTRA_TMPDIR: tmp };
    await ensureSocketDir(env);
    server = createServer((socket) => {
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.type !== FrameType.Hello) continue;
          const welcome = { protocol: PROTOCOL_VERSION, version: 'x', session: 'odd', pid: 1, clientId: 1 };
          const ui = { bindings: { ...DEFAULT_KEY_BINDINGS }, theme: 'default' };
          socket.write(encodeFrame(FrameType.Welcome, NO_PANE, JSON.stringify({ ...welcome, ui })));
          setTimeout(() => {
            const event = { kind: 'event', event: { event: 'from-the-future' } };
            socket.write(encodeFrame(FrameType.Control, NO_PANE, JSON.stringify(event)));
          }, 500);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath('odd', env), resolve));
  });
  after(async () => {
    server?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test('gives the terminal back, says why, and exits 1', async () => {
    let output = '';
    const client = pty.spawn(process.execPath, [ORCHESTRA_BIN, 'attach', '-t', 'odd'], {
      cols: 80,
      rows: 24,
      env: { ...process.env, ORCHESTRA_TMPDIR: tmp, TERM: 'xterm-256color' } as Record<string, string>,
    });
    client.onData((data) => {
      output += data;
    });
    const code = await new Promise<number>((resolve) => client.onExit(({ exitCode }) => resolve(exitCode)));
    await waitFor(() => output.includes('lost server'), 'the reason');
    assert.equal(code, 1);
    const left = output.lastIndexOf('\x1b[?1049l');
    assert.ok(
      output.indexOf('\x1b[?1049h') >= 0 && left > output.indexOf('\x1b[?1049h'),
      'the main screen back',
    );
    assert.ok(output.lastIndexOf('\x1b[?1000l') > output.lastIndexOf('\x1b[?1000h'), 'mouse reporting off');
    assert.ok(output.lastIndexOf('\x1b[?2004l') > output.lastIndexOf('\x1b[?2004h'), 'bracketed paste off');
    assert.ok(output.slice(left).includes('[lost server: the server sent what this client cannot read'));
    assert.doesNotMatch(output, /at \S+ \(file:/, 'no stack trace');
  });
});
