import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { attemptBranch, attemptId } from '../../src/common/ids.js';
import { orchestraPaths } from '../../src/common/paths.js';
import {
  type AttemptInput,
  addAttempt,
  attemptsOf,
  setAttemptState,
  unfinishedAttempts,
  upsertTask,
} from '../../src/store/records.js';
import { type AttemptState, emptyState, stateSchema } from '../../src/store/schema.js';
import { StateStore } from '../../src/store/store.js';

const t0 = new Date('2025-05-01T12:00:00.000Z');
const t1 = new Date('2025-05-01T12:05:00.000Z');
const t2 = new Date('2025-05-01T12:10:00.000Z');

function attemptInput(taskId: string, n: number): AttemptInput {
  const id = attemptId(taskId, n);
  return {
    id,
    taskId,
    n,
    branch: attemptBranch(taskId, n),
    worktree: `/r/.orchestra/worktrees/${id}`,
    runDir: `/r/.orchestra/runs/${id}`,
  };
}

describe('records', () => {
  it('upsertTask creates with defaults, then merges and bumps updatedAt only', () => {
    const state = emptyState();
    const created = upsertTask(state, { id: 'task-01', strategy: 'best-of-n' }, t0);
    assert.deepEqual(created, {
      id: 'task-01',
      state: 'queued',
      strategy: 'best-of-n',
      attempts: [],
      createdAt: t0.toISOString(),
      updatedAt: t0.toISOString(),
    });
    upsertTask(state, { id: 'task-01', state: 'running', costUsd: 1.5 }, t1);
    assert.deepEqual(state.tasks['task-01'], {
      ...created,
      state: 'running',
      costUsd: 1.5,
      updatedAt: t1.toISOString(),
    });
    assert.ok(stateSchema.safeParse(state).success);
  });

  it('addAttempt files the attempt under its task and refuses unknown tasks and duplicates', () => {
    const state = emptyState();
    assert.throws(
      () => addAttempt(state, attemptInput('task-01', 1)),
      (e) => isOrchestraError(e, 'TASK_NOT_FOUND'),
    );
    upsertTask(state, { id: 'task-01' }, t0);
    const a1 = addAttempt(state, attemptInput('task-01', 1), t1);
    assert.equal(a1.state, 'queued');
    assert.equal(a1.createdAt, t1.toISOString());
    assert.deepEqual(state.tasks['task-01']?.attempts, ['task-01-a1']);
    assert.equal(state.tasks['task-01']?.updatedAt, t1.toISOString());
    assert.throws(() => addAttempt(state, attemptInput('task-01', 1)), /already exists/);
    assert.ok(stateSchema.safeParse(state).success);
  });

  it('setAttemptState moves the state, applies the patch and stamps times', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01' }, t0);
    addAttempt(state, attemptInput('task-01', 1), t0);

    const running = setAttemptState(
      state,
      'task-01-a1',
      'running',
      { workerId: '4242', sandbox: 'local' },
      t1,
    );
    assert.equal(running.state, 'running');
    assert.equal(running.workerId, '4242');
    assert.equal(running.startedAt, t1.toISOString());
    assert.equal(running.updatedAt, t1.toISOString());
    assert.equal(running.createdAt, t0.toISOString());
    assert.equal(running.endedAt, undefined);

    const failed = setAttemptState(
      state,
      'task-01-a1',
      'failed',
      { exitCode: 3, error: 'checks failed' },
      t2,
    );
    assert.equal(state.attempts['task-01-a1'], failed);
    assert.equal(failed.startedAt, t1.toISOString(), 'startedAt is kept');
    assert.equal(failed.endedAt, t2.toISOString());
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.workerId, '4242');
    assert.ok(stateSchema.safeParse(state).success);

    assert.throws(
      () => setAttemptState(state, 'task-09-a1', 'running'),
      (e) => isOrchestraError(e, 'INTERNAL'),
    );
  });

  it('attemptsOf and unfinishedAttempts select and order attempts', () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01' }, t0);
    upsertTask(state, { id: 'task-02' }, t0);
    // Added out of order, to check the ordering.
    addAttempt(state, attemptInput('task-01', 3), t2);
    addAttempt(state, attemptInput('task-01', 1), t0);
    addAttempt(state, attemptInput('task-02', 1), t1);
    addAttempt(state, attemptInput('task-01', 2), t1);
    const states: Record<string, AttemptState> = {
      'task-01-a1': 'succeeded',
      'task-01-a2': 'checking',
      'task-01-a3': 'preparing',
      'task-02-a1': 'archived',
    };
    for (const [id, s] of Object.entries(states)) setAttemptState(state, id, s, {}, t2);

    assert.deepEqual(
      attemptsOf(state, 'task-01').map((a) => a.id),
      ['task-01-a1', 'task-01-a2', 'task-01-a3'],
    );
    assert.deepEqual(attemptsOf(state, 'task-03'), []);
    assert.deepEqual(
      unfinishedAttempts(state).map((a) => a.id),
      ['task-01-a2', 'task-01-a3'],
    );
  });

  it('commits through a store and reads back from a snapshot', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
    try {
      const statePath = orchestraPaths(tmp).state;
      const store = await StateStore.open(statePath);
      await store.update((d) => {
        upsertTask(d, { id: 'task-05' });
        addAttempt(d, attemptInput('task-05', 1));
        addAttempt(d, attemptInput('task-05', 2));
      });
      const after = await store.update((d) => setAttemptState(d, 'task-05-a2', 'running', { paneId: 'p7' }));
      assert.equal(after.paneId, 'p7');
      await store.close();

      const reopened = await StateStore.open(statePath);
      const snapshot = reopened.read();
      assert.deepEqual(
        attemptsOf(snapshot, 'task-05').map((a) => [a.id, a.state]),
        [
          ['task-05-a1', 'queued'],
          ['task-05-a2', 'running'],
        ],
      );
      assert.equal(unfinishedAttempts(snapshot).length, 2);
      assert.equal(snapshot.attempts['task-05-a2']?.startedAt, after.startedAt);
      await reopened.close();
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
