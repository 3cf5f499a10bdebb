import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CLIENT_DISCARD_BYTES } from '../../src/protocol/flow-control.js';
import { encodeFrame, FrameType, NO_PANE } from '../../src/protocol/frame.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { listPanes, startTestSession, TEST_VERSION, type TestSession, waitFor } from './fixtures.js';

/**
 * Client output budget (issue 10): a client that sends requests and never reads its socket is
 * dropped once the server holds its output budget (CLIENT_OUTPUT_BUDGET_BYTES) queued for it, instead of growing the server's
 * heap until "Reached heap limit" ends it and every pane. Other clients and panes carry on.
 */

/**
 * The budget's scale. CLIENT_OUTPUT_BUDGET_BYTES is twice CLIENT_DISCARD_BYTES; the test reads the
 * older constant so that it also runs (and fails) on the code from before the budget.
 */
const BUDGET_SCALE = 2 * CLIENT_DISCARD_BYTES;

/** What the never-reading client asks for in all, in replies' bytes: far more than the budget. */
const ASKED_BYTES = 40 * BUDGET_SCALE;

/** A raw client over the session's socket: HELLO in command mode, then nothing read at all. */
async function rawClient(path: string): Promise<Socket> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  socket.write(
    encodeFrame(
      FrameType.Hello,
      NO_PANE,
      JSON.stringify({
        protocol: PROTOCOL_VERSION,
        version: TEST_VERSION,
        mode: 'command',
        cols: 80,
        rows: 24,
        term: 'xterm-256color',
        readOnly: false,
      }),
    ),
  );
  return socket;
}

function request(id: number, command: Record<string, unknown>): Buffer {
  return encodeFrame(FrameType.Control, NO_PANE, JSON.stringify({ kind: 'request', id, command }));
}

describe('client output budget', () => {
  let s: TestSession;
  before(async () => {
    s = await startTestSession('budget');
  });
  after(async () => {
    await s?.cleanup();
  });

  test('a command client that never reads is dropped; the server and its panes carry on', async (t) => {
    const watcher = await s.connect();
    // A pane whose history makes every `capture-pane -S -10000` reply large (10,000 full lines).
    const pane = s.server.newPane({
      name: 'full',
      command: ['/bin/sh', '-c', 'yes "$(printf %075d 0)" | head -n 20000; echo FULL; exec sleep 60'],
    });
    await waitFor(() => pane.capture().includes('FULL'), 'the pane to fill its history', 20_000);
    const capture = { cmd: 'capture-pane' as const, pane: 'full', start: -10_000 };
    const { text } = await watcher.request<{ text: string }>(capture);
    const replyBytes = text.length;
    assert.ok(replyBytes > 100_000, `a capture-pane reply of ${replyBytes} bytes is large`);
    const requests = Math.ceil(ASKED_BYTES / replyBytes);

    const rssBefore = process.memoryUsage().rss;
    let largestRss = rssBefore;
    const sampler = setInterval(() => {
      largestRss = Math.max(largestRss, process.memoryUsage().rss);
    }, 20);
    const greedy = await rawClient(s.socket);
    const closed = new Promise<void>((resolve) => greedy.once('close', () => resolve()));
    greedy.on('error', () => {
      // Reset by the server when it drops this client: expected.
    });
    // Keep asking, never reading: the way a wedged script or a hostile peer behaves.
    let sent = 0;
    const writer = setInterval(() => {
      for (let i = 0; i < 50 && sent < requests && !greedy.destroyed; i++) {
        greedy.write(request(++sent, capture));
      }
      if (sent >= requests) clearInterval(writer);
    }, 5);
    try {
      const outcome = await Promise.race([
        closed.then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('still open'), 20_000)),
      ]);
      assert.equal(
        outcome,
        'closed',
        `the server kept a client that read nothing (${sent} requests of ${replyBytes}-byte replies)`,
      );
    } finally {
      clearInterval(writer);
      clearInterval(sampler);
      greedy.destroy();
    }
    const growth = largestRss - rssBefore;
    t.diagnostic(
      `dropped after ${sent} requests of ${replyBytes} bytes; RSS +${Math.round(growth / 1024 / 1024)} MiB`,
    );
    // The budget, plus the replies to one chunk of requests (built before any is sent), plus garbage;
    // before the budget the heap grew until the whole reply stream was queued (issue 10: 4.3 GB).
    assert.ok(
      growth < 16 * BUDGET_SCALE,
      `RSS grew by ${Math.round(growth / 1024 / 1024)} MiB while the client read nothing`,
    );
    // The server still answers everyone else, and the pane lives on.
    const panes = await listPanes(watcher);
    const full = panes.find((p) => p.name === 'full');
    assert.ok(full && !full.exited, 'the pane is still running');
    const second = await s.connect();
    assert.ok((await listPanes(second)).some((p) => p.name === 'full'));
    await watcher.request({ cmd: 'kill-pane', pane: 'full' });
  });
});
