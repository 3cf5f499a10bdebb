import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig, type OrchestraConfig } from '../../src/config/schema.js';
import type { Logger } from '../../src/log/logger.js';
import { Admission, type AdmissionHost } from '../../src/scheduler/admission.js';
import { AgentStatus } from '../../src/server/agent-status.js';
import { upsertTask } from '../../src/store/records.js';
import { emptyState, type State, type TaskRecord } from '../../src/store/schema.js';
import { parseTaskFile, type TaskFile } from '../../src/tasks/task-file.js';

/**
 * Admission on its own: parsed task files, a state built in memory, and a host that records what
 * the person is told, so each rule (slots, memory, dependencies, secrets, autonomy) shows in what
 * admit() returns and what it says.
 */

const GIB = 1024 * 1024 * 1024;

/** A task file `task-NN` with the given front matter (YAML lines). */
function task(id: string, front: string[] = []): TaskFile {
  const head = front.length ? `---\n${front.join('\n')}\n---\n` : '';
  return parseTaskFile(`${head}# ${id}\n\n## Goal\nDo ${id}.\n\n## Test plan\n1. Run \`true\`\n`, { id });
}

interface TestHost extends AdmissionHost {
  said: string[];
  warned: unknown[];
  freed: number;
  freeBytes: number;
}

function hostWith(config: Partial<OrchestraConfig> = {}, env: NodeJS.ProcessEnv = {}): TestHost {
  const warned: unknown[] = [];
  const host: TestHost = {
    config: { ...defaultConfig(), sandbox: 'local', maxParallel: 4, ...config },
    env,
    logger: { warn: (...args: unknown[]) => warned.push(args) } as unknown as Logger,
    autonomy: undefined,
    said: [],
    warned,
    freed: 0,
    freeBytes: 64 * GIB,
    say: (message) => host.said.push(message),
    slotFreed: () => host.freed++,
    freemem: () => host.freeBytes,
  };
  return host;
}

function stateWith(records: Array<Pick<TaskRecord, 'id' | 'state'> & Partial<TaskRecord>> = []): State {
  const state = emptyState();
  for (const record of records) upsertTask(state, record);
  return state;
}

const nothingRunning = new Set<string>();
const shell = ['agent: shell'];

