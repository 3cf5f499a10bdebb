import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Anthropic, { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { resolveAgentSetup } from '../../../src/agents/builtin/agent-setup.js';
import { describeApiFailure, retryAfterMs, retryDelayMs } from '../../../src/agents/builtin/api-retry.js';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../../src/agents/builtin/checkpoint.js';
import { withCacheBreakpoints } from '../../../src/agents/builtin/prompt-cache.js';
import { buildSystemPrompt, renderFileTree } from '../../../src/agents/builtin/system-prompt.js';
import { toolDefinitions } from '../../../src/agents/builtin/tool-definitions.js';
import { isOrchestraError } from '../../../src/common/errors.js';
import { startScriptedModelServer } from '../../../src/model-server/scripted-server.js';
import { makeRepo, removeDir, tempDir } from '../../git/fixtures.js';

const EPHEMERAL = { type: 'ephemeral' };

describe('prompt cache breakpoints', () => {
  test('on the last system block, the last tool and the newest user message only', () => {
    const messages: MessageParam[] = [
      { role: 'user', content: 'start' },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 't1', name: 'bash', input: { command: 'ls' } }],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'a' },
          { type: 'text', text: '[human operator] hi' },
        ],
      },
    ];
    const before = JSON.stringify(messages);
    const out = withCacheBreakpoints({
      system: [{ type: 'text', text: 'sys' }],
      tools: toolDefinitions(['bash', 'editor', 'task_complete']),
      messages,
    });
    assert.deepEqual(out.system[0]!.cache_control, EPHEMERAL);
    assert.deepEqual(
      out.tools.map((t) => ('cache_control' in t ? t.cache_control : undefined)),
      [undefined, undefined, EPHEMERAL],
    );
    const last = out.messages[2]!.content as { cache_control?: unknown }[];
    assert.equal(last[0]!.cache_control, undefined);
    assert.deepEqual(last[1]!.cache_control, EPHEMERAL);
    assert.equal(out.messages[0], messages[0]);
    assert.equal(JSON.stringify(messages), before, 'the stored conversation is not changed');
  });
});

