import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { orchestraPaths } from '../../src/common/paths.js';
import { candidateLines, diffDisplayLines } from '../../src/protocol/task-diff.js';
import { pickWinner, taskDiff } from '../../src/scheduler/task-diff.js';
import { StateStore } from '../../src/store/store.js';
import { makeRepo } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';
import { addTaskWithTwoAttempts } from './diff-fixture.js';

describe("a task attempt's diff", () => {
  let repo: { root: string; base: string };
  before(async () => {
    const root = await makeRepo({ initialized: true });
    await mkdir(orchestraPaths(root).tasks, { recursive: true });
    repo = { root, ...(await addTaskWithTwoAttempts(root)) };
  });
  after(async () => {
    await rm(repo.root, { recursive: true, force: true });
  });

  test('by default the result attempt, against the commit it started from, with every candidate', async () => {
    const store = await StateStore.open(orchestraPaths(repo.root).state);
    try {
      const diff = await taskDiff(repo.root, store.read(), '4');
      assert.equal(diff.attemptId, 'task-04-a2');
      assert.equal(diff.base, repo.base);
      assert.match(diff.diff.text, /^\+\+\+ b\/two\.txt$/m);
      assert.doesNotMatch(diff.diff.text, /one\.txt/);
      assert.deepEqual(
        diff.candidates.map((c) => [c.id, c.score, c.winner]),
        [
          ['task-04-a1', 4, false],
          ['task-04-a2', 7, true],
        ],
      );
      assert.deepEqual(candidateLines(diff), [
        '  task-04-a1  archived  checks pass  score 4  1 files +1 -0',
        '* task-04-a2  archived  checks pass  score 7  1 files +2 -0  (the result)',
      ]);
      const other = await taskDiff(repo.root, store.read(), 'task-04', { attempt: 'a1' });
      assert.match(other.diff.text, /one\.txt/);
      await assert.rejects(
        taskDiff(repo.root, store.read(), '4', { attempt: 'a9' }),
        /task-04 has no attempt a9/,
      );
      await assert.rejects(taskDiff(repo.root, store.read(), '5'), /no task 5 has run/);
    } finally {
      await store.close();
    }
  });

  test('shown lines carry no escape sequence of the file (nor its payload), tabs expanded, each with its kind', async () => {
    const store = await StateStore.open(orchestraPaths(repo.root).state);
    try {
      const lines = diffDisplayLines((await taskDiff(repo.root, store.read(), '4')).diff.text);
      assert.ok(
        lines.every((l) => !/[\x00-\x1f\x7f-\x9f]/.test(l.text)),
        JSON.stringify(lines),
      );
      assert.ok(lines.some((l) => l.kind === 'add' && l.text === '+second try'));
      assert.ok(lines.some((l) => l.kind === 'add' && l.text === '+       indented'));
      assert.ok(lines.some((l) => l.kind === 'hunk'));
      assert.ok(lines.some((l) => l.kind === 'file' && l.text === '+++ b/two.txt'));
    } finally {
      await store.close();
    }
  });

  test('orchestra diff prints it, coloured on request; a bad --color is refused with a hint', async () => {
    const plain = await runCli(['diff', '4'], { cwd: repo.root });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^task-04 task-04-a2: 1 files, \+2 -0 against [0-9a-f]{10}$/m);
    assert.match(plain.stdout, /^\* task-04-a2 .*\(the result\)$/m);
    assert.match(plain.stdout, /^\+second try$/m);
    assert.doesNotMatch(plain.stdout, /\x1b/, 'no colour when not asked, and nothing of the file');
    const coloured = await runCli(['diff', '4', '--attempt', 'a1', '--color', 'always'], { cwd: repo.root });
    assert.match(coloured.stdout, /\x1b\[32m\+first try\x1b\[0m/);
    const bad = await runCli(['diff', '4', '--color', 'sometimes'], { cwd: repo.root });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--color sometimes: expected auto, always or never/);
  });

  test('a person picks another attempt as the result: recorded as theirs; refused once merged', async () => {
    const picked = await runCli(['task', 'pick', '4', 'a1'], { cwd: repo.root });
    assert.equal(picked.code, 0, picked.stderr);
    assert.match(picked.stdout, /task-04: task-04-a1 is its result now \(was task-04-a2\)/);
    const store = await StateStore.open(orchestraPaths(repo.root).state);
    try {
      const task = store.read().tasks['task-04']!;
      assert.equal(task.resultBranch, 'a1');
      assert.equal(task.resultCommit, store.read().attempts['task-04-a1']!.commit);
      assert.equal(task.winnerPicked?.attempt, 'task-04-a1');
      assert.equal(task.winnerPicked?.was, 'task-04-a2');
      const diff = await taskDiff(repo.root, store.read(), '4');
      assert.equal(diff.attemptId, 'task-04-a1', 'the result is what diff shows by default now');
      assert.match(candidateLines(diff)[0]!, /\(the result, picked by you\)$/);
      await store.update((draft) => {
        draft.tasks['task-04']!.mergedCommit = 'abc';
      });
      await assert.rejects(pickWinner(store, '4', 'a2'), /task-04 is merged already/);
      await store.update((draft) => {
        delete draft.tasks['task-04']!.mergedCommit;
        draft.attempts['task-04-a2']!.checkPassed = false;
      });
      await assert.rejects(pickWinner(store, '4', 'a2'), /task-04-a2 has no result that passed its checks/);
      await store.update((draft) => {
        draft.attempts['task-04-a2']!.checkPassed = true;
      });
    } finally {
      await store.close();
    }
    const store2 = await StateStore.open(orchestraPaths(repo.root).state);
    try {
      await assert.rejects(pickWinner(store2, '4', 'task-05-a1'), /task-04 has no attempt task-05-a1/);
      await store2.update((draft) => {
        draft.tasks['task-04']!.mergePending = true;
      });
      await assert.rejects(pickWinner(store2, '4', 'a2'), /task-04 is being merged/);
      await store2.update((draft) => {
        delete draft.tasks['task-04']!.mergePending;
        draft.tasks['task-04']!.attemptOffset = 1;
      });
      // a1 belongs to an earlier run now (a retry numbers after it): not this run's to pick.
      await assert.rejects(pickWinner(store2, '4', 'a1'), /task-04 has no attempt a1/);
      await store2.update((draft) => {
        delete draft.tasks['task-04']!.attemptOffset;
      });
    } finally {
      await store2.close();
    }
    // Back as it was for the other tests.
    assert.equal((await runCli(['task', 'pick', '4', 'a2'], { cwd: repo.root })).code, 0);
  });
});
