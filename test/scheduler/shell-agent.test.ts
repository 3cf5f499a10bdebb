import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { applyEdits, modify } from 'jsonc-parser';
import { gitOut, makeRepo } from '../git/fixtures.js';
import { listPanes, sendText, startTestSession, type TestSession, waitFor } from '../server/fixtures.js';
import { runCli } from '../support/cli.js';

/**
 * The `shell` adapter in the scheduler: a task with `agent: shell` gets a pane with a shell in its
 * worktree; a person types the change and exits; the exit is the agent's "done", the check gate runs,
 * and the task lands in done/ with its commit. This is also the "take over by typing" path.
 */
let repo: string;
let session: TestSession;

before(async () => {
  repo = await makeRepo({ initialized: false });
  const init = await runCli(['init'], { cwd: repo });
  assert.equal(init.code, 0, init.stderr);
  const configPath = join(repo, '.orchestra', 'orchestra.json');
  let text = await readFile(configPath, 'utf8');
  text = applyEdits(text, modify(text, ['sandbox'], 'local', {}));
  text = applyEdits(text, modify(text, ['check'], ['grep -q typed README.md'], {}));
  await writeFile(configPath, text);
  const add = await runCli(['task', 'add', 'Say that it was typed', '--agent', 'shell'], { cwd: repo });
  assert.equal(add.code, 0, add.stderr);
  session = await startTestSession('shell-agent', { root: repo });
});
after(async () => {
  await session?.cleanup();
  gitOut(repo, 'worktree', 'prune');
});

test('a shell agent runs in a pane; typing the change and exiting passes the check gate', async () => {
  const client = await session.connect();
  const pane = await waitFor(
    // The pane opens while the attempt prepares; the shell is respawned into it after.
    async () =>
      (await listPanes(client)).find((p) => p.name === 'task-01/a1' && p.command[0] !== '(preparing)'),
    'the pane running the shell',
    20_000,
  );
  assert.match(pane.cwd, /\.orchestra\/worktrees\/task-01-a1$/);
  await sendText(client, `%${pane.id}`, 'echo typed >> README.md; exit\r');
  const done = await waitFor(
    async () => (await readdir(join(repo, '.orchestra', 'done'))).find((f) => f.startsWith('task-01-')),
    'task-01 archived in done/',
    30_000,
  );
  const archived = await readFile(join(repo, '.orchestra', 'done', done), 'utf8');
  assert.match(archived, /- status: succeeded/);
  assert.match(archived, /- branch: `orchestra\/task-01\/a1`/);
  assert.match(gitOut(repo, 'show', 'orchestra/task-01/a1:README.md'), /typed/);
  const info = (await listPanes(client)).find((p) => p.id === pane.id);
  assert.equal(info?.exited, true, 'the pane stays with its transcript after the shell exits');
});
