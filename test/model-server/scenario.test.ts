import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { buildMessage, buildStreamEvents, splitJson } from '../../src/model-server/message-events.js';
import { contentText, pickScenario, routingInput } from '../../src/model-server/routing.js';
import { loadScenarioFile, parseScenario, resolveScenarios } from '../../src/model-server/scenario.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isOrchestraError(error), `not an OrchestraError: ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    assert.ok(error.hint, 'an OrchestraError carries a hint');
    return true;
  });
}

describe('scenario files', () => {
  test('loads a single JSON scenario', async () => {
    const path = join(dir, 'one.json');
    await writeFile(
      path,
      JSON.stringify({
        turns: [{ text: ['a', 'b'] }, { toolUses: [{ name: 'bash', input: { command: 'ls' } }] }],
      }),
    );
    const scenario = await loadScenarioFile(path);
    assert.ok('turns' in scenario, 'a single scenario');
    assert.equal(scenario.turns.length, 2);
    assert.deepEqual(scenario.turns[1]?.toolUses?.[0]?.input, { command: 'ls' });
  });

  test('loads named scenarios from YAML, keeping their order', async () => {
    const path = join(dir, 'many.yml');
    await writeFile(
      path,
      [
        'scenarios:',
        '  judge:',
        '    match: { system: "judge" }',
        '    turns:',
        '      - text: "verdict"',
        '        usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 5 }',
        '  coder:',
        '    turns:',
        '      - error: { status: 529, type: overloaded_error, message: Overloaded }',
        '',
      ].join('\n'),
    );
    const file = await loadScenarioFile(path);
    const resolved = resolveScenarios(file);
    assert.deepEqual(
      resolved.map((s) => s.name),
      ['judge', 'coder'],
    );
    assert.equal(resolved[0]?.match.system?.source, 'judge');
    assert.equal(resolved[0]?.turns[0]?.usage?.cache_read_input_tokens, 5);
    assert.equal(resolved[1]?.turns[0]?.error?.status, 529);
  });

  test('rejects unknown fields and bad values, naming where', async () => {
    const path = join(dir, 'typo.json');
    await writeFile(path, JSON.stringify({ turns: [{ text: 'ok' }, { txt: 'typo' }] }));
    await rejectsWith(loadScenarioFile(path), 'CONFIG_INVALID', /turns\.1.*txt/);
    assert.throws(
      () => parseScenario({ turns: [{ error: { status: 200, type: 'x', message: 'y' } }] }),
      /turns\.0\.error\.status/,
    );
    assert.throws(() => parseScenario({ turns: [{ toolUses: [{ name: 'bash', input: 'ls' }] }] }), /input/);
    assert.throws(() => parseScenario({ turns: [{ stopReason: 'done' }] }), /stopReason/);
  });

  test('reports unreadable files, syntax errors and bad patterns', async () => {
    await rejectsWith(loadScenarioFile(join(dir, 'absent.json')), 'CONFIG_UNREADABLE', /cannot read/);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "turns": [ ');
    await rejectsWith(loadScenarioFile(broken), 'CONFIG_UNREADABLE', /not valid JSON/);
    assert.throws(
      () => resolveScenarios({ scenarios: { bad: { match: { system: '(' }, turns: [] } } }),
      /scenario "bad" has an invalid match.system pattern/,
    );
    assert.throws(() => resolveScenarios({ scenarios: {} }), /no scenarios/);
  });
});

describe('routing', () => {
  const scenarios = resolveScenarios({
    scenarios: {
      judge: { match: { header: { name: 'X-Orchestra-Role', value: 'judge' } }, turns: [] },
      fixer: { match: { system: 'coder', user: '^Fix ' }, turns: [] },
      coder: { match: { system: 'coder' }, turns: [] },
      rest: { turns: [] },
    },
  });
  const route = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    pickScenario(scenarios, routingInput(body, headers))?.name;

  test('takes the first scenario whose match fits', () => {
    const coderSystem = [{ type: 'text', text: 'You are a coder', cache_control: { type: 'ephemeral' } }];
    assert.equal(
      route({ system: coderSystem, messages: [{ role: 'user', content: 'Fix the bug' }] }),
      'fixer',
    );
    assert.equal(
      route({ system: coderSystem, messages: [{ role: 'user', content: 'Add a feature' }] }),
      'coder',
    );
    assert.equal(route({ system: 'You are a coder' }, { 'x-orchestra-role': 'judge' }), 'judge');
    assert.equal(route({ system: 'poet', messages: [] }), 'rest');
  });

  test('reads the first user message, not later ones', () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'Add tests' }] },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'Fix it' },
    ];
    assert.equal(route({ system: 'coder', messages }), 'coder');
    assert.equal(
      contentText([
        { type: 'text', text: 'a' },
        { type: 'tool_result', content: 'x' },
        { type: 'text', text: 'b' },
      ]),
      'a\nb',
    );
  });
});

describe('message events', () => {
  const ctx = {
    messageId: 'msg_1',
    requestModel: 'm',
    toolIdPrefix: 'toolu_t',
    estimatedInputTokens: 42,
    stopSequence: null,
  };

  test('splits tool input JSON into pieces that rejoin, never cutting a surrogate pair', () => {
    const json = JSON.stringify({ a: '🎵🎵🎵🎵🎵🎵🎵', b: 'x' });
    for (const text of [json, '{}', '🎵🎵']) {
      const pieces = splitJson(text);
      assert.equal(pieces.join(''), text);
      for (const piece of pieces) assert.equal(piece, Buffer.from(piece, 'utf8').toString('utf8'));
    }
    assert.ok(splitJson(json).length > 1, 'several pieces');
  });

  test('a turn without content still streams a well-formed message', () => {
    const names = buildStreamEvents({}, ctx).map((e) => e.event);
    assert.deepEqual(names, ['message_start', 'ping', 'message_delta', 'message_stop']);
    const message = buildMessage(
      {
        toolUses: [
          { name: 'a', input: {} },
          { name: 'b', input: {} },
        ],
      },
      ctx,
    );
    assert.deepEqual(
      message.content.map((b) => (b.type === 'tool_use' ? b.id : '')),
      ['toolu_t_0', 'toolu_t_1'],
    );
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.usage.input_tokens, 42);
  });
});
