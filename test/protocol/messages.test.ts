import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  commandSchema,
  controlSchema,
  helloSchema,
  PROTOCOL_VERSION,
  parsePayload,
  versionMismatchMessage,
} from '../../src/protocol/messages.js';

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

describe('protocol messages', () => {
  test('a valid request parses into its command', () => {
    const message = parsePayload(
      controlSchema,
      json({ kind: 'request', id: 4, command: { cmd: 'capture-pane', pane: 'agent', start: -20 } }),
      'control message',
    );
    assert.equal(message.kind, 'request');
    assert.ok(message.kind === 'request');
    assert.equal(message.id, 4);
    assert.deepEqual(message.command, { cmd: 'capture-pane', pane: 'agent', start: -20 });
  });

  test('a valid HELLO parses; a HELLO without its size does not', () => {
    const hello = {
      protocol: PROTOCOL_VERSION,
      version: '0.1.0',
      mode: 'attach',
      cols: 120,
      rows: 40,
      term: 'xterm-256color',
      readOnly: false,
    };
    assert.deepEqual(parsePayload(helloSchema, json(hello), 'HELLO'), hello);
    const { cols: _cols, ...sizeless } = hello;
    assert.throws(() => parsePayload(helloSchema, json(sizeless), 'HELLO'), /^Error: HELLO: cols: /);
  });

  test('an unknown command is refused with a one-line message naming the field', () => {
    assert.throws(
      () =>
        parsePayload(
          controlSchema,
          json({ kind: 'request', id: 1, command: { cmd: 'format-disk' } }),
          'control message',
        ),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /^control message: command\.cmd: /);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
    assert.equal(commandSchema.safeParse({ cmd: 'format-disk' }).success, false);
  });

  test('a payload that is not JSON is refused in one line', () => {
    assert.throws(() => parsePayload(controlSchema, Buffer.from('{nope'), 'control message'), {
      message: 'control message: payload is not JSON',
    });
  });

  test('a bad field inside a known command is named', () => {
    assert.throws(
      () =>
        parsePayload(
          controlSchema,
          json({ kind: 'request', id: 1, command: { cmd: 'resize', cols: 0, rows: 5 } }),
          'm',
        ),
      /^Error: m: command\.cols: .*\S$/,
    );
  });

  test('versionMismatchMessage names both versions and the way out', () => {
    const message = versionMismatchMessage(3, 1);
    assert.equal(
      message,
      'server speaks protocol 3, this client 1: run `orchestra kill-server` or use the matching version',
    );
    assert.notEqual(versionMismatchMessage(1, 3), message, 'the order of the versions matters');
  });
});
