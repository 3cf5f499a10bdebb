import assert from 'node:assert/strict';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AutonomyStatus } from '../../src/autonomy/loop.js';
import { ResumeWorld, waitFor } from '../scheduler/resume-world.js';
import type { ScenarioFile } from '../support/scripted-model.js';

/**
 * The autonomous loop against a real `orchestra server` (local sandbox, the scripted model playing
 * planner, coders and the memory): idle → plan → two tasks in parallel through the check gate →
 * cooldown → a keystroke pauses → the daily cap stops the next cycle; and a server SIGKILLed in
 * each phase goes on without writing a proposal twice or running a task twice.
 */

const EDITOR = 'str_replace_based_edit_tool';
const worlds: ResumeWorld[] = [];
after(async () => {
  for (const w of worlds) await w.dispose();
});

function proposal(title: string, file: string): Record<string, unknown> {
  return {
    title,
    goal: `Add ${file}.`,
    before: `There is no ${file}.`,
    after: `${file} exists.`,
    acceptance_criteria: [`${file} exists`],
    files_to_touch: [file],
    test_plan: [`test -f ${file}`],
  };
}

/** A coder that creates `file` and says it is done (asked again after a resume, it says so again). */
const coder = (task: string, file: string) => ({
  match: { system: `worktrees/${task}-a1\\b` },
  turns: [
    { toolUses: [{ name: EDITOR, input: { command: 'create', path: file, file_text: `${file}\n` } }] },
    { toolUses: [{ name: 'task_complete', input: { summary: `added ${file}` } }] },
    // For an agent resumed after a SIGKILL: the request in flight is asked again.
    { toolUses: [{ name: 'task_complete', input: { summary: `added ${file}` } }] },
  ],
});

/** The planner proposes two tasks, then waits `finalDelayMs` before ending its turn. */
function scenario(finalDelayMs: number): ScenarioFile {
  return {
    scenarios: {
      planner: {
        match: { system: 'worktrees/task-01-a1\\b' },
        turns: [
          {
            toolUses: [
              { name: 'propose_task', input: proposal('Add alpha', 'alpha.txt') },
              { name: 'propose_task', input: proposal('Add beta', 'beta.txt') },
            ],
          },
          { text: 'Two tasks proposed.', delayMs: finalDelayMs },
          { text: 'Two tasks proposed.' },
        ],
      },
      memory: {
        match: { system: 'You keep the memory' },
        turns: Array.from({ length: 8 }, () => ({ text: 'Nothing worth keeping.' })),
      },
      alpha: coder('task-02', 'alpha.txt'),
      beta: coder('task-03', 'beta.txt'),
    },
  };
}

async function autonomyWorld(name: string, finalDelayMs: number): Promise<ResumeWorld> {
  const world = await ResumeWorld.custom({
    name,
    config: {
      sandbox: 'local',
      maxParallel: 2,
      autonomy: {
        enabled: true,
        goal: 'Give the repository its alpha and beta files.',
        idleMinutes: 0.02,
        cooldownMinutes: 0.1,
        maxTasksPerCycle: 3,
        // The first cycle's two tasks fill the day.
        maxTasksPerDay: 2,
        budgetUsdPerDay: 50,
      },
    },
    tasks: {},
    scenario: scenario(finalDelayMs),
  });
  worlds.push(world);
  return world;
}

/** How many proposal events the plan attempt's events file holds. */
async function proposalsRecorded(w: ResumeWorld): Promise<number> {
  const text = await readFile(join(w.paths.runs, 'task-01-a1', 'events.jsonl'), 'utf8').catch(() => '');
  return (text.match(/"type":"proposal"/g) ?? []).length;
}

const status = (w: ResumeWorld) => w.request<AutonomyStatus>({ cmd: 'autonomy', action: 'status' });

