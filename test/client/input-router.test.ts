import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type InputAction, InputRouter, type RouterMode } from '../../src/client/input-router.js';
import type { KeyAction } from '../../src/config/key-bindings.js';

/** The TUI's key routing as data (issue 12): keys in, actions out, no screen and no socket. */
describe('InputRouter', () => {
  const bindings = new Map<string, KeyAction>([
    ['d', 'detach'],
    ['x', 'none'],
  ]);
  const route = (router: InputRouter, input: string, mode: RouterMode = 'normal'): InputAction[] => [
    ...router.route(input, () => mode),
  ];

  test('typed keys go to the pane as one run', () => {
    assert.deepEqual(route(new InputRouter('\x02', bindings), 'ls\r'), [{ kind: 'forward', data: 'ls\r' }]);
  });

  test('the prefix and a bound key run its action; pane bytes before it are sent first', () => {
    const router = new InputRouter('\x02', bindings);
    assert.deepEqual(route(router, 'a\x02d'), [
      { kind: 'forward', data: 'a' },
      { kind: 'prefix' },
      { kind: 'command', action: 'detach' },
    ]);
    assert.equal(router.prefixPending, false);
  });

  test('the prefix is pending across chunks; twice sends it; unbound and `none` keys do nothing', () => {
    const router = new InputRouter('\x02', bindings);
    assert.deepEqual(route(router, '\x02'), [{ kind: 'prefix' }]);
    assert.equal(router.prefixPending, true);
    assert.deepEqual(route(router, '\x02'), [{ kind: 'command', action: 'send-prefix' }]);
    assert.deepEqual(route(router, '\x02x\x02z'), [
      { kind: 'prefix' },
      { kind: 'command', action: undefined },
      { kind: 'prefix' },
      { kind: 'command', action: undefined },
    ]);
  });

  test('a digit while pane numbers show selects; another key ends them and goes on', () => {
    const router = new InputRouter('\x02', bindings);
    assert.deepEqual(route(router, '3', 'numbers'), [
      { kind: 'end-numbers' },
      { kind: 'select-pane', target: '3' },
    ]);
    assert.deepEqual(route(router, 'a', 'numbers'), [
      { kind: 'end-numbers' },
      { kind: 'forward', data: 'a' },
    ]);
  });

  test("in another mode every key is the mode's; the mode is read again before each key", () => {
    let mode: RouterMode = 'other';
    const router = new InputRouter('\x02', bindings);
    const out: InputAction[] = [];
    for (const action of router.route('q\x1b[Ab', () => mode)) {
      out.push(action);
      if (action.kind === 'mode-key' && action.token === '\x1b[A') mode = 'normal';
    }
    assert.deepEqual(out, [
      { kind: 'mode-key', token: 'q' },
      { kind: 'mode-key', token: '\x1b[A' },
      { kind: 'forward', data: 'b' },
    ]);
  });

  test('a mouse report is its own action', () => {
    const [action] = route(new InputRouter('\x02', bindings), '\x1b[<0;5;3M');
    assert.equal(action?.kind, 'mouse');
  });
});
