import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addAttempt, setAttemptState, upsertTask } from '../../src/store/records.js';
import { emptyState, type State } from '../../src/store/schema.js';
import { checkDependencies, type QueueFile, taskStatus } from '../../src/tasks/task-status.js';

const t0 = new Date('2025-05-01T12:00:00.000Z');

function attempt(state: State, taskId: string, n: number): string {
  const id = `${taskId}-${n}`;
  addAttempt(
    state,
    { id, taskId, n, branch: `orchestra/${taskId}/${id}`, worktree: `/r/w/${id}`, runDir: `/r/runs/${id}` },
    t0,
  );
  return id;
}

function world(
  state: State,
  queue: Record<string, QueueFile>,
  archived: Record<string, 'done' | 'failed'> = {},
) {
  return {
    tasks: state.tasks,
    attempts: state.attempts,
    queue: new Map(Object.entries(queue)),
    archived: new Map(Object.entries(archived)),
  };
}

/** One status per task, from its record and its file: what `task ls` and the board both show. */
describe('taskStatus', () => {
  test('a file with no record is queued; a malformed one is invalid with its reason', () => {
    const w = world(emptyState(), { 'task-01': { dependsOn: [] }, 'task-02': { invalid: 'no Goal' } });
    assert.deepEqual(taskStatus('task-01', w), { status: 'queued' });
    assert.deepEqual(taskStatus('task-02', w), { status: 'invalid', reason: 'no Goal' });
  });

  test('a started task is preparing until an attempt of its current run gets past preparing', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01', state: 'running' }, t0);
    const q = { 'task-01': { dependsOn: [] } };
    assert.deepEqual(taskStatus('task-01', world(state, q)), { status: 'preparing' });
    const a = attempt(state, 'task-01', 1);
    setAttemptState(state, a, 'preparing', {}, t0);
    assert.equal(taskStatus('task-01', world(state, q)).status, 'preparing');
    setAttemptState(state, a, 'running', {}, t0);
    assert.equal(taskStatus('task-01', world(state, q)).status, 'running');
    // A retry: attempts of the run before do not count.
    state.tasks['task-01']!.attemptOffset = 1;
    assert.equal(taskStatus('task-01', world(state, q)).status, 'preparing');
    // Without attempts to look at, started is running.
    assert.equal(taskStatus('task-01', { ...world(state, q), attempts: undefined }).status, 'running');
  });

  test('archived tasks are done, failed with their reason, or merged; dropped ones dropped', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01', state: 'archived', outcome: 'done', archivedAs: 'done/x.md' }, t0);
    upsertTask(state, { id: 'task-02', state: 'archived', outcome: 'failed', error: 'checks failed' }, t0);
    upsertTask(state, { id: 'task-03', state: 'archived', outcome: 'done', mergedCommit: 'abc' }, t0);
    upsertTask(state, { id: 'task-04', state: 'dropped' }, t0);
    upsertTask(state, { id: 'task-05', state: 'queued' }, t0);
    const w = world(state, {});
    assert.deepEqual(taskStatus('task-01', w), { status: 'done' });
    assert.deepEqual(taskStatus('task-02', w), { status: 'failed', reason: 'checks failed' });
    assert.deepEqual(taskStatus('task-03', w), { status: 'merged' });
    assert.deepEqual(taskStatus('task-04', w), { status: 'dropped' });
    assert.equal(taskStatus('task-05', w).status, 'dropped', 'queued in the store, but its file is gone');
  });

  test('blocked on an unknown, invalid, failed or cyclic dependency; queued while one is to finish', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01', state: 'archived', outcome: 'failed' }, t0);
    upsertTask(state, { id: 'task-02', state: 'running' }, t0);
    const w = world(
      state,
      {
        'task-02': { dependsOn: [] },
        'task-03': { dependsOn: ['task-09'] },
        'task-04': { dependsOn: ['task-1'] },
        'task-05': { dependsOn: ['task-06'] },
        'task-06': { dependsOn: ['task-05'] },
        'task-07': { dependsOn: ['task-02', 'task-10'] },
        'task-08': { invalid: 'bad' },
        'task-11': { dependsOn: ['task-12'] },
      },
      { 'task-12': 'done' },
    );
    assert.deepEqual(taskStatus('task-03', w), {
      status: 'blocked',
      reason: 'dependsOn task-09, which is no task: not queued, not in the store, not archived',
    });
    assert.deepEqual(taskStatus('task-04', w), { status: 'blocked', reason: 'dependency task-1 failed' });
    assert.deepEqual(taskStatus('task-05', w), {
      status: 'blocked',
      reason: 'dependsOn goes round in a cycle: task-05 → task-06 → task-05',
    });
    assert.equal(
      taskStatus('task-07', w).reason,
      'dependsOn task-10, which is no task: not queued, not in the store, not archived',
      'a problem outranks waiting',
    );
    assert.deepEqual(checkDependencies('task-20', ['task-08'], w).blocked?.kind, 'invalid');
    assert.deepEqual(
      taskStatus('task-11', w),
      { status: 'queued' },
      'an archive the store lost still counts',
    );
    const waiting = world(state, { 'task-13': { dependsOn: ['task-02'] } });
    assert.deepEqual(taskStatus('task-13', waiting), { status: 'queued', reason: 'waits for task-02' });
    assert.deepEqual(taskStatus('task-13', waiting, { blocked: 'no API key' }), {
      status: 'blocked',
      reason: 'no API key',
    });
  });

  test('a cycle needs tasks that have not started: a running one waits for nothing', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-02', state: 'running' }, t0);
    const w = world(state, { 'task-01': { dependsOn: ['task-02'] }, 'task-02': { dependsOn: ['task-01'] } });
    assert.deepEqual(taskStatus('task-01', w), { status: 'queued', reason: 'waits for task-02' });
    // A new task (not in the queue yet) closing a cycle through queued ones.
    const q = world(emptyState(), { 'task-01': { dependsOn: ['task-03'] } });
    assert.equal(checkDependencies('task-03', ['task-01'], q).blocked?.kind, 'cycle');
  });
});
