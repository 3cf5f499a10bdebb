import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readProposals } from '../../../src/autonomy/proposals.js';
import { sampleProposal } from '../../tasks/proposal-fixtures.js';
import {
  lastUserContent,
  makeWorld,
  profile,
  readEvents,
  requestBody,
  requestMessages,
  startAgent,
  statuses,
} from './agent-harness.js';

/** agent.json of a planner run: read-only, propose_task with `max`, the repository's memory. */
function plannerJson(max: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    profile: profile({ readOnly: true }),
    checks: [],
    taskId: 'task-01',
    proposals: { max },
    memory: '- the test suite needs `npm run build` first',
    ...extra,
  };
}

const propose = (title: string, extra: Record<string, unknown> = {}, id?: string) => ({
  ...(id === undefined ? {} : { id }),
  name: 'propose_task',
  input: { ...sampleProposal({ title }), ...extra },
});

async function proposalEvents(runDir: string): Promise<Array<{ index: unknown; title: unknown }>> {
  return (await readEvents(runDir))
    .filter((e) => e.type === 'proposal')
    .map((e) => ({ index: e.index, title: (e.proposal as { title?: unknown }).title }));
}

describe('built-in agent with proposals (the autonomy planner)', () => {
  test('numbers proposals, refuses invalid ones and those over the max, and is done when its turn ends', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [propose('first')] },
          { toolUses: [propose('no test plan', { test_plan: [] })] },
          { toolUses: [propose('second'), propose('third, over the max')] },
          { text: 'I proposed two tasks.' },
        ],
      },
      plannerJson(2),
    );
    try {
      const agent = await startAgent(world);
      const { exitCode } = await agent.exit;
      assert.equal(exitCode, 0, agent.output());

      const first = requestBody(world.server, 0);
      assert.deepEqual(
        first.tools.map((t) => t.name),
        ['bash', 'str_replace_based_edit_tool', 'task_complete', 'propose_task'],
      );
      const system = first.system.map((b) => b.text).join('\n');
      assert.match(system, /Propose tasks with propose_task: each call records one, at most 2 in all/);
      assert.match(system, /end your turn; that finishes your work/);
      assert.doesNotMatch(system, /ending your turn without it waits for the human/);
      // The memory sits after the instructions that hold for every task, before the task itself.
      const memoryAt = system.indexOf('# Repository memory');
      assert.ok(memoryAt > system.indexOf('# How you work') && memoryAt < system.indexOf('# The task'));
      assert.match(system.slice(memoryAt), /```markdown\n- the test suite needs `npm run build` first\n```/);

      const answer = (request: number, block = 0) => lastUserContent(world.server, request)[block]!;
      assert.equal(answer(1).content, 'Proposal 1 of 2 recorded. You may propose 1 more, or end your turn.');
      assert.equal(answer(1).is_error, undefined);
      assert.equal(answer(2).is_error, true);
      assert.equal(
        answer(2).content,
        'Error: proposal not recorded: test_plan: test_plan needs at least 1 entry. Fix it and call propose_task again.',
      );
      assert.equal(answer(3, 0).content, 'Proposal 2 of 2 recorded. That is the limit: end your turn.');
      assert.equal(answer(3, 1).is_error, true);
      assert.match(answer(3, 1).content, /not recorded: 2 proposals are the limit of this run/);
      assert.equal(world.server.requests.length, 4);

      assert.deepEqual(await proposalEvents(world.runDir), [
        { index: 1, title: 'first' },
        { index: 2, title: 'second' },
      ]);
      const read = await readProposals(join(world.runDir, 'events.jsonl'), 2);
      assert.deepEqual(read, [
        { index: 1, proposal: sampleProposal({ title: 'first' }) },
        { index: 2, proposal: sampleProposal({ title: 'second' }) },
      ]);
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'done',
        summary: 'I proposed two tasks.',
      });
    } finally {
      await world.cleanup();
    }
  });

  test('a resumed planner continues the numbering and answers a call recorded before the crash', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [propose('first', {}, 'toolu_first')] },
          // Killed while this answer is delayed.
          { delayMs: 10_000, text: 'lost' },
          { toolUses: [propose('second')] },
          { text: 'Done proposing.' },
        ],
      },
      plannerJson(3),
    );
    try {
      const first = await startAgent(world);
      while (world.server.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
      first.kill('SIGKILL');
      await first.exit;
      assert.deepEqual(await proposalEvents(world.runDir), [{ index: 1, title: 'first' }]);

      // Put the checkpoint back to the moment between the proposal's line and its recorded result:
      // the call started, its result never reached conversation.json.
      const checkpointPath = join(world.runDir, 'conversation.json');
      const checkpoint = JSON.parse(await readFile(checkpointPath, 'utf8'));
      assert.equal(checkpoint.messages.at(-1).role, 'user');
      checkpoint.messages.pop();
      checkpoint.pending = { started: ['toolu_first'], results: {} };
      await writeFile(checkpointPath, JSON.stringify(checkpoint));

      const second = await startAgent(world, { resume: true });
      const { exitCode } = await second.exit;
      assert.equal(exitCode, 0, second.output());
      assert.equal(world.server.requests.length, 4);
      const recovered = lastUserContent(world.server, 2)[0]!;
      assert.equal(recovered.tool_use_id, 'toolu_first');
      assert.equal(recovered.is_error, undefined);
      assert.match(recovered.content, /^Proposal 1 of 3 recorded/);
      assert.match(lastUserContent(world.server, 3)[0]!.content, /^Proposal 2 of 3 recorded/);
      assert.deepEqual(await proposalEvents(world.runDir), [
        { index: 1, title: 'first' },
        { index: 2, title: 'second' },
      ]);
    } finally {
      await world.cleanup();
    }
  });

  test('staying after its turn ends, an inbox message continues it as a new user message', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [propose('first')] },
          { text: 'One is enough.' },
          { toolUses: [propose('second')] },
          { text: 'Two now.' },
        ],
      },
      plannerJson(2, { stayAfterComplete: true }),
    );
    try {
      const agent = await startAgent(world);
      await agent.waitFor('waiting for the checks');
      await appendFile(
        join(world.runDir, 'inbox.jsonl'),
        `${JSON.stringify({ type: 'message', text: 'propose one more' })}\n`,
      );
      await agent.waitFor(/waiting for the checks[\s\S]*waiting for the checks/);
      await appendFile(join(world.runDir, 'inbox.jsonl'), `${JSON.stringify({ type: 'finish' })}\n`);
      assert.equal((await agent.exit).exitCode, 0, agent.output());

      // The model's own turn stays its own; the message follows it as the user's.
      const messages = requestMessages(world.server, 2);
      assert.deepEqual(
        messages.slice(-2).map((m) => [m.role, m.content.at(-1)?.text]),
        [
          ['assistant', 'One is enough.'],
          ['user', '[orchestra] propose one more'],
        ],
      );
      assert.deepEqual(await proposalEvents(world.runDir), [
        { index: 1, title: 'first' },
        { index: 2, title: 'second' },
      ]);
      assert.deepEqual(
        (await statuses(world.runDir)).map((s) => s.state),
        ['working', 'done', 'working', 'done'],
      );
    } finally {
      await world.cleanup();
    }
  });

  test('a file outside the worktree is refused before it is recorded', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [propose('escape', { files_to_touch: ['../../etc/passwd'] })] },
          { text: 'Nothing.' },
        ],
      },
      plannerJson(1),
    );
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const answer = lastUserContent(world.server, 1)[0]!;
      assert.equal(answer.is_error, true);
      assert.match(answer.content, /proposal not recorded: .*Files to touch.*\.\.\/\.\.\/etc\/passwd/);
      assert.deepEqual(await proposalEvents(world.runDir), []);
    } finally {
      await world.cleanup();
    }
  });
});
