import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AutonomyStatus } from '../../src/autonomy/loop.js';
import { gitOut } from '../git/fixtures.js';
import { ResumeWorld, waitFor } from '../scheduler/resume-world.js';

/**
 * The self-improve cycle against a real `orchestra server` (local sandbox, scripted model): three
 * tasks of a person's fail because their dependencies were never installed (`test -d node_modules`,
 * no `npm ci` in setup). With `selfImprove.everyCycles: 1` the first cycle plans from that record:
 * the plan task carries the failures, not the goal. Of its proposals, the fix to `.orchestra/`
 * (setup gets `npm ci`) passes its checks but is left for the person (a merge never lands
 * orchestra's own files); a change that fails its checks is not merged; a change that is merged
 * but whose checks then fail on main is reverted with a revert commit before the next cycle, and a
 * task in failed/ says why.
 */

const EDITOR = 'str_replace_based_edit_tool';
let world: ResumeWorld | undefined;
after(async () => {
  await world?.dispose();
});

const failing = (n: number) =>
  `# Feature ${n}\n\n## Goal\nAdd feature ${n}.\n\n## Test plan\n1. Run \`test -d node_modules\`\n`;

function proposal(title: string, file: string, check: string): Record<string, unknown> {
  return {
    title,
    goal: `${title}.`,
    before: 'As it is.',
    after: `${file} is changed.`,
    acceptance_criteria: [`${check} passes`],
    files_to_touch: [file],
    test_plan: [check],
  };
}

const create = (path: string, text: string) => ({
  toolUses: [{ name: EDITOR, input: { command: 'create', path, file_text: text } }],
});
const complete = { toolUses: [{ name: 'task_complete', input: { summary: 'done' } }] };

