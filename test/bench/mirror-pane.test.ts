import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import serializeAddon from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';
import { MirrorPane } from '../../bench/lib/mirror-pane.js';
import { LOW_WATERMARK_CHARS } from '../../src/protocol/flow-control.js';
import type { Snapshot } from '../../src/protocol/messages.js';
import { waitFor } from '../server/fixtures.js';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;

/** A snapshot as the server makes one: a headless terminal of that size, serialised. */
async function snapshotOf(data: string, cols: number, rows: number): Promise<Snapshot> {
  const terminal = new Terminal({ cols, rows, allowProposedApi: true });
  const serializer = new SerializeAddon();
  terminal.loadAddon(serializer as unknown as Parameters<typeof terminal.loadAddon>[0]);
  await new Promise<void>((resolve) => terminal.write(data, resolve));
  const snapshot = { cols, rows, data: serializer.serialize() };
  terminal.dispose();
  return snapshot;
}

function line(mirror: MirrorPane, y: number): string {
  return mirror.terminal.buffer.active.getLine(y)?.translateToString(true) ?? '';
}

describe('MirrorPane', () => {
  test('acknowledges every parsed character in batches no larger than the low watermark', async () => {
    const acks: number[] = [];
    let parsedCalls = 0;
    const mirror = new MirrorPane(
      1,
      80,
      24,
      (chars) => acks.push(chars),
      () => parsedCalls++,
    );
    try {
      const chunks = ['a'.repeat(3000), 'é漢'.repeat(2000), 'x'.repeat(7000), '😀'.repeat(10)];
      // The server counts UTF-16 code units of the decoded text.
      const total = chunks.reduce((n, c) => n + c.length, 0);
      for (const chunk of chunks) mirror.write(Buffer.from(chunk));
      await waitFor(() => acks.reduce((a, b) => a + b, 0) === total, `acks adding up to ${total}`);
      assert.ok(
        acks.every((n) => n > 0 && n <= LOW_WATERMARK_CHARS),
        `batches ${acks.join(',')}`,
      );
      assert.equal(parsedCalls, chunks.length);
      // Nothing more is acknowledged later.
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(
        acks.reduce((a, b) => a + b, 0),
        total,
      );
    } finally {
      mirror.dispose();
    }
  });

  test('a small write is acknowledged after a short idle time', async () => {
    const acks: number[] = [];
    const mirror = new MirrorPane(
      1,
      80,
      24,
      (chars) => acks.push(chars),
      () => {},
    );
    try {
      mirror.write(Buffer.from('hello'));
      await waitFor(() => acks.length > 0, 'an ack', 1_000, 5);
      assert.deepEqual(acks, [5]);
    } finally {
      mirror.dispose();
    }
  });

  test('a snapshot replaces the screen at its size; input waits while it replays', async () => {
    const mirror = new MirrorPane(
      3,
      80,
      24,
      () => {},
      () => {},
    );
    try {
      mirror.write(Buffer.from('old screen'));
      const snapshot = await snapshotOf('first\r\n\x1b[31msecond\x1b[0m\r\n漢字', 30, 5);
      let done = false;
      mirror.applySnapshot(snapshot, () => {
        done = true;
      });
      assert.equal(mirror.replaying, true);
      await waitFor(() => done, 'the replay');
      assert.equal(mirror.replaying, false);
      assert.deepEqual([mirror.terminal.cols, mirror.terminal.rows], [30, 5]);
      assert.deepEqual([line(mirror, 0), line(mirror, 1), line(mirror, 2)], ['first', 'second', '漢字']);
      const cell = mirror.terminal.buffer.active.getLine(1)!.getCell(0)!;
      assert.equal(cell.getFgColor(), 1, 'colours come through the snapshot');
      mirror.resize(40, 6);
      assert.deepEqual([mirror.terminal.cols, mirror.terminal.rows], [40, 6]);
    } finally {
      mirror.dispose();
    }
  });
});
