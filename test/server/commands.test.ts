import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import type { Pane, PaneCloseReason } from '../../src/panes/pane.js';
import type { Command, Hello, LayoutState } from '../../src/protocol/messages.js';
import type { ClientConnection } from '../../src/server/client-connection.js';
import {
  type CommandHost,
  executeCommand,
  isActivity,
  resolvePane,
  type SessionTasks,
} from '../../src/server/commands.js';
import { Window } from '../../src/server/window.js';

/**
 * The client commands against a host made of a real Window and stand-in panes and clients: what
 * each command does to the window and what it asks of the server, without a socket or a PTY.
 */

interface FakePane {
  id: number;
  name: string;
  spec: { name: string };
  typed: Buffer[];
  input(data: Buffer): void;
  resize(cols: number, rows: number): void;
  info(index: number): { id: number; index: number };
}

function fakePane(id: number, name: string): FakePane {
  const pane: FakePane = {
    id,
    spec: { name },
    get name() {
      return pane.spec.name;
    },
    typed: [],
    input: (data) => pane.typed.push(data),
    resize: () => {},
    info: (index) => ({ id, index }),
  };
  return pane;
}

function fakeClient(
  id: number,
  hello: Partial<Hello> & { mode: Hello['mode'] },
  attached = true,
): ClientConnection {
  return {
    id,
    attached,
    hello,
    cols: hello.cols ?? 80,
    rows: hello.rows ?? 24,
    readOnly: hello.readOnly ?? false,
    withinBudget: () => true,
  } as unknown as ClientConnection;
}

interface TestHost extends CommandHost {
  calls: string[];
  removed: Array<{ pane: number; reason: PaneCloseReason }>;
  clientList: ClientConnection[];
  taskQueue: SessionTasks | undefined;
  queueReady: Promise<void>;
}

function hostWith(names: string[]): { host: TestHost; panes: FakePane[] } {
  const window = new Window<Pane>();
  const panes = names.map((name, i) => fakePane(i + 1, name));
  for (const pane of panes) window.add(pane as unknown as Pane);
  const host: TestHost = {
    session: 'demo',
    window,
    calls: [],
    removed: [],
    clientList: [],
    taskQueue: undefined,
    queueReady: Promise.resolve(),
    tasks: () => host.taskQueue,
    tasksReady: () => host.queueReady,
    env: {},
    logger: undefined,
    clients: () => host.clientList,
    newPane: () => {
      throw new Error('not in this test');
    },
    removePane: (pane, reason) => {
      host.removed.push({ pane: pane.id, reason });
      window.remove(pane);
    },
    relayout: () => host.calls.push('relayout'),
    changed: () => host.calls.push('changed'),
    layoutState: () => ({ panes: window.panes.map((p, i) => p.info(i)) }) as unknown as LayoutState,
    pasteBuffer: undefined,
    resizeClient: (_client, cols, rows) => {
      window.setSize(cols, rows);
    },
  };
  return { host, panes };
}

