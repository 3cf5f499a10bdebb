import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  lastUserContent,
  makeWorld,
  profile,
  readEvents,
  requestBody,
  requestMessages,
  SECRET_KEY,
  startAgent,
  statuses,
  TEST_MODEL,
  userBlock,
} from './agent-harness.js';

const pricingPath = fileURLToPath(new URL('../../../src/agents/pricing.json', import.meta.url));

/** USD for one response, by hand from pricing.json's per-million rates. */
async function priceByHand(usage: { input: number; output: number; cacheWrite: number; cacheRead: number }) {
  const pricing = JSON.parse(await readFile(pricingPath, 'utf8'));
  const rates = pricing.models[TEST_MODEL];
  return (
    (usage.input * rates.input +
      usage.output * rates.output +
      usage.cacheWrite * rates.cacheWrite +
      usage.cacheRead * rates.cacheRead) /
    1_000_000
  );
}

describe('built-in agent on a PTY', () => {
  test('views, edits, runs bash and completes; events, cost and transcript are right', async () => {
    const usages = [
      {
        input_tokens: 12_000,
        output_tokens: 800,
        cache_creation_input_tokens: 9_000,
        cache_read_input_tokens: 0,
      },
      {
        input_tokens: 300,
        output_tokens: 400,
        cache_creation_input_tokens: 500,
        cache_read_input_tokens: 9_000,
      },
      {
        input_tokens: 200,
        output_tokens: 300,
        cache_creation_input_tokens: 400,
        cache_read_input_tokens: 9_500,
      },
      {
        input_tokens: 100,
        output_tokens: 150,
        cache_creation_input_tokens: 300,
        cache_read_input_tokens: 9_900,
      },
    ];
    const world = await makeWorld({
      turns: [
        {
          text: ['I will look at ', 'the README first.'],
          toolUses: [{ name: 'str_replace_based_edit_tool', input: { command: 'view', path: 'README.md' } }],
          usage: usages[0],
        },
        {
          toolUses: [
            {
              name: 'str_replace_based_edit_tool',
              input: { command: 'str_replace', path: 'README.md', old_str: 'hello', new_str: 'hi' },
            },
          ],
          usage: usages[1],
        },
        {
          toolUses: [
            { name: 'bash', input: { command: 'grep -c hi README.md; echo "key=[$ANTHROPIC_API_KEY]"' } },
          ],
          usage: usages[2],
        },
        {
          text: 'Done.',
          toolUses: [{ name: 'task_complete', input: { summary: 'README now says hi.' } }],
          usage: usages[3],
        },
      ],
    });
    try {
      const agent = await startAgent(world);
      const { exitCode } = await agent.exit;
      const out = agent.output();
      assert.equal(exitCode, 0, out);

      // The worktree holds the edit.
      assert.equal(await readFile(join(world.repo, 'README.md'), 'utf8'), 'hi\nworld\n');

      // Streaming requests with the standard tools and three cache breakpoints.
      assert.equal(world.server.requests.length, 4);
      const first = requestBody(world.server, 0);
      assert.equal(first.stream, true);
      assert.equal(first.model, TEST_MODEL);
      assert.equal(first.max_tokens, 4096);
      assert.deepEqual(
        first.tools.map((t) => [t.type ?? 'custom', t.name]),
        [
          ['bash_20250124', 'bash'],
          ['text_editor_20250728', 'str_replace_based_edit_tool'],
          ['custom', 'task_complete'],
        ],
      );
      assert.deepEqual(first.tools.at(-1)!.cache_control, { type: 'ephemeral' });
      assert.equal(first.tools[0]!.cache_control, undefined);
      assert.deepEqual(first.system.at(-1)!.cache_control, { type: 'ephemeral' });
      const system: string = first.system.map((b) => b.text).join('\n');
      assert.match(system, /Change "hello" in README\.md to "hi"/);
      assert.match(system, /README\.md/);
      assert.match(system, /grep -q hi README\.md/);
      for (const index of [0, 1, 2, 3]) {
        const content = lastUserContent(world.server, index);
        assert.deepEqual(content.at(-1)?.cache_control, { type: 'ephemeral' }, `request ${index}`);
        // Only the newest user message carries the moving breakpoint.
        const older = requestMessages(world.server, index).slice(0, -1);
        assert.ok(older.every((m) => m.content.every((b) => b.cache_control === undefined)));
      }

      // The view result is numbered; the bash result went back; no key reached bash.
      const view = userBlock(world.server, 1, 0);
      assert.equal(view.type, 'tool_result');
      assert.match(view.content, /1\thello\n\s+2\tworld/);
      const bash = userBlock(world.server, 3, 0);
      assert.equal(bash.content, '1\nkey=[]');

      // Status and usage events as DESIGN.md specifies.
      const events = await readEvents(world.runDir);
      const usageEvents = events.filter((e) => e.type === 'usage');
      assert.deepEqual(
        usageEvents.map(({ ts, ...rest }) => {
          assert.equal(typeof ts, 'string');
          return rest;
        }),
        usages.map((u) => ({ type: 'usage', model: TEST_MODEL, ...u })),
      );
      const states = await statuses(world.runDir);
      assert.deepEqual(states.at(0), { state: 'working', summary: 'starting' });
      assert.deepEqual(states.at(-1), { state: 'done', summary: 'README now says hi.' });

      // Cost, by hand from pricing.json.
      let expected = 0;
      for (const u of usages) {
        expected += await priceByHand({
          input: u.input_tokens,
          output: u.output_tokens,
          cacheWrite: u.cache_creation_input_tokens,
          cacheRead: u.cache_read_input_tokens,
        });
      }
      const checkpoint = JSON.parse(await readFile(join(world.runDir, 'conversation.json'), 'utf8'));
      assert.equal(checkpoint.costUsd.toFixed(2), expected.toFixed(2));
      assert.ok(Math.abs(checkpoint.costUsd - expected) < 1e-9);
      assert.equal(checkpoint.turns, 4);
      assert.equal(checkpoint.state, 'done');

      // The live transcript, and the same without colour in transcript.log.
      assert.match(out, /I will look at the README first\./);
      assert.match(out, /▸ view: README\.md/);
      assert.match(out, /▸ bash: grep -c hi README\.md/);
      assert.match(out, /✓ exit 0 · 2 lines/);
      assert.match(
        out,
        new RegExp(`── turn 4 · .* in / 1\\.6k out · \\$${expected.toFixed(4).replace('.', '\\.')} ──`),
      );
      assert.match(agent.rawOutput(), /\x1b\[/, 'the TTY gets colour');
      const log = await readFile(join(world.runDir, 'transcript.log'), 'utf8');
      assert.doesNotMatch(log, /\x1b/);
      assert.match(log, /▸ str_replace: README\.md\n {2}✓ replaced at line 1/);
      assert.match(log, /✓ task complete: README now says hi\./);
    } finally {
      await world.cleanup();
    }
  });

  test('a failed str_replace goes back to the model as an is_error result', async () => {
    const world = await makeWorld({
      turns: [
        {
          toolUses: [
            {
              name: 'str_replace_based_edit_tool',
              input: { command: 'str_replace', path: 'README.md', old_str: 'absent', new_str: 'x' },
            },
            {
              name: 'str_replace_based_edit_tool',
              input: { command: 'str_replace', path: 'README.md', old_str: 'o', new_str: '0' },
            },
            { name: 'str_replace_based_edit_tool', input: { command: 'view', path: '../outside.txt' } },
            { name: 'no_such_tool', input: {} },
          ],
        },
        { toolUses: [{ name: 'task_complete', input: { summary: 'gave up' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const results = lastUserContent(world.server, 1);
      assert.deepEqual(
        results.map((r) => [r.type, r.is_error]),
        [
          ['tool_result', true],
          ['tool_result', true],
          ['tool_result', true],
          ['tool_result', true],
        ],
      );
      assert.match(results[0]?.content ?? '', /no match for old_str/);
      assert.match(results[1]?.content ?? '', /occurs 2 times .*lines 1, 2/);
      assert.match(results[2]?.content ?? '', /outside/);
      assert.match(results[3]?.content ?? '', /no tool named "no_such_tool"/);
      assert.equal(await readFile(join(world.repo, 'README.md'), 'utf8'), 'hello\nworld\n');
      assert.match(agent.output(), /✗ no match for old_str/);
    } finally {
      await world.cleanup();
    }
  });

  test('a 529 is retried with backoff, shown in the transcript', async () => {
    const world = await makeWorld({
      turns: [
        { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } },
        { error: { status: 429, type: 'rate_limit_error', message: 'slow down', retryAfterSeconds: 0.05 } },
        { toolUses: [{ name: 'task_complete', input: { summary: 'ok' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      assert.equal(world.server.requests.length, 3);
      assert.match(agent.output(), /529 overloaded — retrying in 10ms \(attempt 2\/5\)/);
      // A rate limit is waited out for its retry-after (50 ms), and is no try of the five.
      assert.match(agent.output(), /429 rate limit — rate-limited until \S+, then it goes on/);
      const gap = world.server.requests[2]!.at - world.server.requests[1]!.at;
      assert.ok(gap >= 45, `waited ${gap} ms`);
    } finally {
      await world.cleanup();
    }
  });

  test('rate limits are waited out as often as they come, saying until when, and count as no failed try', async () => {
    const limited = {
      error: { status: 429, type: 'rate_limit_error', message: 'slow down', retryAfterSeconds: 0.05 },
    };
    const world = await makeWorld({
      turns: [
        limited,
        limited,
        limited,
        limited,
        limited,
        limited,
        { toolUses: [{ name: 'task_complete', input: { summary: 'ok' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      assert.equal(world.server.requests.length, 7, 'six 429s, more than the five tries a failure gets');
      const states = (await statuses(world.runDir)).map((s) => s.state);
      assert.equal(states.filter((s) => s === 'rate-limited').length, 6);
      const first = (await statuses(world.runDir)).find((s) => s.state === 'rate-limited')!;
      assert.match(String(first.summary), /^until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(states.at(-1), 'done');
    } finally {
      await world.cleanup();
    }
  });

  test('a rate limit longer than model.rateLimitMaxWaitMinutes in all fails the turn, saying so', async () => {
    const limited = {
      error: { status: 429, type: 'rate_limit_error', message: 'slow down', retryAfterSeconds: 3 },
    };
    const world = await makeWorld(
      { turns: [limited, { toolUses: [{ name: 'task_complete', input: { summary: 'ok' } }] }] },
      { profile: profile(), checks: [], taskId: 'task-01', rateLimitMaxWaitMinutes: 0.01 },
    );
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 1);
      assert.match(agent.output(), /rate-limited for 3s in all, more than model\.rateLimitMaxWaitMinutes/);
    } finally {
      await world.cleanup();
    }
  });

  test('when retries run out the agent ends in a clean error state', async () => {
    const overloaded = { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } };
    const world = await makeWorld({ turns: [overloaded, overloaded, overloaded, overloaded, overloaded] });
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 1);
      assert.equal(world.server.requests.length, 5);
      assert.match(agent.output(), /✗ model API error: 529 overloaded: Overloaded \(after 5 attempts\)/);
      const last = (await statuses(world.runDir)).at(-1)!;
      assert.equal(last.state, 'error');
      assert.match(String(last.summary), /529 overloaded.*after 5 attempts/);
    } finally {
      await world.cleanup();
    }
  });

  test('a stream that stalls after message_start is dropped after stallSeconds and retried', async () => {
    // Without the guard this turn would hold the agent for the whole 20 s silence.
    const world = await makeWorld(
      {
        turns: [
          { text: 'never shown', stallAfterEvents: { afterEvents: 1, ms: 20_000 } },
          { toolUses: [{ name: 'task_complete', input: { summary: 'done after the stall' } }] },
        ],
      },
      { profile: profile(), checks: [], taskId: 'task-01', stallSeconds: 1 },
    );
    try {
      const started = Date.now();
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 8000, `took ${elapsed} ms`);
      assert.equal(world.server.requests.length, 2);
      assert.equal(world.server.requests[0]!.eventsSent, 1);
      assert.match(agent.output(), /no event for 1 s — retrying in 10ms \(attempt 2\/5\)/);
      assert.match(agent.output(), /✓ task complete: done after the stall/);
      const gap = world.server.requests[1]!.at - world.server.requests[0]!.at;
      assert.ok(gap >= 950 && gap < 4000, `retried after ${gap} ms`);
    } finally {
      await world.cleanup();
    }
  });

  test('a stream that stalls on every attempt ends the agent with an error naming the stall', async () => {
    const stalled = { text: 'never shown', stallAfterEvents: { afterEvents: 1, ms: 20_000 } };
    const world = await makeWorld(
      { turns: [stalled, stalled, stalled, stalled, stalled] },
      { profile: profile(), checks: [], taskId: 'task-01', stallSeconds: 1 },
    );
    try {
      const started = Date.now();
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 1, agent.output());
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
      assert.equal(world.server.requests.length, 5);
      assert.match(
        agent.output(),
        /✗ model API error: no event for 1 s: the model API went silent \(model\.stallSeconds\) \(after 5 attempts\)/,
      );
      const last = (await statuses(world.runDir)).at(-1)!;
      assert.equal(last.state, 'error');
      assert.match(String(last.summary), /no event for 1 s.*after 5 attempts/);
    } finally {
      await world.cleanup();
    }
  });

  test('a non-transient 4xx is not retried', async () => {
    const world = await makeWorld({
      turns: [
        { error: { status: 400, type: 'invalid_request_error', message: 'messages: bad' } },
        { text: 'never' },
      ],
    });
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 1);
      assert.equal(world.server.requests.length, 1);
      const last = (await statuses(world.runDir)).at(-1)!;
      assert.deepEqual(last, {
        state: 'error',
        summary: 'model API error: 400 invalid request: messages: bad',
      });
    } finally {
      await world.cleanup();
    }
  });

  test('the budget stops the agent before the next request', async () => {
    // 10,000 input tokens of Sonnet 4.6 cost about $0.03, over a $0.02 budget.
    const world = await makeWorld(
      {
        turns: [
          {
            toolUses: [{ name: 'bash', input: { command: 'echo ran >> .orchestra/count' } }],
            usage: { input_tokens: 10_000, output_tokens: 10 },
          },
          { toolUses: [{ name: 'task_complete', input: { summary: 'never' } }] },
        ],
      },
      { profile: profile({ budgetUsd: 5 }), budgetUsd: 0.02, checks: [], taskId: 'task-01' },
    );
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 1);
      assert.equal(world.server.requests.length, 1);
      // The turn's tool call still ran: it was paid for.
      assert.equal(await readFile(join(world.repo, '.orchestra', 'count'), 'utf8'), 'ran\n');
      const spent = await priceByHand({ input: 10_000, output: 10, cacheWrite: 0, cacheRead: 0 });
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'error',
        summary: `budget of $0.02 reached ($${spent.toFixed(4)} spent)`,
      });
    } finally {
      await world.cleanup();
    }
  });

  test('maxTurns of a config profile stops the agent', async () => {
    const bash = { toolUses: [{ name: 'bash', input: { command: 'true' } }] };
    const world = await makeWorld({ turns: [bash, bash, bash] }, null);
    try {
      await import('node:fs/promises').then((fs) =>
        fs.writeFile(
          join(world.repo, '.orchestra', 'orchestra.json'),
          JSON.stringify({ profiles: { quick: { model: TEST_MODEL, maxTurns: 2 } }, check: ['true'] }),
        ),
      );
      const agent = await startAgent(world, { profile: 'quick' });
      assert.equal((await agent.exit).exitCode, 1);
      assert.equal(world.server.requests.length, 2);
      assert.match(agent.output(), /profile "quick"/);
      assert.deepEqual((await statuses(world.runDir)).at(-1), {
        state: 'error',
        summary: 'maxTurns 2 reached',
      });
    } finally {
      await world.cleanup();
    }
  });

  test('a bash command over ORCHESTRA_BASH_TIMEOUT_MS is killed and reported', async () => {
    const world = await makeWorld({
      turns: [
        { toolUses: [{ name: 'bash', input: { command: 'echo going; sleep 20' } }] },
        { toolUses: [{ name: 'task_complete', input: { summary: 'timed out' } }] },
      ],
    });
    try {
      const started = Date.now();
      const agent = await startAgent(world, { env: { ORCHESTRA_BASH_TIMEOUT_MS: '300' } });
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      assert.ok(Date.now() - started < 15_000);
      const result = userBlock(world.server, 1, 0);
      assert.equal(result.is_error, true);
      assert.match(result.content, /^going\n\n\[the command timed out after 300ms and was killed/);
      assert.match(agent.output(), /✗ timed out after 300ms/);
    } finally {
      await world.cleanup();
    }
  });

  test('a read-only profile views and reads but cannot write', async () => {
    const world = await makeWorld(
      {
        turns: [
          {
            toolUses: [
              { name: 'str_replace_based_edit_tool', input: { command: 'view', path: 'README.md' } },
              {
                name: 'str_replace_based_edit_tool',
                input: { command: 'create', path: 'PLAN.md', file_text: 'x' },
              },
              { name: 'bash', input: { command: 'git log --oneline | head -1 && cat README.md' } },
              { name: 'bash', input: { command: 'echo plan > PLAN.md' } },
              { name: 'bash', input: { command: 'rm README.md' } },
            ],
          },
          { toolUses: [{ name: 'task_complete', input: { summary: 'plan: nothing to do' } }] },
        ],
      },
      { profile: profile({ readOnly: true }), checks: [], taskId: 'task-01' },
    );
    try {
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      assert.match(agent.output(), /read-only/);
      const results = lastUserContent(world.server, 1);
      assert.deepEqual(
        results.map((r) => r.is_error === true),
        [false, true, false, true, true],
      );
      assert.match(results[2]?.content ?? '', /initial\nhello\nworld/);
      assert.match(results[4]?.content ?? '', /"rm" is not an allowed command/);
      assert.equal(await readFile(join(world.repo, 'README.md'), 'utf8'), 'hello\nworld\n');
      await assert.rejects(readFile(join(world.repo, 'PLAN.md')));
      const system = requestBody(world.server, 0)
        .system.map((b) => b.text)
        .join('\n');
      assert.match(system, /read-only task/);
    } finally {
      await world.cleanup();
    }
  });

  test('the API key is in no file and not in argv', async () => {
    const world = await makeWorld({
      turns: [
        {
          text: 'thinking',
          delayMs: 800,
          toolUses: [{ name: 'bash', input: { command: 'env | grep -c ANTHROPIC_API_KEY' } }],
        },
        { toolUses: [{ name: 'task_complete', input: { summary: 'no key here' } }] },
      ],
    });
    try {
      const agent = await startAgent(world);
      await agent.waitFor('orchestra agent');
      const cmdline = await readFile(`/proc/${agent.pid}/cmdline`, 'utf8');
      assert.match(cmdline, /agent-entry\.ts/);
      assert.ok(!cmdline.includes(SECRET_KEY));
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      // The request did carry it, so the test would see a leak.
      assert.ok(JSON.stringify(world.server.requests[0]!.headers).includes(SECRET_KEY));
      assert.equal(userBlock(world.server, 1, 0).content, '0\n\n[exit code 1]');
      for (const file of ['transcript.log', 'events.jsonl', 'conversation.json']) {
        const text = await readFile(join(world.runDir, file), 'utf8');
        assert.ok(text.length > 0, file);
        assert.ok(!text.includes(SECRET_KEY), `${file} holds the key`);
      }
      assert.ok(!agent.rawOutput().includes(SECRET_KEY));
    } finally {
      await world.cleanup();
    }
  });
});
