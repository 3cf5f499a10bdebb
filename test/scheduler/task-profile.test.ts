import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DOCS_EDITABLE } from '../../src/config/builtins.js';
import { gitOut } from '../git/fixtures.js';
import { ResumeWorld, waitFor } from './resume-world.js';

/**
 * A task's `profile:` reaches the built-in agent through the scheduler: a real `orchestra server`
 * runs a `profile: docs` task with the agent played by the scripted model server; the agent.json it
 * writes carries the docs profile, and the editor held to it — the markdown change lands on the
 * attempt's branch, the source file it tried to create does not.
 */

const EDITOR = 'str_replace_based_edit_tool';
let world: ResumeWorld | undefined;
const worlds: ResumeWorld[] = [];
after(async () => {
  await world?.dispose();
  for (const w of worlds) await w.dispose();
});

test('a task with "profile: docs" runs under the docs profile', { timeout: 120_000 }, async () => {
  world = await ResumeWorld.custom({
    name: 'task-profile',
    files: { 'README.md': 'hello\n' },
    config: { sandbox: 'local', maxParallel: 1 },
    tasks: {
      'task-01':
        '---\nprofile: docs\n---\n# Document it\n\n## Goal\nSay "documented" in README.md.\n\n## Test plan\n1. Run `grep -q documented README.md`\n',
    },
    scenario: {
      scenarios: {
        'task-01-a1': {
          match: { system: 'worktrees/task-01-a1\\b' },
          turns: [
            { toolUses: [{ name: EDITOR, input: { command: 'create', path: 'src/x.ts', file_text: 'x' } }] },
            {
              toolUses: [
                {
                  name: EDITOR,
                  input: {
                    command: 'str_replace',
                    path: 'README.md',
                    old_str: 'hello',
                    new_str: 'documented',
                  },
                },
              ],
            },
            { toolUses: [{ name: 'task_complete', input: { summary: 'documented' } }] },
          ],
        },
      },
    },
  });
  const w = world;
  w.startServer();
  const state = await waitFor(
    async () => {
      const s = await w.state();
      return s?.tasks['task-01']?.state === 'archived' ? s : undefined;
    },
    'task-01 archived',
    90_000,
    200,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await w.serverLogs()}`);
  });
  assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);

  const agentJson = JSON.parse(await readFile(join(w.paths.runs, 'task-01-a1', 'agent.json'), 'utf8'));
  assert.deepEqual(agentJson.profile.editable, DOCS_EDITABLE);
  const branch = 'orchestra/task-01/a1';
  assert.equal(gitOut(w.root, 'show', `${branch}:README.md`), 'documented');
  assert.deepEqual(
    gitOut(w.root, 'ls-tree', '-r', '--name-only', branch)
      .split('\n')
      .filter((f) => f.startsWith('src/')),
    [],
    'the refused source file is not on the branch',
  );
  const request = w.model.requests.find((r) => r.scenario === 'task-01-a1' && r.turnIndex === 1);
  assert.match(JSON.stringify(request?.body), /\\"src\/x\.ts\\" is not editable by this profile/);
});

test('a "profile: docs" task that changes a source file by other means fails on the host', {
  timeout: 120_000,
}, async () => {
  // The editor and the read-only bash are the built-in agent's guards; any other agent (here the
  // shell adapter, typed into as a person or a CLI agent would) writes what it likes. The profile's
  // editable globs hold on the host, on the commit taken back.
  const w = await ResumeWorld.custom({
    name: 'task-profile-shell',
    files: { 'README.md': 'hello\n' },
    config: { sandbox: 'local', maxParallel: 1, maxAttempts: 1 },
    tasks: {
      'task-01':
        '---\nagent: shell\nprofile: docs\n---\n# Document it\n\n## Goal\nSay "documented" in README.md.\n\n## Test plan\n1. Run `grep -q documented README.md`\n',
    },
    scenario: { scenarios: { unused: { turns: [{ text: 'unused' }] } } },
  });
  worlds.push(w);
  w.startServer();
  await waitFor(
    async () => {
      const panes = await w
        .request<Array<{ name: string; command: string[] }>>({ cmd: 'list-panes' })
        .catch(() => []);
      return panes.find((p) => p.name === 'task-01/a1' && p.command[0] !== '(preparing)');
    },
    'the pane running the shell',
    60_000,
    100,
  );
  await w.request({
    cmd: 'send-keys',
    pane: 'task-01/a1',
    // The protocol's send-keys carries base64 of the bytes.
    data: Buffer.from('echo documented > README.md; mkdir -p src; echo x > src/x.ts; exit\r').toString(
      'base64',
    ),
  });
  const state = await waitFor(
    async () => {
      const s = await w.state();
      return s?.tasks['task-01']?.state === 'archived' ? s : undefined;
    },
    'task-01 archived',
    30_000,
    200,
  ).catch(async (error: Error) => {
    const screen = await w
      .request({ cmd: 'capture-pane', pane: 'task-01/a1' })
      .catch((e: Error) => e.message);
    throw new Error(`${error.message}\n${JSON.stringify(screen)}\n${await w.serverLogs()}`);
  });
  assert.match(state.tasks['task-01']?.archivedAs ?? '', /^failed\//);
  assert.match(
    state.tasks['task-01']?.error ?? '',
    /^it changed files its profile "docs" may not edit: src\/x\.ts \(editable: \*\*\/\*\.md, /,
  );
  assert.equal(state.tasks['task-01']?.resultBranch, undefined, 'nothing to merge');
});