describe('Admission', () => {
  test("while an agent waits out the account's rate limit, no new attempt starts; told once", () => {
    const host = hostWith();
    let until: number | undefined = Date.now() + 60_000;
    host.rateLimitedUntil = () => until;
    const admission = new Admission(host);
    const queue = [task('task-01', shell)];
    for (let tick = 0; tick < 3; tick++)
      assert.deepEqual(admission.admit(queue, stateWith(), nothingRunning), []);
    assert.equal(host.said.length, 1);
    assert.match(host.said[0]!, /^rate-limited until \d\d:\d\d: no new attempt starts before/);
    until = undefined;
    assert.deepEqual(
      admission.admit(queue, stateWith(), nothingRunning).map((a) => a.task.id),
      ['task-01'],
    );
  });

  test("the limit is read from the agents' panes: the latest until still to come", () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    const panes = [
      { state: 'rate-limited', until: '2026-12-04T12:05:00.000Z' },
      { state: 'rate-limited', until: '2026-12-04T12:01:00.000Z' },
      { state: 'rate-limited', until: '2026-12-04T11:59:00.000Z' },
      { state: 'working', until: '2026-12-04T13:00:00.000Z' },
    ];
    assert.equal(AgentStatus.limitedUntil(panes, now), Date.parse('2026-12-04T12:05:00Z'));
    assert.equal(AgentStatus.limitedUntil([panes[2]!, panes[3]!], now), undefined);
  });

  test('a task waiting for a secret is told once across ticks, not on every tick', () => {
    const host = hostWith();
    const admission = new Admission(host);
    const queue = [task('task-01')]; // the default agent needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN
    for (let tick = 0; tick < 5; tick++)
      assert.deepEqual(admission.admit(queue, stateWith(), nothingRunning), []);
    assert.equal(host.said.length, 1, `said: ${JSON.stringify(host.said)}`);
    assert.match(host.said[0]!, /^no ANTHROPIC_API_KEY: export it/);
    assert.equal(host.warned.length, 1, 'one "task blocked" log line');
    assert.match(admission.blocked.get('task-01') ?? '', /needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN/);
    assert.deepEqual(admission.missingEnv(queue, nothingRunning), [
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_AUTH_TOKEN',
    ]);
    // The key handed over: the task starts and is held back no longer.
    host.env.ANTHROPIC_AUTH_TOKEN = 'token';
    assert.deepEqual(
      admission.admit(queue, stateWith(), nothingRunning).map((a) => a.task.id),
      ['task-01'],
    );
    assert.equal(admission.blocked.has('task-01'), false);
    assert.deepEqual(admission.missingEnv(queue, nothingRunning), []);
  });

  test('admits in natural order up to maxParallel, counting tasks still starting', () => {
    const admission = new Admission(hostWith({ maxParallel: 2 }));
    const queue = ['task-10', 'task-2', 'task-1'].map((id) => task(id, shell));
    const first = admission.admit(queue, stateWith(), nothingRunning);
    assert.deepEqual(
      first.map((a) => a.task.id),
      ['task-1', 'task-2'],
    );
    assert.equal(admission.isStarting('task-1'), true);
    const running = new Set(['task-1', 'task-2']);
    assert.deepEqual(admission.admit(queue, stateWith(), running), [], 'both slots are spoken for');
    admission.started('task-1');
    admission.started('task-2');
    assert.equal(admission.isStarting('task-1'), false);
    assert.deepEqual(
      admission.admit(queue, stateWith(), running).map((a) => a.task.id),
      ['task-10'],
    );
  });

  test('memory narrows maxParallel, keeping one attempt free for the machine', () => {
    const host = hostWith({ maxParallel: 8 });
    const admission = new Admission(host);
    host.freeBytes = 3 * 512 * 1024 * 1024;
    assert.equal(admission.capacity(), 2);
    host.freeBytes = 0;
    assert.equal(admission.capacity(), 1, 'always one');
    host.config.sandbox = 'docker';
    host.config.worker.memoryMb = 1024;
    host.freeBytes = 5 * GIB;
    assert.equal(admission.capacity(), 4);
  });

  test('slots are handed out in the order asked, and a freed one goes to the next waiter', async () => {
    const host = hostWith({ maxParallel: 1 });
    const admission = new Admission(host);
    const first = await admission.acquireSlot();
    let second: { release(): void } | undefined;
    void admission.acquireSlot().then((slot) => {
      second = slot;
    });
    assert.equal(admission.active, 1);
    // A waiter for a slot counts as taking one: no task is admitted meanwhile.
    assert.deepEqual(admission.admit([task('task-01', shell)], stateWith(), nothingRunning), []);
    first.release();
    first.release();
    assert.equal(host.freed, 1, 'release is idempotent');
    assert.equal(admission.active, 0);
    admission.admit([], stateWith(), nothingRunning);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(second, 'the waiter got the freed slot');
    assert.equal(admission.active, 1);
    let done!: () => void;
    admission.holdSlotFor(second, () => new Promise<void>((resolve) => (done = resolve)));
    done();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(admission.active, 0, 'held until the round ended');
  });

  test('dependencies: waiting, failed, or naming no task', () => {
    const host = hostWith();
    const admission = new Admission(host);
    const one = task('task-01', shell);
    const two = task('task-02', [...shell, 'dependsOn: [task-01]']);
    const three = task('task-03', [...shell, 'dependsOn: [task-09]']);
    const admitted = admission.admit([two, three, one], stateWith(), nothingRunning);
    assert.deepEqual(
      admitted.map((a) => a.task.id),
      ['task-01'],
    );
    assert.match(admission.blocked.get('task-03') ?? '', /dependsOn task-09, which is no task/);
    assert.equal(admission.blocked.has('task-02'), false, 'waiting is not blocked');
    admission.admit([one, two, three], stateWith(), new Set(['task-01']));
    assert.equal(host.said.length, 1, 'told once about task-03');
    const failed = stateWith([{ id: 'task-01', state: 'archived', outcome: 'failed' }]);
    assert.deepEqual(admission.admit([two], failed, nothingRunning), [
      { task: two, failedDependency: 'task-01' },
    ]);
    assert.equal(admission.blocked.has('task-03'), false, 'a task gone from the queue loses its reason');
  });

  test('passes over tasks running or ended; holds autonomy tasks back', () => {
    const host = hostWith();
    const admission = new Admission(host);
    const queue = [
      task('task-01', shell),
      task('task-02', shell),
      task('task-03', [...shell, 'origin: autonomy']),
    ];
    const state = stateWith([{ id: 'task-02', state: 'dropped' }]);
    assert.deepEqual(admission.admit(queue, state, new Set(['task-01'])), []);
    assert.equal(admission.blocked.get('task-03'), 'autonomy is off');
    let held = true;
    const withLoop = new Admission({ ...host, autonomy: { holds: () => held } });
    assert.deepEqual(withLoop.admit(queue, state, new Set(['task-01'])), []);
    held = false;
    assert.deepEqual(
      withLoop.admit(queue, state, new Set(['task-01'])).map((a) => a.task.id),
      ['task-03'],
    );
  });
});
