import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeRepo, tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

/**
 * `task add` refuses a task that could never run (issue 10): an unknown strategy, a dependency
 * that is no task anywhere, a dependency cycle. One line, a hint, a "did you mean", exit 1, and
 * nothing written.
 */
describe('task add refuses what cannot run', () => {
  let root: string;
  let xdg: string;
  let env: NodeJS.ProcessEnv;
  let tasks: string;

  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    env = { ...process.env, XDG_CONFIG_HOME: xdg, ANTHROPIC_API_KEY: '' };
    assert.equal((await runCli(['init'], { cwd: root, env })).code, 0);
    tasks = join(root, '.orchestra', 'tasks');
    assert.equal((await runCli(['task', 'add', 'First'], { cwd: root, env })).code, 0);
    // An archived task the queue no longer holds is still a dependency one may name.
    await writeFile(
      join(root, '.orchestra', 'done', 'task-05-2025-01-31-09-05.md'),
      '# Old\n\n## Goal\nx\n\n## Result\n\n- outcome: done\n',
    );
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  /** Runs `task add` and checks it was refused with one error line and a hint, and wrote nothing. */
  async function refused(args: string[], input?: string): Promise<string> {
    const before = await readdir(tasks);
    const result = await runCli(['task', 'add', ...args], { cwd: root, env, ...(input ? { input } : {}) });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0]!, /^error: /);
    assert.match(lines[1]!, /^hint: /);
    assert.deepEqual(await readdir(tasks), before, 'nothing written');
    return lines[0]!;
  }

  test('an unknown strategy, with the closest name', async () => {
    assert.equal(
      await refused(['Second', '--strategy', 'best-of-3']),
      'error: unknown strategy "best-of-3" (did you mean "best-of-n"?)',
    );
    assert.match(
      await refused(['-'], '---\nstrategy: refin\n---\n# T\n\n## Goal\nx\n'),
      /did you mean "refine"/,
    );
    assert.doesNotMatch(await refused(['Second', '--strategy', 'zzzzzz']), /did you mean/);
  });

  test('a custom strategy in .orchestra/strategies/ is known', async () => {
    await mkdir(join(root, '.orchestra', 'strategies'), { recursive: true });
    await writeFile(join(root, '.orchestra', 'strategies', 'pair.mjs'), 'export const strategy = {};\n');
    assert.match(await refused(['Second', '--strategy', 'pairs']), /did you mean "pair"/);
    const ok = await runCli(['task', 'add', 'Paired', '--strategy', 'pair', '--json'], { cwd: root, env });
    assert.equal(ok.code, 0, ok.stderr);
    await rm(JSON.parse(ok.stdout).path);
  });

  test('a dependency that is no task: not queued, not in the store, not archived', async () => {
    assert.equal(
      await refused(['Second', '--depends-on', 'task-02']),
      'error: dependsOn task-02 names no task: not queued, not in the store, not archived (did you mean task-01?)',
    );
    assert.match(
      await refused(['-'], '---\ndependsOn: [1, 77]\n---\n# T\n\n## Goal\nx\n'),
      /task-77 names no task/,
    );
    // Queued and archived ones are fine.
    const ok = await runCli(
      ['task', 'add', 'Second', '--depends-on', '1', '--depends-on', 'task-05', '--json'],
      {
        cwd: root,
        env,
      },
    );
    assert.equal(ok.code, 0, ok.stderr);
    await rm(JSON.parse(ok.stdout).path);
  });

  test('a dependency cycle through queued tasks', async () => {
    // A hand-written task waits for the next number, which the new task would get.
    await writeFile(join(tasks, 'task-02.md'), '---\ndependsOn: [task-06]\n---\n# Waits\n\n## Goal\nx\n');
    try {
      assert.equal(
        await refused(['Third', '--depends-on', '2']),
        'error: dependsOn goes round in a cycle: task-06 → task-02 → task-06',
      );
    } finally {
      await rm(join(tasks, 'task-02.md'));
    }
  });
});
