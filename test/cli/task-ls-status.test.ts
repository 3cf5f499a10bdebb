import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { orchestraPaths } from '../../src/common/paths.js';
import { addAttempt, setAttemptState, upsertTask } from '../../src/store/records.js';
import { StateStore } from '../../src/store/store.js';
import { makeRepo, tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

interface Row {
  id: string;
  status: string;
  reason?: string;
}

/**
 * `task ls` says what the board says (issue 10): a task the server is running is running, not
 * queued; a malformed file is invalid, with why. The store is written as the server writes it.
 */
describe('task ls shows each task with its status', () => {
  let root: string;
  let xdg: string;
  let env: NodeJS.ProcessEnv;

  const task = (title: string, front = '') =>
    `${front ? `---\n${front}\n---\n` : ''}# ${title}\n\n## Goal\nDo ${title}\n`;

  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    env = { ...process.env, XDG_CONFIG_HOME: xdg, ANTHROPIC_API_KEY: '' };
    assert.equal((await runCli(['init'], { cwd: root, env })).code, 0);
    const paths = orchestraPaths(root);
    const files: Record<string, string> = {
      'task-01': task('Running one'),
      'task-02': task('Preparing one'),
      'task-03': task('Waiting one', 'dependsOn: [task-01]'),
      'task-04': task('Orphan', 'dependsOn: [task-42]'),
      'task-05': task('Round A', 'dependsOn: [task-06]'),
      'task-06': task('Round B', 'dependsOn: [task-05]'),
      'task-07': task('After a failure', 'dependsOn: [task-09]'),
      'task-08': '---\nstrategy: [not, a, name]\n---\n# Broken\n\n## Goal\nx\n',
    };
    for (const [id, text] of Object.entries(files)) await writeFile(join(paths.tasks, `${id}.md`), text);
    await writeFile(
      join(paths.done, 'task-10-2025-01-31-09-05.md'),
      `${task('Merged one')}\n## Result\n\n- outcome: done\n`,
    );
    await writeFile(
      join(paths.failed, 'task-09-2025-01-31-09-00.md'),
      `${task('Failed one')}\n## Result\n\n- outcome: failed\n- reason: the checks did not pass\n`,
    );
    const store = await StateStore.open(paths.state);
    await store.update((draft) => {
      upsertTask(draft, { id: 'task-01', state: 'running', title: 'Running one' });
      const base = { branch: 'b', worktree: '/w', runDir: '/r' };
      addAttempt(draft, { id: 'task-01-1', taskId: 'task-01', n: 1, ...base });
      setAttemptState(draft, 'task-01-1', 'running');
      upsertTask(draft, { id: 'task-02', state: 'running', title: 'Preparing one' });
      addAttempt(draft, { id: 'task-02-1', taskId: 'task-02', n: 1, ...base });
      setAttemptState(draft, 'task-02-1', 'preparing');
      upsertTask(draft, { id: 'task-03', state: 'queued' });
      upsertTask(draft, {
        id: 'task-09',
        state: 'archived',
        outcome: 'failed',
        archivedAs: 'failed/task-09-2025-01-31-09-00.md',
        error: 'the checks did not pass',
      });
      upsertTask(draft, {
        id: 'task-10',
        state: 'archived',
        outcome: 'done',
        archivedAs: 'done/task-10-2025-01-31-09-05.md',
        mergedCommit: 'a'.repeat(40),
      });
      upsertTask(draft, { id: 'task-11', state: 'dropped', title: 'Dropped one' });
    });
    await store.close();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('queued, blocked, running and invalid tasks of the queue', async () => {
    const ls = await runCli(['task', 'ls', '--json'], { cwd: root, env });
    assert.equal(ls.code, 0, ls.stderr);
    const rows = new Map((JSON.parse(ls.stdout) as Row[]).map((r) => [r.id, r]));
    assert.equal(rows.get('task-01')?.status, 'running');
    assert.equal(rows.get('task-02')?.status, 'running', 'the board shows the record: preparing is running');
    assert.deepEqual([rows.get('task-03')?.status, rows.get('task-03')?.reason], ['queued', undefined]);
    assert.equal(rows.get('task-04')?.status, 'blocked');
    assert.match(rows.get('task-04')?.reason ?? '', /task-42, which is no task/);
    assert.equal(rows.get('task-05')?.status, 'blocked');
    assert.match(rows.get('task-05')?.reason ?? '', /cycle: task-05 → task-06 → task-05/);
    // A failed dependency does not block: the scheduler fails the task on its next look, as the board then shows.
    assert.equal(rows.get('task-07')?.status, 'queued');
    assert.equal(rows.get('task-08')?.status, 'invalid');
    assert.match(rows.get('task-08')?.reason ?? '', /"strategy" must be/);
    assert.ok(!rows.has('task-10') && !rows.has('task-11'), 'archived and dropped tasks only with --all');

    const text = await runCli(['task', 'ls'], { cwd: root, env });
    assert.match(text.stdout, /^ID +STATUS +STRATEGY +TITLE$/m);
    assert.match(text.stdout, /^task-01 +running +single +Running one$/m);
    assert.match(text.stdout, /^task-08 +invalid +- +.*"strategy" must be/m);
  });

  test('with --all: failed with its reason, merged, dropped', async () => {
    const ls = await runCli(['task', 'ls', '--all', '--json'], { cwd: root, env });
    assert.equal(ls.code, 0, ls.stderr);
    const rows = new Map((JSON.parse(ls.stdout) as Row[]).map((r) => [r.id, r]));
    assert.deepEqual(
      [rows.get('task-09')?.status, rows.get('task-09')?.reason],
      ['failed', 'the checks did not pass'],
    );
    assert.equal(rows.get('task-10')?.status, 'merged');
    assert.equal(rows.get('task-11')?.status, 'dropped', 'a task the store dropped, with no file left');
    const text = await runCli(['task', 'ls', '--all'], { cwd: root, env });
    assert.match(text.stdout, /^task-10 +merged +single +Merged one$/m);
    assert.match(text.stdout, /^task-11 +dropped +single +Dropped one$/m);
  });
});
