import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AutonomyStatus } from '../../src/autonomy/loop.js';
import { statusLine } from '../client/tui-fixture.js';
import { DemoWorld, taskCounts } from '../scheduler/demo-world.js';
import type { TmuxTerminal } from '../support/tmux.js';

/**
 * The autonomous mode as a person sees it: `orchestra tui` in a real terminal (tmux, 200 × 50) on
 * the repository of `orchestra demo --autonomy` — nothing queued, a goal, the scripted model as
 * planner, coders and memory (src/demo/scenarios.ts). Nobody types: after `idleMinutes` the status
 * bar says `auto: planning`, the planner's three proposals become two tasks and one rejection (a
 * repeat), both tasks run in panes at once through the `npm test` check gate, are archived with
 * `origin: autonomy`, the loop rests (`auto: cooldown m:ss`), a typed key pauses it, and once the
 * keyboard is quiet again the daily task cap refuses the second cycle.
 */

let world: DemoWorld;
let term: TmuxTerminal;

before(async () => {
  world = await DemoWorld.create({ autonomy: true });
  term = await world.openTui(200, 50);
});

after(async () => {
  await world?.dispose();
});

/** The `auto:` field of the status bar: `planning`, `cooldown 0:12`, … */
function autoField(screen: string): string | undefined {
  return /auto: ([a-z]+(?: [\d:/]+| for today)?)/.exec(statusLine(screen))?.[1];
}

test('idle → plan → two tasks in parallel through the check gate → cooldown → a key pauses → the daily cap', {
  timeout: 150_000,
}, async () => {
  const phases = new Set<string>();
  const note = (screen: string) => {
    const field = autoField(screen);
    if (field) phases.add(field.split(' ')[0]!);
    return field;
  };
  await term.waitForScreen((s) => note(s) === 'idle', { what: 'auto: idle', timeoutMs: 10_000 });
  await term.waitForScreen((s) => note(s) === 'planning', { what: 'auto: planning', timeoutMs: 30_000 });

  // Both tasks run at once, each in its own pane.
  let maxRunning = 0;
  const cooldown = await term.waitForScreen(
    (s) => {
      maxRunning = Math.max(maxRunning, taskCounts(s)?.running ?? 0);
      return note(s)?.startsWith('cooldown') === true;
    },
    { what: 'auto: cooldown', timeoutMs: 90_000 },
  );
  assert.match(autoField(cooldown) ?? '', /^cooldown 0:[0-3]\d$/);
  assert.ok(phases.has('executing'), `the status bar showed executing (saw ${[...phases].join(', ')})`);
  assert.equal(maxRunning, 2, 'the two tasks ran in parallel');
  assert.deepEqual(taskCounts(cooldown), { queued: 0, running: 0, done: 3, failed: 0 }, statusLine(cooldown));
  for (const name of ['task-01/a1', 'task-02/a1', 'task-03/a1'])
    assert.match(cooldown, new RegExp(` \\d+: ${name.replace('/', '\\/')} `), `pane ${name}`);

  // The repeat was rejected with its reason; the two tasks are archived as autonomy's, cycle 1,
  // after passing `npm test` (task-02 only on its second round: its first try had a bug).
  const rejected = join(world.root, '.orchestra', 'rejected');
  assert.deepEqual((await readdir(rejected)).sort(), ['task-04.md', 'task-04.md.error.txt']);
  assert.match(
    await readFile(join(rejected, 'task-04.md.error.txt'), 'utf8'),
    /repeats task-02 \("Add multiply"\)/,
  );
  const done = join(world.root, '.orchestra', 'done');
  for (const id of ['task-02', 'task-03']) {
    const file = (await readdir(done)).find((f) => f.startsWith(`${id}-`));
    assert.ok(file, `${id} archived in done/`);
    const text = await readFile(join(done, file!), 'utf8');
    assert.match(text, /^---\n(?:.*\n)*?origin: autonomy\ncycle: 1\n/);
  }
  const state = await world.state();
  assert.equal(state.tasks['task-02']?.origin, 'autonomy');
  assert.equal(state.attempts['task-02-a1']?.checkRounds, 2, 'the check gate sent task-02 back once');

  // A key typed into the focused pane pauses the resting loop.
  await term.type('x');
  await term.waitForScreen((s) => note(s) === 'paused', { what: 'auto: paused', timeoutMs: 10_000 });

  // Quiet again for idleMinutes: the loop goes on, and the daily task cap refuses cycle 2.
  await term.waitForScreen((s) => note(s) === 'capped for today', {
    what: 'auto: capped for today',
    timeoutMs: 30_000,
  });
  const status = await world.orchestra(['autonomy', 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const parsed = JSON.parse(status.stdout) as AutonomyStatus;
  assert.equal(parsed.phase, 'capped');
  assert.equal(parsed.cycle, 1, 'no second cycle');
  assert.match(parsed.reason ?? '', /^daily task cap reached: 2 of 2 tasks today$/);
  const text = await world.orchestra(['autonomy', 'status']);
  assert.match(text.stdout, /^phase: capped \(cycle 1\)$/m);
  assert.match(text.stdout, /^tasks today: 2 of 2$/m);
  assert.match(text.stdout, /^spent today: \$0\.\d\d of \$5\.00$/m);
  assert.deepEqual(await readdir(join(world.root, '.orchestra', 'tasks')), [], 'nothing more queued');
});