async function untilPhase(w: ResumeWorld, phase: string, timeoutMs = 90_000): Promise<AutonomyStatus> {
  return waitFor(
    async () => {
      const s = await status(w).catch(() => undefined);
      return s?.phase === phase ? s : undefined;
    },
    `autonomy ${phase}`,
    timeoutMs,
    100,
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}\n${JSON.stringify(await status(w).catch(() => null))}\n${await w.serverLogs()}`,
    );
  });
}

/** A hostile worker's proposal: well-formed as an event, but its file lies outside the repository. */
const HOSTILE = {
  type: 'proposal',
  index: 3,
  toolUseId: 'forged',
  proposal: proposal('Escape the repository', '../outside.txt'),
};

test('a cycle: plan, two tasks in parallel through the check gate, cooldown, a keystroke pauses, the daily cap stops the next', {
  timeout: 180_000,
}, async () => {
  const w = await autonomyWorld('autonomy-cycle', 4000);
  w.startServer();
  await untilPhase(w, 'planning');
  // The phase is recorded first, then the plan task queued.
  const planning = await waitFor(
    async () => {
      const s = await status(w);
      return s.tasks.length > 0 ? s : undefined;
    },
    'the plan task',
    10_000,
  );
  assert.equal(planning.cycle, 1);
  assert.deepEqual(planning.tasks, ['task-01']);
  const plan = await readFile(join(w.paths.tasks, 'task-01.md'), 'utf8');
  assert.match(plan, /^---\nprofile: architect\norigin: autonomy\ncycle: 1\nkind: plan\n---\n/);
  assert.ok(plan.includes('Give the repository its alpha and beta files.'), 'the goal, verbatim');

  // While the planner waits before its last turn, a hostile worker appends a proposal of its own.
  const events = join(w.paths.runs, 'task-01-a1', 'events.jsonl');
  await waitFor(async () => (await proposalsRecorded(w)) === 2, 'two proposals recorded', 60_000);
  await appendFile(events, `${JSON.stringify(HOSTILE)}\n`);

  const executing = await untilPhase(w, 'executing');
  assert.deepEqual(executing.tasks, ['task-01', 'task-02', 'task-03']);
  const rejected = (await readdir(w.paths.rejected)).sort();
  assert.deepEqual(rejected, ['task-04.md', 'task-04.md.error.txt']);
  assert.match(await readFile(join(w.paths.rejected, 'task-04.md.error.txt'), 'utf8'), /outside|escape/i);

  // Both tasks run at once (maxParallel 2), pass their test plans, and are archived as autonomy's.
  await waitFor(
    async () => {
      const s = await w.state();
      const running = ['task-02', 'task-03'].filter((id) => s?.tasks[id]?.state === 'running').length;
      return running === 2 ? s : undefined;
    },
    'task-02 and task-03 running together',
    60_000,
    50,
  );
  const cooldown = await untilPhase(w, 'cooldown');
  assert.equal(cooldown.reason, undefined);
  for (const id of ['task-02', 'task-03']) {
    const file = (await w.queueFiles('done')).find((f) => f.startsWith(id));
    assert.ok(file, `${id} is in done/`);
    const text = await readFile(join(w.paths.done, file!), 'utf8');
    assert.match(text, /^---\n(?:.*\n)*?origin: autonomy\ncycle: 1\nproposal: \d\n(?:.*\n)*?---\n/);
  }
  assert.ok(
    (await w.queueFiles('done')).some((f) => f.startsWith('task-01')),
    'the plan task is archived in done/',
  );
  const state = await w.state();
  assert.equal(state?.tasks['task-01']?.resultBranch, undefined, 'a plan has no branch to merge');
  const fields = await w.statusFields();
  assert.match(fields['auto:'] ?? '', /^cooldown \d:\d\d$/);

  // A keystroke pauses the resting loop; once nobody types for idleMinutes it goes on, and the
  // daily task cap refuses the next cycle.
  await w.request({ cmd: 'send-keys', pane: 'task-02/a1', data: Buffer.from('x').toString('base64') });
  const paused = await untilPhase(w, 'paused', 10_000);
  assert.equal(paused.cycle, 1);
  const capped = await untilPhase(w, 'capped');
  assert.equal(capped.cycle, 1, 'no second cycle');
  assert.equal(capped.tasksToday, 2);
  assert.match(capped.reason ?? '', /^daily task cap reached: 2 of 2 tasks today$/);
  assert.ok(capped.spentTodayUsd > 0, 'the planner, the tasks and the memory calls cost something');
  const again = await w.request({ cmd: 'autonomy', action: 'run-now' }).then(
    () => 'started',
    (error: Error) => error.message,
  );
  assert.match(again, /no cycle today: daily task cap reached/);
  assert.equal((await w.queueFiles('tasks')).length, 0, 'nothing more was queued');
});

test('SIGKILL of the server while planning, executing and resting: the cycle goes on, nothing is written or run twice', {
  timeout: 240_000,
}, async () => {
  const w = await autonomyWorld('autonomy-kill', 3000);
  let server = w.startServer();
  // Planning: killed while the planner thinks over its last turn, its two proposals recorded.
  await untilPhase(w, 'planning');
  await waitFor(async () => (await proposalsRecorded(w)) === 2, 'two proposals recorded', 60_000);
  await w.killServer(server);
  server = w.startServer();
  // Executing: killed while the two tasks run.
  await untilPhase(w, 'executing');
  await waitFor(
    async () => (await w.state())?.tasks['task-02']?.state === 'running',
    'task-02 running',
    60_000,
  );
  await w.killServer(server);
  server = w.startServer();
  // Cooldown: killed while resting.
  await untilPhase(w, 'cooldown');
  await w.killServer(server);
  server = w.startServer();
  const capped = await untilPhase(w, 'capped');
  assert.equal(capped.cycle, 1);
  assert.equal(capped.tasksToday, 2);

  const names = [...(await w.queueFiles('done')), ...(await w.queueFiles('failed'))].sort();
  assert.deepEqual(
    names.map((n) => n.slice(0, 7)),
    ['task-01', 'task-02', 'task-03'],
    'each task archived once, none more written',
  );
  assert.deepEqual(await w.queueFiles('tasks'), []);
  const state = await w.state();
  for (const id of ['task-02', 'task-03'])
    assert.deepEqual(state?.tasks[id]?.attempts, [`${id}-a1`], `${id} ran one attempt`);
  assert.deepEqual(
    Object.keys(state?.tasks ?? {}).sort(),
    ['task-01', 'task-02', 'task-03'],
    'no second plan task, no proposal twice',
  );
});

test('stopOnFirstFailure: the failed task frees its slot, yet no other task of the cycle starts; a retry runs and the loop goes on', {
  timeout: 180_000,
}, async () => {
  const w = await ResumeWorld.custom({
    name: 'autonomy-stop',
    config: {
      sandbox: 'local',
      // One slot: the failed task's release is the moment the next task would be admitted.
      maxParallel: 1,
      maxAttempts: 1,
      autonomy: {
        enabled: true,
        goal: 'Three small files.',
        idleMinutes: 0.02,
        cooldownMinutes: 0.02,
        maxTasksPerCycle: 3,
        maxTasksPerDay: 3,
        budgetUsdPerDay: 50,
      },
    },
    tasks: {},
    scenario: {
      scenarios: {
        planner: {
          match: { system: 'worktrees/task-01-a1\\b' },
          turns: [
            {
              toolUses: [
                {
                  name: 'propose_task',
                  input: { ...proposal('Add failing', 'failing.txt'), test_plan: ['false'] },
                },
                { name: 'propose_task', input: proposal('Add beta', 'beta.txt') },
                { name: 'propose_task', input: proposal('Add gamma', 'gamma.txt') },
              ],
            },
            { text: 'Three tasks proposed.' },
          ],
        },
        memory: {
          match: { system: 'You keep the memory' },
          turns: Array.from({ length: 8 }, () => ({ text: 'ok' })),
        },
        failing: coder('task-02', 'failing.txt'),
        beta: coder('task-03', 'beta.txt'),
      },
    },
  });
  worlds.push(w);
  w.startServer();
  const capped = await untilPhase(w, 'capped', 120_000);
  assert.match(capped.reason ?? '', /^daily task cap reached: 3 of 3 tasks today$/);
  const state = await w.state();
  assert.equal(state?.tasks['task-02']?.outcome, 'failed');
  assert.match(state?.tasks['task-02']?.error ?? '', /checks failed: false/);
  for (const id of ['task-03', 'task-04']) {
    assert.equal(state?.tasks[id]?.error, 'not run: cycle stopped', `${id} was not run`);
    assert.deepEqual(state?.tasks[id]?.attempts, [], `${id} has no attempt`);
  }

  // A person retries one of them: it is theirs now, runs although the day is capped, and the
  // loop stays answerable.
  await w.request({ cmd: 'retry-task', task: 'task-03' });
  const retried = await waitFor(
    async () => {
      const s = await w.state();
      return s?.tasks['task-03']?.state === 'archived' && s.tasks['task-03'].outcome === 'done'
        ? s
        : undefined;
    },
    'the retried task-03 done',
    60_000,
    100,
  );
  assert.deepEqual(retried.tasks['task-03']?.attempts, ['task-03-a1']);
  assert.equal((await status(w)).phase, 'capped');
});