test('self-improve plans from the failures; a failing change is not merged; a merge that breaks main is reverted', {
  timeout: 240_000,
}, async () => {
  world = await ResumeWorld.custom((effects) => {
    const broken = `${effects}.broken`;
    return {
      name: 'self-improve',
      config: {
        sandbox: 'local',
        maxParallel: 2,
        maxAttempts: 1,
        autoMerge: true,
        // The base's own check: passes until the test breaks the machine under it.
        check: [`test ! -e ${broken}`],
        autonomy: {
          enabled: true,
          goal: 'Unused: this cycle improves the session itself.',
          idleMinutes: 0.02,
          cooldownMinutes: 0.02,
          maxTasksPerCycle: 3,
          maxTasksPerDay: 3,
          budgetUsdPerDay: 50,
          stopOnFirstFailure: false,
          selfImprove: { enabled: true, everyCycles: 1 },
        },
      },
      tasks: { 'task-01': failing(1), 'task-02': failing(2), 'task-03': failing(3) },
      scenario: {
        scenarios: {
          memory: {
            match: { system: 'You keep the memory' },
            turns: Array.from({ length: 10 }, () => ({ text: 'ok' })),
          },
          ...Object.fromEntries(
            [1, 2, 3].map((n) => [
              `person-${n}`,
              {
                match: { system: `worktrees/task-0${n}-a1\\b` },
                turns: [create(`feature${n}.txt`, 'x\n'), complete, complete],
              },
            ]),
          ),
          planner: {
            match: { system: 'worktrees/task-04-a1\\b' },
            turns: [
              {
                toolUses: [
                  {
                    name: 'propose_task',
                    input: proposal(
                      'Install dependencies in setup',
                      '.orchestra/orchestra.json',
                      'grep -q "npm ci" .orchestra/orchestra.json',
                    ),
                  },
                  { name: 'propose_task', input: proposal('Add a shim', 'shim.js', 'node shim.js') },
                  { name: 'propose_task', input: proposal('Add alpha', 'alpha.txt', 'test -f alpha.txt') },
                ],
              },
              { text: 'Proposed the fix.' },
              { text: 'Proposed the fix.' },
            ],
          },
          fix: {
            match: { system: 'worktrees/task-05-a1\\b' },
            turns: [create('.orchestra/orchestra.json', '{ "setup": ["npm ci"] }\n'), complete, complete],
          },
          shim: {
            match: { system: 'worktrees/task-06-a1\\b' },
            turns: [create('shim.js', 'process.exit(1);\n'), complete, complete],
          },
          alpha: {
            match: { system: 'worktrees/task-07-a1\\b' },
            turns: [create('alpha.txt', 'alpha\n'), complete, complete],
          },
        },
      },
    };
  });
  const w = world;
  w.startServer();
  const status = () => w.request<AutonomyStatus>({ cmd: 'autonomy', action: 'status' });
  const dump = async (error: Error) => {
    throw new Error(
      `${error.message}\n${JSON.stringify(await status().catch(() => null))}\n${await w.serverLogs()}`,
    );
  };

  // The person's three tasks fail on the missing dependencies; only then is the session idle.
  const planText = await waitFor(
    () => readFile(join(w.paths.tasks, 'task-04.md'), 'utf8').catch(() => undefined),
    'the self-improve plan task',
    120_000,
    100,
  ).catch(dump);
  assert.match(planText, /kind: plan/);
  assert.match(planText, /Improve how this repository's tasks go under orchestra/);
  assert.ok(!planText.includes('Unused: this cycle'), 'the record replaces the goal');
  for (const id of ['task-01', 'task-02', 'task-03'])
    assert.match(
      planText,
      new RegExp(`- ${id} failed, .*: checks failed: test -d node_modules`),
      `${id} in the record`,
    );

  // The cycle ends once its three tasks are archived and alpha's merge is done.
  const state = await waitFor(
    async () => {
      const s = await w.state();
      const ids = ['task-05', 'task-06', 'task-07'];
      const ended = ids.every((id) => s?.tasks[id]?.state === 'archived' && !s.tasks[id]?.mergePending);
      return ended && s?.tasks['task-07']?.mergedCommit ? s : undefined;
    },
    'the cycle archived and alpha merged',
    120_000,
    100,
  ).catch(dump);
  // The fix passes its checks but is the person's to merge: it changes orchestra's own files.
  assert.equal(state.tasks['task-05']?.outcome, 'done');
  assert.equal(state.tasks['task-05']?.mergedCommit, undefined);
  assert.match(state.tasks['task-05']?.mergeError ?? '', /orchestra's own files/);
  // The change that fails its checks is not merged.
  assert.equal(state.tasks['task-06']?.outcome, 'failed');
  assert.equal(state.tasks['task-06']?.mergedCommit, undefined);
  assert.throws(() => gitOut(w.root, 'cat-file', '-e', 'main:shim.js'));
  // Alpha is merged: main's tip is its merge.
  const merge = state.tasks['task-07']!.mergedCommit!;
  assert.equal(gitOut(w.root, 'show', 'main:alpha.txt'), 'alpha');

  // Something outside the merge gate's run breaks main's checks; before the next cycle the loop
  // checks the tip, and reverts the merge.
  await writeFile(`${w.effectsLog}.broken`, '');
  const reverted = await waitFor(
    async () => {
      const s = await w.state();
      return s?.tasks['task-07']?.revertedBy ? s : undefined;
    },
    'the merge reverted',
    60_000,
    100,
  ).catch(dump);
  const revert = reverted.tasks['task-07']!.revertedBy!;
  assert.equal(gitOut(w.root, 'rev-parse', 'main'), revert);
  assert.equal(gitOut(w.root, 'rev-parse', `${revert}^`), merge, 'a revert commit on top of the merge');
  assert.match(
    gitOut(w.root, 'log', '-1', '--format=%s', 'main'),
    /^orchestra: revert task-07: check ".*" failed \(exit 1\) on main after task-07 merged$/,
  );
  assert.throws(() => gitOut(w.root, 'cat-file', '-e', 'main:alpha.txt'), 'alpha.txt is gone from main');
  const record = (await w.queueFiles('failed')).find((f) => f.startsWith('task-08-'));
  assert.ok(record, 'a task in failed/ records the revert');
  const recordText = await readFile(join(w.paths.failed, record!), 'utf8');
  assert.match(recordText, /# task-08: Reverted task-07: Add alpha/);
  assert.match(recordText, /reverted task-07: check ".*" failed \(exit 1\) on main after task-07 merged/);
  // The day's three tasks are spent: no second cycle.
  const capped = await waitFor(
    async () => {
      const s = await status();
      return s.phase === 'capped' ? s : undefined;
    },
    'capped',
    30_000,
  ).catch(dump);
  assert.equal(capped.tasksToday, 3);
});