/** The error `run` rejects with, checked to be an OrchestraError with `code`. */
async function rejectsWith(run: Promise<unknown>, code: string): Promise<Error & { hint?: string }> {
  try {
    await run;
  } catch (error) {
    assert.ok(isOrchestraError(error), `not an OrchestraError: ${String(error)}`);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('executeCommand', () => {
  test('send-keys types into the targeted pane', async () => {
    const { host, panes } = hostWith(['a', 'b']);
    const data = Buffer.from('ls\r').toString('base64');
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'send-keys', pane: 'a', data }), {
      pane: 1,
    });
    assert.equal(panes[0]!.typed.join(''), 'ls\r');
    assert.equal(panes[1]!.typed.length, 0);
  });

  test('a pane that is not there is PANE_NOT_FOUND, with a hint naming the session', async () => {
    const { host } = hostWith(['a']);
    const error = await rejectsWith(
      executeCommand(host, undefined, { cmd: 'kill-pane', pane: 'zz' }),
      'PANE_NOT_FOUND',
    );
    assert.match(error.message, /no pane "zz" in session demo/);
    assert.match(error.hint ?? '', /orchestra ls -t demo/);
    const empty = hostWith([]).host;
    assert.throws(() => resolvePane(empty, undefined), /no pane to act on/);
  });

  test('kill-pane asks the server to remove the pane as killed', async () => {
    const { host } = hostWith(['a', 'b']);
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'kill-pane', pane: '%1' }), { pane: 1 });
    assert.deepEqual(host.removed, [{ pane: 1, reason: 'killed' }]);
  });

  test('select-pane focuses; it lays out again only while zoomed', async () => {
    const { host } = hostWith(['a', 'b']);
    await executeCommand(host, undefined, { cmd: 'select-pane', pane: '0' });
    assert.equal(host.window.focus, 1);
    assert.deepEqual(host.calls, ['changed']);
    await executeCommand(host, undefined, { cmd: 'zoom' });
    assert.equal(host.window.zoomed, true);
    await executeCommand(host, undefined, { cmd: 'select-pane', pane: '!' });
    assert.equal(host.window.focus, 2);
    assert.deepEqual(host.calls, ['changed', 'relayout', 'relayout']);
  });

  test('rename-pane renames, select-layout and zoom answer with the new state', async () => {
    const { host, panes } = hostWith(['a', 'b']);
    await executeCommand(host, undefined, { cmd: 'rename-pane', pane: 'a', name: 'build' });
    assert.equal(panes[0]!.name, 'build');
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'select-layout', layout: 'next' }), {
      layout: 'even-horizontal',
    });
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'zoom', pane: 'build' }), { zoomed: true });
    assert.equal(host.window.focus, 1);
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'zoom' }), { zoomed: false });
  });

  test('a read-only attached client may query and resize, not act', async () => {
    const { host } = hostWith(['a']);
    const viewer = fakeClient(7, { mode: 'attach', readOnly: true, cols: 100, rows: 30 });
    host.clientList.push(viewer, fakeClient(8, { mode: 'command' }, false));
    assert.deepEqual(await executeCommand(host, viewer, { cmd: 'session-info' }), {
      session: 'demo',
      panes: 1,
      clients: 1,
    });
    assert.deepEqual(await executeCommand(host, viewer, { cmd: 'resize', cols: 120, rows: 40 }), {
      cols: 120,
      rows: 40,
    });
    assert.deepEqual(
      [viewer.hello?.cols, viewer.hello?.rows],
      [120, 40],
      "the client's own size is recorded",
    );
    const error = await rejectsWith(executeCommand(host, viewer, { cmd: 'kill-pane', pane: 'a' }), 'USAGE');
    assert.match(error.message, /read-only/);
    assert.deepEqual(host.removed, []);
  });

  test('set-env takes a missing secret only, and tells the task queue', async () => {
    const { host } = hostWith([]);
    let told = 0;
    host.taskQueue = { envChanged: () => told++ } as unknown as SessionTasks;
    await rejectsWith(
      executeCommand(host, undefined, { cmd: 'set-env', name: 'PATH', value: '/x' }),
      'USAGE',
    );
    const set: Command = { cmd: 'set-env', name: 'ANTHROPIC_API_KEY', value: 'sk-1' };
    assert.deepEqual(await executeCommand(host, undefined, set), { name: 'ANTHROPIC_API_KEY' });
    assert.equal(host.env.ANTHROPIC_API_KEY, 'sk-1');
    assert.equal(told, 1);
    await rejectsWith(executeCommand(host, undefined, { ...set, value: 'sk-2' }), 'USAGE');
    assert.equal(host.env.ANTHROPIC_API_KEY, 'sk-1', 'never replaced');
  });

  test('a task command while the queue is still starting waits for it instead of finding none', async () => {
    const { host } = hostWith([]);
    let started!: () => void;
    host.queueReady = new Promise((resolve) => {
      started = resolve;
    });
    const board = executeCommand(host, undefined, { cmd: 'task-board' });
    const retry = executeCommand(host, undefined, { cmd: 'retry-task', task: '1' });
    await new Promise((r) => setTimeout(r, 20));
    host.taskQueue = {
      board: () => [{ id: 'task-01' }],
      retry: async (task: string) => ({ retried: task }),
    } as unknown as SessionTasks;
    started();
    assert.deepEqual(await board, [{ id: 'task-01' }]);
    assert.deepEqual(await retry, { retried: '1' });
  });

  test('task commands without a task queue: an empty board, else NOT_INITIALIZED', async () => {
    const { host } = hostWith([]);
    assert.deepEqual(await executeCommand(host, undefined, { cmd: 'task-board' }), []);
    await rejectsWith(executeCommand(host, undefined, { cmd: 'retry-task', task: '1' }), 'NOT_INITIALIZED');
    await rejectsWith(
      executeCommand(host, undefined, { cmd: 'autonomy', action: 'status' }),
      'NOT_INITIALIZED',
    );
  });
});

describe('isActivity', () => {
  test("an attached client's acting commands and send-keys count; queries do not", () => {
    const attached = fakeClient(1, { mode: 'attach' });
    const command = fakeClient(2, { mode: 'command' }, false);
    assert.equal(isActivity(attached, { cmd: 'select-layout', layout: 'next' }), true);
    assert.equal(isActivity(attached, { cmd: 'list-panes' }), false);
    assert.equal(isActivity(attached, { cmd: 'task-board' }), false);
    assert.equal(isActivity(command, { cmd: 'select-layout', layout: 'next' }), false);
    assert.equal(isActivity(command, { cmd: 'send-keys', pane: '0', data: '' }), true);
  });
});
