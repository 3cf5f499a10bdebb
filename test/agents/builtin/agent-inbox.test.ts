import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { lastUserContent, makeWorld, profile, startAgent, statuses } from './agent-harness.js';

/**
 * The scheduler's channel to a running agent: with agent.json `stayAfterComplete`, the agent stays
 * after task_complete (state done), takes the check gate's failures from `inbox.jsonl` as the next
 * user message, and exits when orchestra writes `finish`.
 */
describe('orchestra inbox', () => {
  test('a message after task_complete continues the conversation; finish ends the agent', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [{ name: 'task_complete', input: { summary: 'first try' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'fixed the test' } }] },
        ],
      },
      { profile: profile(), checks: ['true'], taskId: 'task-01', stayAfterComplete: true },
    );
    try {
      const agent = await startAgent(world);
      await agent.waitFor('waiting for the checks');
      const inbox = join(world.runDir, 'inbox.jsonl');
      await appendFile(
        inbox,
        `${JSON.stringify({ type: 'message', text: 'check failed: npm test exited 1' })}\n`,
      );
      while (world.server.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
      const content = lastUserContent(world.server, 1);
      assert.equal(content.at(-1)?.text, '[orchestra] check failed: npm test exited 1');
      assert.equal(content[0]?.type, 'tool_result', 'the task_complete result comes first');
      await agent.waitFor(/waiting for the checks[\s\S]*waiting for the checks/);
      await appendFile(inbox, `${JSON.stringify({ type: 'finish' })}\n`);
      const exit = await agent.exit;
      assert.equal(exit.exitCode, 0, agent.output());
      const states = (await statuses(world.runDir)).map((s) => s.state);
      assert.deepEqual(states, ['working', 'done', 'working', 'done']);
    } finally {
      await world.cleanup();
    }
  });

  test('a resumed agent does not take an inbox message twice', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [{ name: 'task_complete', input: { summary: 'one' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'two' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'three' } }] },
        ],
      },
      { profile: profile(), checks: ['true'], taskId: 'task-01', stayAfterComplete: true },
    );
    try {
      const first = await startAgent(world);
      await first.waitFor('waiting for the checks');
      const inbox = join(world.runDir, 'inbox.jsonl');
      await appendFile(inbox, `${JSON.stringify({ type: 'message', text: 'please fix' })}\n`);
      await first.waitFor(/waiting for the checks[\s\S]*waiting for the checks/);
      first.kill('SIGKILL');
      await first.exit;
      const second = await startAgent(world, { resume: true });
      await second.waitFor('waiting for the checks');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(world.server.requests.length, 2, 'the old message was not delivered again');
      await appendFile(inbox, `${JSON.stringify({ type: 'finish' })}\n`);
      assert.equal((await second.exit).exitCode, 0, second.output());
    } finally {
      await world.cleanup();
    }
  });
});
