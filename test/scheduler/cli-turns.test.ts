import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { applyEdits, modify } from 'jsonc-parser';
import { gitOut, makeRepo, tempDir } from '../git/fixtures.js';
import {
  capture,
  listPanes,
  sendText,
  startTestSession,
  type TestSession,
  waitFor,
} from '../server/fixtures.js';
import { runCli } from '../support/cli.js';

/**
 * A CLI agent's turn that ends with nothing changed (Claude Code's Stop hook after a question) is
 * not a result: the attempt waits for the person's answer and the agent's next turn, instead of
 * running the checks on an unchanged tree and failing with "the agent made no change".
 */
let repo: string;
let scripts: string;
let session: TestSession;

before(async () => {
  repo = await makeRepo({ initialized: false });
  scripts = await tempDir();
  const init = await runCli(['init'], { cwd: repo });
  assert.equal(init.code, 0, init.stderr);
  // Like Claude Code: reports the end of each turn through a hook, and stays at its prompt.
  const agent = join(scripts, 'asks-first.sh');
  await writeFile(
    agent,
    [
      'run_dir="$1"',
      'turn() { printf \'{"type":"status","state":"done","summary":"%s","source":"test:Stop"}\\n\' "$1" >> "$run_dir/events.jsonl"; }',
      'echo "Which word shall I write?"',
      'turn "asked a question"',
      'read -r answer',
      'echo "$answer" >> README.md',
      'turn "wrote it"',
      'exec sleep 600',
      '',
    ].join('\n'),
  );
  // A runaway: ends turn after turn, changing nothing.
  const spins = join(scripts, 'spins.sh');
  await writeFile(
    spins,
    [
      'run_dir="$1"',
      'for i in $(seq 1 40); do',
      '  printf \'{"type":"status","state":"done","summary":"turn %s","source":"test:Stop"}\\n\' "$i" >> "$run_dir/events.jsonl"',
      '  sleep 0.3',
      'done',
      'exec sleep 600',
      '',
    ].join('\n'),
  );
  const configPath = join(repo, '.orchestra', 'orchestra.json');
  let text = await readFile(configPath, 'utf8');
  for (const [key, value] of [
    [['sandbox'], 'local'],
    [['check'], ['grep -qx yes README.md']],
    [['agents', 'asks'], { type: 'custom', command: `sh ${agent} {run_dir}` }],
    [['agents', 'spins'], { type: 'custom', command: `sh ${spins} {run_dir}` }],
    [['defaultAgent'], 'asks'],
  ] as const) {
    text = applyEdits(text, modify(text, [...key], value, {}));
  }
  await writeFile(configPath, text);
  const add = await runCli(['task', 'add', 'Write the word'], { cwd: repo });
  assert.equal(add.code, 0, add.stderr);
  const runaway = await runCli(['task', 'add', 'Spin', '--agent', 'spins'], { cwd: repo });
  assert.equal(runaway.code, 0, runaway.stderr);
  session = await startTestSession('cli-turns', { root: repo });
});
after(async () => {
  await session?.cleanup();
  gitOut(repo, 'worktree', 'prune');
  await rm(scripts, { recursive: true, force: true });
});

test("a turn that changed nothing waits for the person; the agent's next turn is checked and passes", async () => {
  const client = await session.connect();
  const pane = await waitFor(
    async () =>
      (await listPanes(client)).find((p) => p.name === 'task-01/a1' && p.command[0] !== '(preparing)'),
    'the pane running the agent',
    20_000,
  );
  await waitFor(
    async () =>
      (await capture(client, `%${pane.id}`))
        // Two panes share the width: the line may wrap.
        .replace(/\n/g, '')
        .includes('orchestra: the turn ended with no change;'),
    'orchestra saying it waits for the agent',
    30_000,
  ).catch(async (error: unknown) => {
    const text = await capture(client, `%${pane.id}`);
    const events = await readFile(
      join(repo, '.orchestra', 'runs', 'task-01-a1', 'events.jsonl'),
      'utf8',
    ).catch(() => '');
    throw new Error(`${String(error)}\npane:\n${text}\nevents:\n${events}`);
  });
  // The pane title and the notifications read the agent as waiting from its events file.
  await waitFor(
    async () =>
      /"state":"waiting","summary":"turn ended with no change","source":"orchestra"/.test(
        await readFile(join(repo, '.orchestra', 'runs', 'task-01-a1', 'events.jsonl'), 'utf8'),
      ),
    'the agent marked waiting in its events',
    10_000,
  );
  assert.ok(
    !(await readdir(join(repo, '.orchestra', 'failed')).catch(() => [])).some((f) =>
      f.startsWith('task-01-'),
    ),
    'task-01 did not fail',
  );
  await sendText(client, `%${pane.id}`, 'yes\r');
  const done = await waitFor(
    async () => (await readdir(join(repo, '.orchestra', 'done'))).find((f) => f.startsWith('task-01-')),
    'task-01 archived in done/',
    30_000,
  );
  const archived = await readFile(join(repo, '.orchestra', 'done', done), 'utf8');
  assert.match(archived, /- status: succeeded/);
  assert.match(
    archived,
    /- check rounds: task-01-a1 1 \(passed\)/,
    'the turn without a change was not a round',
  );
  assert.equal(gitOut(repo, 'show', 'orchestra/task-01/a1:README.md').trim().split('\n').at(-1), 'yes');
});

test('an agent that keeps ending turns without a change fails after 20 of them, not never', async () => {
  const failed = await waitFor(
    async () =>
      (await readdir(join(repo, '.orchestra', 'failed')).catch(() => [])).find((f) =>
        f.startsWith('task-02-'),
      ),
    'task-02 in failed/',
    60_000,
  );
  const archived = await readFile(join(repo, '.orchestra', 'failed', failed), 'utf8');
  assert.match(archived, /- reason: the agent ended 20 turns in a row without a change/);
});
