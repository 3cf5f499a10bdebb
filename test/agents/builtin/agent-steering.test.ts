import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  lastUserContent,
  makeWorld,
  requestMessages,
  startAgent,
  statuses,
  userBlock,
} from './agent-harness.js';

describe('steering the built-in agent from its TTY', () => {
  test('a line typed during a turn reaches the model as the next user message', async () => {
    const world = await makeWorld({
      turns: [
        { delayMs: 1500, toolUses: [{ name: 'bash', input: { command: 'echo first' } }] },
        { toolUses: [{ name: 'task_complete', input: { summary: 'listened' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('orchestra agent');
      // The first request is under way (its answer is delayed) when the person types.
      while (world.server.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
      agent.write('please also update the docs\r');
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const content = lastUserContent(world.server, 1);
      assert.deepEqual(
        content.map((b) => b.type),
        ['tool_result', 'text'],
      );
      assert.equal(content[0]?.content, 'first');
      assert.equal(content[1]?.text, '[human operator] please also update the docs');
      assert.match(agent.output(), /» please also update the docs/);
    } finally {
      await world.cleanup();
    }
  });

  test('Ctrl-C aborts a slow stream; the next line continues the conversation', async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => `chunk${i} `);
    const world = await makeWorld({
      turns: [
        { text: chunks, chunkDelayMs: 150 },
        { toolUses: [{ name: 'task_complete', input: { summary: 'after the interruption' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('chunk1 ');
      const interruptedAt = Date.now();
      agent.write('\x03');
      await agent.waitFor('waiting for you');
      assert.ok(Date.now() - interruptedAt < 5000, 'the stream was cut, not read to its end');
      assert.equal(world.server.requests[0]!.complete, false);
      assert.doesNotMatch(agent.output(), /chunk59/);
      assert.match(agent.output(), /model request interrupted by the human/);
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'waiting',
        summary: 'interrupted by the human',
      });

      agent.write('keep it short\r');
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      // The discarded response is not in the history; the line joins the first user message.
      const messages = requestMessages(world.server, 1);
      assert.equal(messages.length, 1);
      assert.deepEqual(
        messages[0]!.content.map((b) => b.text),
        [messages[0]!.content[0]!.text, '[human operator] keep it short'],
      );
    } finally {
      await world.cleanup();
    }
  });

  test('Ctrl-C kills a running command; the result says it was interrupted', async () => {
    const world = await makeWorld({
      turns: [
        { toolUses: [{ name: 'bash', input: { command: 'echo started; sleep 30; echo never' } }] },
        { toolUses: [{ name: 'task_complete', input: { summary: 'skipped the sleep' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('▸ bash: echo started; sleep 30');
      await new Promise((r) => setTimeout(r, 300));
      const interruptedAt = Date.now();
      agent.write('\x03');
      await agent.waitFor('waiting for you');
      assert.ok(Date.now() - interruptedAt < 5000);
      agent.write('skip that\r');
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const result = userBlock(world.server, 1, 0);
      const human = userBlock(world.server, 1, 1);
      assert.equal(result.is_error, true);
      assert.match(result.content, /^started\n\n\[interrupted by the human operator \(Ctrl-C\)/);
      assert.equal(human.text, '[human operator] skip that');
    } finally {
      await world.cleanup();
    }
  });

  test('ending a turn without task_complete waits; Ctrl-C then stops the agent', async () => {
    const world = await makeWorld({ turns: [{ text: 'Should I also rename the file?' }] });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('waiting for you');
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'waiting',
        summary: 'Should I also rename the file?',
      });
      agent.write('\x03');
      assert.equal((await agent.exit).exitCode, 1);
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'error',
        summary: 'stopped by the human',
      });
    } finally {
      await world.cleanup();
    }
  });

  test('SIGTERM ends the agent at once and leaves the state to whoever sent it', async () => {
    const world = await makeWorld({ turns: [{ text: 'Which file?' }] });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('waiting for you');
      agent.kill('SIGTERM');
      assert.equal((await agent.exit).exitCode, 1);
      assert.match(agent.output(), /terminated by SIGTERM/);
      assert.equal((await statuses(world.runDir)).at(-1)?.state, 'waiting');
    } finally {
      await world.cleanup();
    }
  });

  test('after a crash, --resume continues without running any tool call twice', async () => {
    const count = (name: string) => `echo run >> .orchestra/${name}`;
    const world = await makeWorld({
      turns: [
        { toolUses: [{ name: 'bash', input: { command: count('a') } }] },
        // Killed while this command sleeps: it started, so it must not run again.
        {
          toolUses: [
            { name: 'bash', input: { command: `${count('b')}; sleep 5` } },
            { name: 'bash', input: { command: count('c') } },
          ],
        },
        // Killed while this answer is delayed: the request is simply sent again.
        { delayMs: 5000, text: 'lost' },
        { toolUses: [{ name: 'bash', input: { command: count('d') } }] },
        { toolUses: [{ name: 'task_complete', input: { summary: 'resumed twice' } }] },
      ],
    });
    const lines = async (name: string) =>
      (await readFile(join(world.repo, '.orchestra', name), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean).length;
    try {
      const first = await startAgent(world);
      await first.waitFor('▸ bash: echo run >> .orchestra/b; sleep 5');
      while ((await lines('b')) === 0) await new Promise((r) => setTimeout(r, 20));
      first.kill('SIGKILL');
      await first.exit;

      const second = await startAgent(world, { resume: true });
      await second.waitFor('resumed from conversation.json');
      while (world.server.requests.length < 3) await new Promise((r) => setTimeout(r, 20));
      second.kill('SIGKILL');
      await second.exit;

      const third = await startAgent(world, { resume: true });
      assert.equal((await third.exit).exitCode, 0, third.output());

      assert.deepEqual(
        [await lines('a'), await lines('b'), await lines('c'), await lines('d')],
        [1, 1, 1, 1],
      );
      // The second run sent the interrupted call's result and ran the call that had not started.
      const b = userBlock(world.server, 2, 0);
      const c = userBlock(world.server, 2, 1);
      assert.equal(b.is_error, true);
      assert.match(b.content, /interrupted by a restart.*may have partly run/);
      assert.equal(c.is_error, undefined);
      assert.match(second.output(), /interrupted by a restart, not run again/);
      // The third run repeated the lost request with the same conversation.
      assert.deepEqual(requestMessages(world.server, 3), requestMessages(world.server, 2));
      assert.deepEqual((await statuses(world.runDir)).at(-1), { state: 'done', summary: 'resumed twice' });
    } finally {
      await world.cleanup();
    }
  });
});
