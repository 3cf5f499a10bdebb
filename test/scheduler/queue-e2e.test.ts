import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { statusLine } from '../client/tui-fixture.js';
import type { TmuxTerminal } from '../support/tmux.js';
import { DemoWorld, taskCounts } from './demo-world.js';

/**
 * The queue run end to end, as a person sees it: `orchestra tui` in a real terminal (tmux,
 * 200 × 50; inside tmux orchestra's prefix is C-a) on the demo repository of `orchestra demo`,
 * whose three tasks are played by the scripted model server (src/demo/scenarios.ts):
 * task-01's first try fails `npm test` and is fixed after the failure goes back to its agent;
 * task-02 passes; task-03 runs best-of-3, where a3 breaks a test and the judge scores a2 over a1.
 * Then `orchestra merge` lands a result only when the checks pass on the merged code.
 *
 * The repository's orchestra.json says `"sandbox": "local"`, so the agents are local processes
 * and the test does not depend on Docker (Docker workers are covered by test/workers).
 * The tests share one session and run in order.
 */
describe('running the queue of the demo repository in orchestra tui', () => {
  let world: DemoWorld;
  let term: TmuxTerminal;
  /** Every distinct task-count text the status bar showed while the queue ran. */
  const countsSeen = new Set<string>();
  /** The title task-02's pane showed while its agent waited out the rate limit, if seen. */
  let rateLimitedTitle = '';
  /** The last screen of the run, with every pane still on it. */
  let finalScreen = '';

  /** Pane titles are drawn as ` <index>: <name> [state]...` at the top of each pane. */
  const paneTitle = (name: string) => new RegExp(`(?:^|│) (\\d+): ${name.replace('/', '\\/')} `, 'm');
  const ATTEMPT_PANES = ['task-01/a1', 'task-02/a1', 'task-03/a1', 'task-03/a2', 'task-03/a3'];

  /** The archived file of `task` in done/ (there must be exactly one). */
  async function archived(task: string): Promise<string> {
    const files = (await readdir(join(world.root, '.orchestra', 'done'))).filter((f) =>
      f.startsWith(`${task}-`),
    );
    assert.equal(files.length, 1, `one archive of ${task} in done/ (found ${files.join(', ') || 'none'})`);
    return readFile(join(world.root, '.orchestra', 'done', files[0]!), 'utf8');
  }

  /** The `- key: value` lines of an archive's `## Result` section. */
  function resultFields(text: string): Map<string, string> {
    const at = text.indexOf('\n## Result\n');
    assert.ok(at >= 0, `the archive has a "## Result" section:\n${text}`);
    const fields = new Map<string, string>();
    for (const m of text.slice(at).matchAll(/^- ([a-z ]+): (.*)$/gm)) fields.set(m[1]!, m[2]!);
    return fields;
  }

  before(async () => {
    world = await DemoWorld.create();
    term = await world.openTui(200, 50);
  });

  after(async () => {
    await world?.dispose();
  });

  test('the three tasks run in panes and the status bar counts them until all are done', {
    timeout: 90_000,
  }, async () => {
    // Generous: two cores may be busy with other test files, and the queue runs ~10 npm tests.
    finalScreen = await term.waitForScreen(
      (screen) => {
        const counts = taskCounts(screen);
        if (counts) countsSeen.add(`${counts.queued}/${counts.running}/${counts.done}/${counts.failed}`);
        rateLimitedTitle ||= /\d+: task-02\/a1 \[rate-limited until \d\d:\d\d\]/.exec(screen)?.[0] ?? '';
        return (
          counts?.done === 3 &&
          counts.running === 0 &&
          ATTEMPT_PANES.every((name) => paneTitle(name).test(screen))
        );
      },
      { timeoutMs: 80_000, what: 'all five attempt panes and "3 done" in the status bar' },
    );
    const counts = taskCounts(finalScreen);
    assert.deepEqual(counts, { queued: 0, running: 0, done: 3, failed: 0 }, statusLine(finalScreen));
    assert.ok(
      [...countsSeen].some((c) => Number(c.split('/')[1]) > 0),
      `the status bar showed tasks running on the way (saw ${[...countsSeen].join(', ')})`,
    );
    // The status bar lists the panes by name too, and counts them.
    const status = statusLine(finalScreen);
    for (const name of ATTEMPT_PANES) assert.match(status, new RegExp(`\\d+:${name.replace('/', '\\/')}`));
    assert.match(status, /\b5 panes\b/, status);
  });

  test('a 429 with retry-after: 3 pauses task-02, shown in its pane; it resumes and passes with no failed round', async () => {
    assert.match(
      rateLimitedTitle,
      /task-02\/a1 \[rate-limited until \d\d:\d\d\]/,
      'the pane said until when',
    );
    const state = await world.state();
    const attempt = state.attempts['task-02-a1'];
    assert.equal(attempt?.state, 'succeeded');
    assert.equal(attempt?.checkRounds, 1, 'the one check round passed: the wait was no failed try');
    assert.equal(state.tasks['task-02']?.attempts.length, 1);
    const events = await readFile(
      join(world.root, '.orchestra', 'runs', 'task-02-a1', 'events.jsonl'),
      'utf8',
    );
    const states = events
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; state?: string })
      .filter((e) => e.type === 'status')
      .map((e) => e.state);
    assert.deepEqual(states.slice(0, 3), ['working', 'rate-limited', 'working']);
  });

  test('a failing check goes back to the agent, which fixes it', async () => {
    const state = await world.state();
    const attempt = state.attempts['task-01-a1'];
    assert.ok(attempt, 'task-01 has an attempt a1 in state.json');
    assert.equal(attempt.state, 'succeeded');
    assert.equal(attempt.checkRounds, 2, 'the second check round passed');
    assert.equal(state.tasks['task-01']?.attempts.length, 1, 'the fix came from the same attempt');

    // The check log holds both rounds: the failure the agent was sent, then the pass.
    const log = await readFile(join(world.root, '.orchestra', 'runs', 'task-01-a1', 'checks.log'), 'utf8');
    const round2 = log.indexOf('── round 2 ──');
    assert.ok(round2 > 0, `checks.log has a second round:\n${log}`);
    assert.match(log.slice(0, round2), /✗ npm test exited 1/);
    assert.match(log.slice(0, round2), /81/, 'round 1 failed on multiply(3, 4) being 81');
    assert.match(log.slice(round2), /✓ npm test/);

    // In the TUI: focus task-01's pane, zoom it, and search its history for the message.
    const index = paneTitle('task-01/a1').exec(finalScreen)?.[1];
    assert.ok(index !== undefined, `task-01/a1 has a pane on the screen:\n${finalScreen}`);
    await term.sendKeys('C-a', index);
    await term.waitForScreen((s) => /\d+:task-01\/a1\*/.test(statusLine(s)), { what: 'focus on task-01/a1' });
    await term.sendKeys('C-a', 'z');
    await term.waitForScreen((s) => / Z \|/.test(statusLine(s)), { what: 'the zoomed pane' });
    await term.sendKeys('C-a', '[');
    await term.waitForScreen((s) => /\[scroll \d+-\d+\/\d+\]/.test(s), { what: 'scroll mode' });
    await term.sendKeys('/');
    await term.type('The checks failed');
    await term.sendKeys('Enter');
    const screen = await term.waitForText('» orchestra: The checks failed (round 1 of 2)');
    assert.match(screen, /^ \d+: task-01\/a1 /m, 'the zoomed pane is task-01/a1');
    await term.sendKeys('q');
    await term.waitForScreen((s) => !/\[scroll \d+-\d+\/\d+\]/.test(s), { what: 'scroll mode to end' });
    await term.sendKeys('C-a', 'z');
    await term.waitForScreen((s) => ATTEMPT_PANES.every((name) => paneTitle(name).test(s)), {
      what: 'the unzoomed panes',
    });

    const fields = resultFields(await archived('task-01'));
    assert.equal(fields.get('status'), 'succeeded');
    assert.equal(fields.get('attempts'), '1');
  });

  test('best-of-3 keeps the passing candidate the judge scores highest', async () => {
    const state = await world.state();
    const task = state.tasks['task-03'];
    assert.ok(task, 'task-03 is in state.json');
    assert.deepEqual(task.attempts, ['task-03-a1', 'task-03-a2', 'task-03-a3']);
    assert.equal(task.resultBranch, 'orchestra/task-03/a2');
    assert.equal(task.resultCommit, await world.git('rev-parse', 'orchestra/task-03/a2'));
    const [a1, a2, a3] = task.attempts.map((id) => state.attempts[id]);
    assert.equal(a1?.state, 'succeeded');
    assert.equal(a2?.state, 'succeeded');
    assert.equal(a3?.state, 'failed', 'a3 broke subtract');
    assert.equal(a3?.checkRounds, 2, 'a3 failed the check twice');
    assert.match(a3?.error ?? '', /checks failed: npm test/);

    const text = await archived('task-03');
    const rows = [...text.matchAll(/^\| (task-03-a\d) \| (\w+) \| (\d*) \| (\w*) \|$/gm)].map((m) => ({
      attempt: m[1],
      check: m[2],
      score: m[3],
      chosen: m[4],
    }));
    assert.deepEqual(
      rows,
      [
        { attempt: 'task-03-a1', check: 'pass', score: '6', chosen: '' },
        { attempt: 'task-03-a2', check: 'pass', score: '9', chosen: 'yes' },
        { attempt: 'task-03-a3', check: 'fail', score: '', chosen: '' },
      ],
      `the candidates table:\n${text}`,
    );
    // The winner's branch holds a2's README (examples per function), not a1's list.
    const readme = await world.git('show', 'orchestra/task-03/a2:README.md');
    assert.match(readme, /### add\(a, b\)/);
  });

  test('every archive carries its Result: status, branch, commit, attempts, cost', async () => {
    const state = await world.state();
    const expected = [
      { task: 'task-01', branch: 'orchestra/task-01/a1', attempts: '1' },
      { task: 'task-02', branch: 'orchestra/task-02/a1', attempts: '1' },
      { task: 'task-03', branch: 'orchestra/task-03/a2', attempts: '3' },
    ];
    for (const e of expected) {
      const fields = resultFields(await archived(e.task));
      assert.equal(fields.get('status'), 'succeeded', `${e.task} status`);
      assert.equal(fields.get('branch'), `\`${e.branch}\``, `${e.task} branch`);
      assert.equal(fields.get('commit'), `\`${await world.git('rev-parse', e.branch)}\``, `${e.task} commit`);
      assert.equal(fields.get('attempts'), e.attempts, `${e.task} attempts`);
      const cost =
        /^\$(\d+\.\d+) USD(?: \(agents \$(\d+\.\d+) USD, judge and reviewer \$(\d+\.\d+) USD\))?$/.exec(
          fields.get('cost') ?? '',
        );
      assert.ok(cost, `${e.task} has a cost in USD (got ${fields.get('cost')})`);
      assert.ok(Number(cost[1]) > 0, `${e.task} cost something: the scripted turns report usage`);
      if (e.task === 'task-03') {
        assert.ok(cost[3] && Number(cost[3]) > 0, `the judge's spend is counted: ${fields.get('cost')}`);
        assert.equal(
          fields.get('check rounds'),
          'task-03-a1 1 (passed), task-03-a2 1 (passed), task-03-a3 2 (not passed)',
        );
      }
      const record = state.tasks[e.task];
      assert.equal(record?.state, 'archived', `${e.task} state`);
      assert.match(
        record?.archivedAs ?? '',
        new RegExp(`^done/${e.task}-\\d{4}-\\d\\d-\\d\\d-\\d\\d-\\d\\d\\.md$`),
      );
    }
    const queued = await readdir(join(world.root, '.orchestra', 'tasks'));
    assert.deepEqual(
      queued.filter((f) => f.endsWith('.md')),
      [],
      'the queue is empty',
    );
  });

  test('prefix t shows the task board with the three tasks done', async () => {
    await term.sendKeys('C-a', 't');
    const screen = await term.waitForScreen((s) => s.includes('─ tasks') && /task-03\s+done/.test(s), {
      what: 'the task board',
    });
    const rows = screen.split('\n').filter((line) => /[> ] task-0\d /.test(line));
    assert.equal(rows.length, 3, `three rows on the board:\n${screen}`);
    assert.match(rows[0]!, /task-01\s+done\s+single\s+\$\d+\.\d+\s+Add multiply\s+a1:succeeded@\d/);
    assert.match(rows[1]!, /task-02\s+done\s+single\s+\$\d+\.\d+\s+Add divide\s+a1:succeeded@\d/);
    assert.match(
      rows[2]!,
      /task-03\s+done\s+best-of-n\s+\$\d+\.\d+\s+Document the API\s+a1:succeeded@\d a2:succeeded@\d a3:failed@\d/,
    );
    for (const row of rows) {
      const task = /task-0\d/.exec(row)![0];
      // Each attempt names the pane it ran in: the pane of that number carries its title.
      for (const m of row.matchAll(/\b(a\d):\w+@(\d+)/g)) {
        assert.equal(
          paneTitle(`${task}/${m[1]}`).exec(finalScreen)?.[1],
          m[2],
          `${task}/${m[1]} is pane ${m[2]} on the board and on the screen`,
        );
      }
      // The board's cost is the archive's, judge included (the archive rounds to cents).
      const boardUsd = Number(/\$(\d+\.\d+)/.exec(row)?.[1]);
      const archiveUsd = /^\$(\d+\.\d+)/.exec(resultFields(await archived(task)).get('cost') ?? '')?.[1];
      assert.equal(boardUsd.toFixed(2), archiveUsd, `${task}: the board's cost matches its Result`);
    }
    await term.sendKeys('q');
    await term.waitForScreen((s) => !s.includes('─ tasks'), { what: 'the board to close' });
  });

  test('orchestra merge lands a result only when the checks pass on the merged code', {
    timeout: 60_000,
  }, async () => {
    // Break main: add() is off by one, so `npm test` fails on anything merged into it.
    const calc = join(world.root, 'src', 'calc.js');
    const source = await readFile(calc, 'utf8');
    assert.ok(source.includes('return a + b;'), 'the sample library has add()');
    await writeFile(calc, source.replace('return a + b;', 'return a + b + 1;'));
    await world.git('commit', '--quiet', '-am', 'calc: break add');
    const broken = await world.git('rev-parse', 'main');

    const refused = await world.orchestra(['merge', '2', '--quiet']);
    assert.equal(refused.code, 1, `merge on a broken main exits 1:\n${refused.stdout}\n${refused.stderr}`);
    assert.match(refused.stderr, /task-02 was not merged \(checks-failed\)/);
    assert.match(refused.stderr, /main is untouched/);
    assert.equal(await world.git('rev-parse', 'main'), broken, 'main did not move');
    assert.equal(await readFile(calc, 'utf8'), source.replace('return a + b;', 'return a + b + 1;'));
    assert.equal((await world.state()).tasks['task-02']?.mergedCommit, undefined, 'no merge recorded');

    // Fix main, then the same merge lands.
    await world.git('revert', '--no-edit', 'HEAD');
    const fixed = await world.git('rev-parse', 'main');
    const merged = await world.orchestra(['merge', '2', '--quiet']);
    assert.equal(merged.code, 0, `merge on a good main succeeds:\n${merged.stdout}\n${merged.stderr}`);
    const head = await world.git('rev-parse', 'main');
    assert.notEqual(head, fixed, 'main moved');
    assert.match(
      merged.stdout,
      new RegExp(`merged task-02 \\(orchestra/task-02/a1\\) into main: ${head.slice(0, 10)}`),
    );
    const parents = (await world.git('rev-list', '--parents', '-n', '1', 'main')).split(' ').slice(1);
    assert.deepEqual(
      parents,
      [fixed, await world.git('rev-parse', 'orchestra/task-02/a1')],
      'a merge commit of the fixed main and the task-02 result',
    );
    assert.equal((await world.state()).tasks['task-02']?.mergedCommit, head, 'the merge is recorded');

    // The main checkout was fast-forwarded: its files are the merged code, and its tests pass.
    assert.match(await readFile(calc, 'utf8'), /export function divide/);
    const npm = await world.run('npm', ['test'], 60_000);
    assert.equal(npm.code, 0, `npm test passes on main:\n${npm.stdout}\n${npm.stderr}`);
    assert.match(npm.stdout, /ok \d+ - divide/);
  });
});
