import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import {
  isStateTooNew,
  type MigrationTable,
  migrateState,
  runMigrations,
  STATE_MIGRATIONS,
} from '../../src/store/migrations.js';
import { emptyState, STATE_VERSION } from '../../src/store/schema.js';

const ts = '2025-05-01T12:00:00.000Z';

function validV1(): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({
      ...emptyState(),
      tasks: {
        'task-01': {
          id: 'task-01',
          state: 'running',
          strategy: 'single',
          attempts: ['task-01-a1'],
          createdAt: ts,
          updatedAt: ts,
        },
      },
      attempts: {
        'task-01-a1': {
          id: 'task-01-a1',
          taskId: 'task-01',
          n: 1,
          state: 'running',
          branch: 'orchestra/task-01/a1',
          worktree: '/r/.orchestra/worktrees/task-01-a1',
          runDir: '/r/.orchestra/runs/task-01-a1',
          createdAt: ts,
          updatedAt: ts,
        },
      },
    }),
  );
}

/** A pretend history: v1 had `count`, v2 renamed it `total`, v3 added `unit`. */
const testTable: MigrationTable = {
  1: ({ count, ...rest }) => ({ ...rest, version: 2, total: count }),
  2: (v2) => ({ ...v2, version: 3, unit: 'USD' }),
};

describe('migrateState', () => {
  it('accepts a valid current file as it is', () => {
    const raw = validV1();
    const state = migrateState(raw);
    assert.equal(state.version, STATE_VERSION);
    assert.deepEqual(state, raw);
  });

  it('has an upgrade step for every version before the current one', () => {
    for (let v = 1; v < STATE_VERSION; v++) assert.equal(typeof STATE_MIGRATIONS[v], 'function', `step ${v}`);
  });

  it('reports the offending fields of a schema mismatch as STATE_CORRUPT', () => {
    const raw = validV1();
    (raw.attempts as Record<string, Record<string, unknown>>)['task-01-a1']!.n = 0;
    (raw.tasks as Record<string, Record<string, unknown>>)['task-01']!.updatedAt = 'noon';
    assert.throws(
      () => migrateState(raw),
      (error) =>
        isOrchestraError(error, 'STATE_CORRUPT') &&
        /attempts\.task-01-a1\.n/.test(error.message) &&
        /tasks\.task-01\.updatedAt/.test(error.message),
    );
  });

  it('refuses records filed under a key other than their id', () => {
    const raw = validV1();
    const tasks = raw.tasks as Record<string, unknown>;
    tasks['task-99'] = tasks['task-01'];
    assert.throws(() => migrateState(raw), /tasks\.task-99\.id: id "task-01" differs from its key/);
  });

  it('refuses a file from a newer orchestra with a hint to upgrade', () => {
    assert.throws(
      () => migrateState({ ...validV1(), version: STATE_VERSION + 1 }),
      (error) =>
        isStateTooNew(error) && error.fileVersion === STATE_VERSION + 1 && /upgrade/.test(error.hint ?? ''),
    );
  });

  for (const [label, raw] of [
    ['an array', []],
    ['a string', 'state'],
    ['null', null],
    ['an object without version', { tasks: {} }],
    ['a version 0', { version: 0 }],
    ['a fractional version', { version: 1.5 }],
  ] as const) {
    it(`treats ${label} as corrupt`, () => {
      assert.throws(
        () => migrateState(raw),
        (error) => isOrchestraError(error, 'STATE_CORRUPT') && !isStateTooNew(error),
      );
    });
  }
});

describe('runMigrations', () => {
  it('chains upgrade steps from the file version to the latest', () => {
    assert.deepEqual(runMigrations({ version: 1, count: 7 }, testTable, 3), {
      version: 3,
      total: 7,
      unit: 'USD',
    });
    assert.deepEqual(runMigrations({ version: 2, total: 7 }, testTable, 3), {
      version: 3,
      total: 7,
      unit: 'USD',
    });
    assert.deepEqual(runMigrations({ version: 3, total: 7, unit: 'EUR' }, testTable, 3), {
      version: 3,
      total: 7,
      unit: 'EUR',
    });
  });

  it('fails on a missing step and on a step that lands on the wrong version', () => {
    assert.throws(
      () => runMigrations({ version: 1 }, { 1: testTable[1]! }, 3),
      /no upgrade from state version 2 to 3/,
    );
    assert.throws(
      () => runMigrations({ version: 1 }, { 1: (raw) => ({ ...raw, version: 3 }) }, 3),
      /produced version 3, expected 2/,
    );
  });

  it('refuses versions beyond the latest', () => {
    assert.throws(
      () => runMigrations({ version: 4 }, testTable, 3),
      (error) => isStateTooNew(error),
    );
  });
});
