import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseErrorPayload,
  parseServerControl,
  parseSnapshot,
  parseWelcome,
} from '../../src/client/server-messages.js';
import {
  controlSchema,
  errorPayloadSchema,
  snapshotSchema,
  welcomeSchema,
} from '../../src/protocol/messages.js';

/**
 * The client reads server messages with the zod-free checks of client/server-messages.ts; the
 * schemas of protocol/messages.ts say what those messages are. Both must accept and refuse alike.
 */
const pane = {
  ...{ id: 1, index: 0, name: 'sh', cols: 80, rows: 23, exited: false, exitCode: null },
  ...{ command: ['sh'], cwd: '/tmp', state: 'working' },
};
const layout = { session: 's', kind: 'tiled', zoomed: false, focus: 1, cols: 80, rows: 24, panes: [pane] };

type Case = [what: string, value: unknown];
const notice = { pane: 1, name: 'claude', state: 'waiting', summary: 'yes?', attempt: 't-1-a1', task: 't-1' };
const welcome = {
  ...{ protocol: 2, version: '0.1.0', session: 's', pid: 10, clientId: 1 },
  ui: { bindings: { z: 'zoom', d: 'detach' }, theme: 'default' },
};
const kinds = [
  {
    name: 'WELCOME',
    parse: (b: Buffer) => parseWelcome(b),
    schema: welcomeSchema,
    good: [
      ['minimal', { ...welcome }],
      ['missingEnv', { ...welcome, missingEnv: ['K'] }],
      ['a prefix', { ...welcome, ui: { ...welcome.ui, prefix: 'C-a' } }],
    ] as Case[],
    bad: [
      ['pid a string', { ...welcome, pid: '10' }],
      ['no session', { ...welcome, session: undefined }],
      ['missingEnv of numbers', { ...welcome, missingEnv: [1] }],
      ['no ui', { ...welcome, ui: undefined }],
      ['ui without a theme', { ...welcome, ui: { bindings: {} } }],
      ['a binding to a number', { ...welcome, ui: { ...welcome.ui, bindings: { z: 1 } } }],
      ['bindings an array', { ...welcome, ui: { ...welcome.ui, bindings: ['zoom'] } }],
      ['an array', [1]],
    ] as Case[],
  },
  {
    name: 'ERROR',
    parse: (b: Buffer) => parseErrorPayload(b),
    schema: errorPayloadSchema,
    good: [['with hint', { code: 'USAGE', message: 'm', hint: 'h' }]] as Case[],
    bad: [['hint a number', { code: 'USAGE', message: 'm', hint: 3 }]] as Case[],
  },
  {
    name: 'SNAPSHOT',
    parse: (b: Buffer) => parseSnapshot(b),
    schema: snapshotSchema,
    good: [['plain', { cols: 80, rows: 24, data: 'x' }]] as Case[],
    bad: [['data missing', { cols: 80, rows: 24 }]] as Case[],
  },
  {
    name: 'control',
    parse: (b: Buffer) => parseServerControl(b),
    schema: controlSchema,
    good: [
      ['response ok', { kind: 'response', id: 1, ok: true, result: { any: 1 } }],
      ['response error', { kind: 'response', id: 1, ok: false, error: { code: 'X', message: 'm' } }],
      ['layout event', { kind: 'event', event: { event: 'layout', layout } }],
      ['layout, no focus', { kind: 'event', event: { event: 'layout', layout: { ...layout, focus: null } } }],
      [
        'layout with sizes',
        {
          kind: 'event',
          event: { event: 'layout', layout: { ...layout, sizes: { main: 60, rows: [10, 20] } } },
        },
      ],
      ['server-exit', { kind: 'event', event: { event: 'server-exit', reason: 'bye' } }],
      ['notify', { kind: 'event', event: { event: 'notify', ...notice } }],
      [
        'notify, no task',
        { kind: 'event', event: { event: 'notify', ...notice, task: undefined, attempt: undefined } },
      ],
    ] as Case[],
    bad: [
      ['response id a string', { kind: 'response', id: '1', ok: true }],
      ['error without message', { kind: 'response', id: 1, ok: false, error: { code: 'X' } }],
      ['unknown event', { kind: 'event', event: { event: 'party' } }],
      [
        'pane name a number',
        { kind: 'event', event: { event: 'layout', layout: { ...layout, panes: [{ ...pane, name: 7 }] } } },
      ],
      [
        'pane cwd missing',
        {
          kind: 'event',
          event: { event: 'layout', layout: { ...layout, panes: [{ ...pane, cwd: undefined }] } },
        },
      ],
      [
        'status value a number',
        { kind: 'event', event: { event: 'layout', layout: { ...layout, status: { left: 1 } } } },
      ],
      [
        'notify without summary',
        { kind: 'event', event: { event: 'notify', ...notice, summary: undefined } },
      ],
      ['notify pane a string', { kind: 'event', event: { event: 'notify', ...notice, pane: '1' } }],
      [
        'sizes of strings',
        { kind: 'event', event: { event: 'layout', layout: { ...layout, sizes: { cols: ['a'] } } } },
      ],
      ['unknown kind', { kind: 'shout' }],
    ] as Case[],
  },
];

describe('client/server-messages agrees with the protocol schemas', () => {
  for (const kind of kinds) {
    for (const [what, value] of kind.good) {
      test(`${kind.name} ${what}: both accept`, () => {
        assert.equal(kind.schema.safeParse(value).success, true, 'the schema accepts it');
        assert.doesNotThrow(() => kind.parse(Buffer.from(JSON.stringify(value))));
      });
    }
    for (const [what, value] of kind.bad) {
      test(`${kind.name} ${what}: both refuse, in one line naming the message`, () => {
        assert.equal(kind.schema.safeParse(value).success, false, 'the schema refuses it');
        assert.throws(
          () => kind.parse(Buffer.from(JSON.stringify(value))),
          (error: Error) => error.message.startsWith(`${kind.name}`) && !error.message.includes('\n'),
        );
      });
    }
  }
  test('a payload that is not JSON is refused in one line', () => {
    assert.throws(() => parseWelcome(Buffer.from('{nope')), /^Error: WELCOME: payload is not JSON$/);
  });
});
