import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultConfig } from '../../src/config/schema.js';
import type { Logger } from '../../src/log/logger.js';
import { Admission } from '../../src/scheduler/admission.js';
import type { AttemptHost, AttemptRunner } from '../../src/scheduler/attempt-runner.js';
import { type StrategyHost, smallestPassing, strategyContext } from '../../src/scheduler/strategy-context.js';
import { upsertTask } from '../../src/store/records.js';
import { emptyState, type State } from '../../src/store/schema.js';
import type { StateStore } from '../../src/store/store.js';
import type { AttemptOutcome } from '../../src/strategies/types.js';
import { parseTaskFile } from '../../src/tasks/task-file.js';

/**
 * The strategy context without agents: stand-in runners, a state in memory, and no model key, so
 * the judge and the reviewer fail as they do without one and their stand-in rules show.
 */

const task = parseTaskFile('# Greet\n\n## Goal\nSay hello.\n\n## Test plan\n1. Run `true`\n', {
  id: 'task-01',
});

function outcome(n: number, passed: boolean, changed = 10): AttemptOutcome {
  return {
    attemptId: `task-01-a${n}`,
    n,
    branch: `orchestra/task-01-a${n}`,
    worktree: '/nowhere',
    passed,
    checkOutput: '',
    diffStat: { files: 1, insertions: changed, deletions: 0 },
  };
}

/** A logger that keeps its warnings. */
function logger(warnings: string[]): Logger {
  return {
    info: () => {},
    warn: (_fields: unknown, message: string) => warnings.push(message),
  } as unknown as Logger;
}

function hostWith(state: State): StrategyHost & { statusUpdates: number } {
  const config = { ...defaultConfig(), sandbox: 'local' as const, maxParallel: 1 };
  const store = {
    read: () => state,
    update: async (mutate: (draft: State) => unknown) => mutate(state),
  } as unknown as StateStore;
  const host = {
    root: '/nowhere',
    config,
    env: {},
    store,
    attempts: {} as AttemptHost,
    admission: new Admission({
      config,
      env: {},
      logger: logger([]),
      autonomy: undefined,
      say: () => {},
      slotFreed: () => {},
      freemem: () => 64 * 1024 ** 3,
    }),
    runners: new Map<string, AttemptRunner>(),
    signal: new AbortController().signal,
    stopped: () => false,
    statusUpdates: 0,
    updateStatus: () => host.statusUpdates++,
  };
  return host;
}

describe('strategyContext', () => {
  test('a failing judge is stood in for by the smallest passing candidate, and the Result says so', async () => {
    const warnings: string[] = [];
    const run = strategyContext(hostWith(emptyState()), task, 0, logger(warnings));
    const verdict = await run.ctx.judge([outcome(1, true, 30), outcome(2, false, 1), outcome(3, true, 5)]);
    assert.deepEqual(verdict, { scores: [], winner: 'task-01-a3' });
    assert.equal(run.notes.length, 1);
    assert.match(
      run.notes[0]!,
      /^the judge failed \(ANTHROPIC_API_KEY is not set.*\); kept task-01-a3, the passing/,
    );
    assert.deepEqual(warnings, run.notes);
  });

  test('one passing candidate wins without a judge; the (empty) spend is recorded', async () => {
    const state = emptyState();
    upsertTask(state, { id: 'task-01', state: 'running' });
    const host = hostWith(state);
    const run = strategyContext(host, task, 0, logger([]));
    const verdict = await run.ctx.judge([outcome(1, false), outcome(2, true)]);
    assert.equal(verdict.winner, 'task-01-a2');
    assert.equal(state.tasks['task-01']!.reviewUsd, 0);
    assert.equal(host.statusUpdates, 1);
    assert.deepEqual(run.notes, []);
  });

  test('a failing reviewer keeps what the attempt has, noted; an unknown attempt throws', async () => {
    const host = hostWith(emptyState());
    host.runners.set('task-01-a1', { latest: undefined } as unknown as AttemptRunner);
    const run = strategyContext(host, task, 0, logger([]));
    const handle = { attemptId: 'task-01-a1', n: 1, branch: 'orchestra/task-01-a1' };
    const review = await run.ctx.review(handle);
    assert.equal(review.approved, false);
    assert.match(review.failed ?? '', /ANTHROPIC_API_KEY is not set/);
    assert.match(run.notes[0]!, /^the reviewer failed .*; kept the last passing round of task-01-a1$/);
    assert.throws(
      () => run.ctx.awaitAttempt({ ...handle, attemptId: 'task-01-a9' }),
      /no running attempt task-01-a9/,
    );
  });

  test('a message that cannot be delivered gives its slot back and is noted', async () => {
    const host = hostWith(emptyState());
    host.runners.set('task-01-a1', {
      send: async () => {
        throw new Error('the agent is gone');
      },
    } as unknown as AttemptRunner);
    const run = strategyContext(host, task, 0, logger([]));
    const handle = { attemptId: 'task-01-a1', n: 1, branch: 'orchestra/task-01-a1' };
    await assert.rejects(run.ctx.send(handle, 'try again'), /the agent is gone/);
    assert.equal((host.admission as Admission).active, 0, 'the slot is free again');
    assert.deepEqual(run.notes, ['a message to task-01-a1 could not be delivered (the agent is gone)']);
  });

  test('a stopping server is not a judge failure: the error goes to the strategy', async () => {
    const host = { ...hostWith(emptyState()), stopped: () => true };
    const run = strategyContext(host, task, 0, logger([]));
    await assert.rejects(run.ctx.judge([outcome(1, true), outcome(2, true)]), /ANTHROPIC_API_KEY/);
    assert.deepEqual(run.notes, []);
  });
});

describe('smallestPassing', () => {
  test('the passing candidate with the fewest changed lines, the lower number on a tie', () => {
    assert.equal(smallestPassing([outcome(1, true, 9), outcome(2, true, 3), outcome(3, false, 1)])?.n, 2);
    assert.equal(smallestPassing([outcome(1, true, 3), outcome(2, true, 3)])?.n, 1);
    assert.equal(smallestPassing([outcome(1, false)]), undefined);
  });
});