describe('system prompt', () => {
  test('renders git ls-files as a tree, capped', () => {
    const files = ['src/b/y.ts', 'README.md', 'src/a.ts', 'src/b/x.ts', 'test/a.test.ts'];
    assert.equal(
      renderFileTree(files),
      ['README.md', 'src/', '  a.ts', '  b/', '    x.ts', '    y.ts', 'test/', '  a.test.ts'].join('\n'),
    );
    assert.match(renderFileTree(files, 2), /^README\.md\nsrc\/\n {2}a\.ts\n\.\.\. and 3 more files/);
  });

  test('holds the role, the task, the layout and the checks', () => {
    const prompt = buildSystemPrompt({
      role: 'You are the reviewer.',
      worktree: '/w',
      taskId: 'task-07',
      taskText: '# task-07: X\n\n## Goal\nDo the thing.\n',
      files: ['a.ts'],
      checks: ['npm test'],
      readOnly: true,
      tools: { bash: true, editor: true, taskComplete: true },
    });
    assert.match(prompt, /^You are the reviewer\./);
    assert.match(prompt, /# The task \(task-07\)\n\n# task-07: X\n\n## Goal\nDo the thing\./);
    assert.match(prompt, /# Repository layout \(git ls-files\)\n\na\.ts/);
    assert.match(prompt, /- `npm test`/);
    assert.match(prompt, /read-only task/);
    const coder = buildSystemPrompt({
      worktree: '/w',
      taskText: 'x',
      checks: [],
      readOnly: false,
      tools: { bash: true, editor: true, taskComplete: true },
    });
    assert.match(coder, /call task_complete/);
  });
});

describe('API failures', () => {
  const headers = (h: Record<string, string> = {}) => new Headers(h);
  test('429, 529, 5xx and network errors are transient; other 4xx are not', () => {
    const overloaded = APIError.generate(
      529,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      undefined,
      headers(),
    );
    assert.deepEqual(describeApiFailure(overloaded), {
      transient: true,
      label: '529 overloaded',
      detail: '529 overloaded: Overloaded',
      retryAfterMs: undefined,
    });
    const limited = APIError.generate(
      429,
      { type: 'error', error: { type: 'rate_limit_error', message: 'x' } },
      undefined,
      headers({ 'retry-after': '1.5' }),
    );
    assert.equal(describeApiFailure(limited).retryAfterMs, 1500);
    assert.equal(describeApiFailure(APIError.generate(500, undefined, 'boom', headers())).transient, true);
    assert.equal(describeApiFailure(APIError.generate(400, undefined, 'bad', headers())).transient, false);
    assert.equal(describeApiFailure(APIError.generate(401, undefined, 'no', headers())).transient, false);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const network = describeApiFailure(
      new APIConnectionError({
        message: 'Connection error.',
        cause: new TypeError('fetch failed', { cause: refused }),
      }),
    );
    assert.equal(network.transient, true);
    assert.equal(network.label, 'network error (ECONNREFUSED)');
    assert.equal(
      network.detail,
      'network error (ECONNREFUSED): Connection error: fetch failed: connect ECONNREFUSED 127.0.0.1:1',
    );
    // An SSE error event has no status: its type decides.
    const streamed = APIError.generate(
      undefined,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      undefined,
      undefined,
    );
    assert.equal(describeApiFailure(streamed).transient, true);
  });

  test('backoff doubles from the base and honours a longer retry-after', () => {
    assert.deepEqual(
      [2, 3, 4, 5].map((a) => retryDelayMs(a, 1000, undefined)),
      [2000, 4000, 8000, 16000],
    );
    assert.equal(retryDelayMs(2, 1000, 30_000), 30_000);
    assert.equal(retryDelayMs(2, 1000, 10), 2000);
    assert.equal(retryAfterMs(headers({ 'retry-after': 'soon' })), undefined);
  });
});

describe('profile resolution', () => {
  test('agent.json wins; its budget overrides the profile; defaults are filled in', async () => {
    const runDir = await tempDir();
    try {
      await writeFile(
        join(runDir, 'agent.json'),
        JSON.stringify({
          profile: { model: 'claude-haiku-4-5', readOnly: true },
          checks: ['make test'],
          taskId: 'task-09',
          budgetUsd: 0.5,
        }),
      );
      const setup = await resolveAgentSetup({ runDir, cwd: runDir, env: process.env });
      assert.equal(setup.profile.model, 'claude-haiku-4-5');
      assert.equal(setup.profile.readOnly, true);
      assert.deepEqual(setup.profile.tools, ['bash', 'editor', 'task_complete']);
      assert.equal(setup.budgetUsd, 0.5);
      assert.deepEqual(setup.checks, ['make test']);
      assert.equal(setup.taskId, 'task-09');
      await writeFile(join(runDir, 'agent.json'), JSON.stringify({ profile: { maxTurns: 0 } }));
      await assert.rejects(resolveAgentSetup({ runDir, cwd: runDir, env: process.env }), (error: unknown) => {
        assert.ok(isOrchestraError(error, 'CONFIG_INVALID'));
        assert.match(error.message, /agent\.json: profile\.maxTurns/);
        return true;
      });
    } finally {
      await removeDir(runDir);
    }
  });

  test('without agent.json: the repository config, --profile, else the built-ins', async () => {
    const repo = await makeRepo();
    const runDir = join(repo, '.orchestra', 'runs', 'x');
    const env = { ...process.env, XDG_CONFIG_HOME: join(repo, 'no-config') };
    try {
      await mkdir(runDir, { recursive: true });
      const builtin = await resolveAgentSetup({ runDir, cwd: repo, env, profileName: 'reviewer' });
      assert.equal(builtin.profile.readOnly, true);
      assert.equal(builtin.budgetUsd, 2);
      await writeFile(
        join(repo, '.orchestra', 'orchestra.json'),
        JSON.stringify({ check: ['npm test'], profiles: { coder: { maxTurns: 7 } } }),
      );
      const coder = await resolveAgentSetup({ runDir, cwd: repo, env });
      assert.equal(coder.profile.maxTurns, 7);
      assert.deepEqual(coder.checks, ['npm test']);
      await assert.rejects(
        resolveAgentSetup({ runDir, cwd: repo, env, profileName: 'nope' }),
        /no profile named "nope"/,
      );
    } finally {
      await removeDir(repo);
    }
  });
});

describe('checkpoint', () => {
  test('a damaged checkpoint is reported, not replaced', async () => {
    const runDir = await tempDir();
    try {
      assert.equal(await loadCheckpoint(runDir), undefined);
      await writeFile(join(runDir, CHECKPOINT_FILE), '{"version":1,"messages":');
      await assert.rejects(loadCheckpoint(runDir), (error: unknown) =>
        isOrchestraError(error, 'STATE_CORRUPT'),
      );
      await writeFile(join(runDir, CHECKPOINT_FILE), '{"version":99,"messages":[],"turns":0,"model":"m"}');
      await assert.rejects(loadCheckpoint(runDir), (error: unknown) =>
        isOrchestraError(error, 'STATE_TOO_NEW'),
      );
    } finally {
      await removeDir(runDir);
    }
  });
});

describe('scripted server, JSON mode', () => {
  // The agent always streams; this checks the non-streaming answer the same SDK would parse.
  test('a non-streaming request gets a complete message with its tool call', async () => {
    const server = await startScriptedModelServer({
      scenario: {
        turns: [
          {
            text: 'hi',
            toolUses: [{ name: 'bash', input: { command: 'ls' } }],
            usage: { input_tokens: 5, output_tokens: 7 },
          },
        ],
      },
    });
    try {
      const client = new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
      const message = await client.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 100,
        tools: toolDefinitions(['bash']),
        messages: [{ role: 'user', content: 'go' }],
      });
      assert.equal(message.stop_reason, 'tool_use');
      assert.deepEqual(
        message.content.map((b) => (b.type === 'tool_use' ? [b.type, b.name, b.input] : [b.type])),
        [['text'], ['tool_use', 'bash', { command: 'ls' }]],
      );
      assert.equal(message.usage.output_tokens, 7);
      assert.notEqual((server.requests[0]!.body as { stream?: boolean }).stream, true);
    } finally {
      await server.close();
    }
  });
});
