import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic, {
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  BadRequestError,
  InternalServerError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import {
  type Scenario,
  type ScenarioFile,
  type ScriptedModelServer,
  startScriptedModelServer,
  TEST_API_KEY,
  turn,
} from '../support/scripted-model.js';

const MODEL = 'claude-test-model';
const hello = [{ role: 'user' as const, content: 'hello' }];

/** Starts a server for one test and closes it after. */
async function serve(scenario: Scenario | ScenarioFile): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer({ scenario });
  after(() => server.close());
  return server;
}

function client(
  server: ScriptedModelServer,
  options: { maxRetries?: number; timeout?: number } = {},
): Anthropic {
  return new Anthropic({ baseURL: server.url, apiKey: TEST_API_KEY, maxRetries: 0, ...options });
}

/** Runs `fn`, which must throw, and returns what it threw. */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

describe('scripted Messages API server with the real SDK', () => {
  test('streams text chunks as separate events and reports usage with cache fields', async () => {
    const server = await serve({
      turns: [
        turn.text(['Hel', 'lo, ', 'world'], {
          usage: {
            input_tokens: 120,
            output_tokens: 7,
            cache_creation_input_tokens: 50,
            cache_read_input_tokens: 900,
          },
        }),
      ],
    });
    const stream = client(server).messages.stream({ model: MODEL, max_tokens: 100, messages: hello });
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    assert.deepEqual(deltas, ['Hel', 'lo, ', 'world']);
    assert.equal(message.content.length, 1);
    assert.deepEqual(message.content[0], { type: 'text', text: 'Hello, world' });
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, MODEL);
    assert.match(message.id, /^msg_/);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.stop_sequence, null);
    assert.equal(message.usage.input_tokens, 120);
    assert.equal(message.usage.output_tokens, 7);
    assert.equal(message.usage.cache_creation_input_tokens, 50);
    assert.equal(message.usage.cache_read_input_tokens, 900);
    assert.equal(server.requests[0]?.body && (server.requests[0].body as { stream?: boolean }).stream, true);
  });

  test('streams tool_use blocks whose input is reassembled from several input_json_delta pieces', async () => {
    const input = {
      command: 'npm test -- --grep "scripted server"',
      timeout: 120,
      env: { CI: '1' },
      note: 'é🎵',
    };
    const server = await serve({
      turns: [
        {
          text: 'Running the tests.',
          toolUses: [
            { name: 'bash', input },
            { id: 'toolu_fixed', name: 'task_complete', input: {} },
          ],
        },
      ],
    });
    const stream = client(server).messages.stream({ model: MODEL, max_tokens: 100, messages: hello });
    const jsonPieces: string[] = [];
    stream.on('streamEvent', (event) => {
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') {
        if (event.index === 1) jsonPieces.push(event.delta.partial_json);
      }
    });
    const message = await stream.finalMessage();
    assert.ok(jsonPieces.length > 1, `expected several pieces, got ${jsonPieces.length}`);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.content.length, 3);
    const [text, bash, done] = message.content;
    assert.deepEqual(text, { type: 'text', text: 'Running the tests.' });
    assert.equal(bash?.type, 'tool_use');
    assert.ok(bash?.type === 'tool_use', 'second block is tool_use');
    assert.equal(bash.name, 'bash');
    assert.match(bash.id, /^toolu_[A-Za-z0-9_-]+$/);
    assert.deepEqual(bash.input, input);
    assert.ok(done?.type === 'tool_use', 'third block is tool_use');
    assert.equal(done.id, 'toolu_fixed');
    assert.deepEqual(done.input, {});
  });

  test('answers a non-streaming create with a JSON message, after delayMs', async () => {
    const server = await serve({
      turns: [{ text: ['a', 'b'], model: 'claude-scripted', stopReason: 'stop_sequence', delayMs: 150 }],
    });
    const started = Date.now();
    const message = await client(server).messages.create({
      model: MODEL,
      max_tokens: 50,
      stop_sequences: ['STOP'],
      messages: hello,
    });
    assert.ok(Date.now() - started >= 140, 'delayMs was not honoured');
    assert.deepEqual(message.content, [{ type: 'text', text: 'ab' }]);
    assert.equal(message.model, 'claude-scripted');
    assert.equal(message.stop_reason, 'stop_sequence');
    assert.equal(message.stop_sequence, 'STOP');
    assert.ok(message.usage.input_tokens > 0, 'estimated input tokens');
    assert.ok(message.usage.output_tokens > 0, 'estimated output tokens');
    assert.equal(message.usage.cache_read_input_tokens, 0);
    assert.match(message._request_id ?? '', /^req_/);
  });

  test('529 overloaded is an APIError with status 529; with retries the SDK gets the next turn', async () => {
    const server = await serve({
      turns: [
        turn.overloaded(),
        // retry-after keeps the SDK's backoff short; each error still consumes a turn.
        { error: { status: 529, type: 'overloaded_error', message: 'Overloaded', retryAfterSeconds: 0.05 } },
        { error: { status: 529, type: 'overloaded_error', message: 'Overloaded', retryAfterSeconds: 0.05 } },
        turn.text('finally'),
      ],
    });
    const error = await thrown(() =>
      client(server).messages.create({ model: MODEL, max_tokens: 10, messages: hello }),
    );
    assert.ok(error instanceof OverloadedError, `got ${String(error)}`);
    assert.ok(error instanceof APIError, 'OverloadedError is an APIError');
    assert.equal(error.status, 529);
    assert.equal(error.type, 'overloaded_error');
    assert.match(error.requestID ?? '', /^req_/);

    const message = await client(server, { maxRetries: 2 }).messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: hello,
    });
    assert.deepEqual(message.content, [{ type: 'text', text: 'finally' }]);
    assert.deepEqual(
      server.requests.map((r) => r.turnIndex),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      server.requests.map((r) => r.status),
      [529, 529, 529, 200],
    );
    assert.deepEqual(server.turnsLeft(), { default: 0 });
  });

  test('429 carries retry-after, and the SDK waits that long before retrying', async () => {
    const server = await serve({
      turns: [
        turn.error(429, 'rate_limit_error', 'Number of requests has exceeded your rate limit', {
          retryAfterSeconds: 7,
        }),
        turn.error(429, 'rate_limit_error', 'slow down', { retryAfterSeconds: 0.3 }),
        turn.text('ok'),
      ],
    });
    const error = await thrown(() =>
      client(server).messages.create({ model: MODEL, max_tokens: 10, messages: hello }),
    );
    assert.ok(error instanceof RateLimitError, `got ${String(error)}`);
    assert.equal(error.status, 429);
    assert.equal(error.headers?.get('retry-after'), '7');
    assert.equal(error.apiMessage, 'Number of requests has exceeded your rate limit');

    const stream = client(server, { maxRetries: 1 }).messages.stream({
      model: MODEL,
      max_tokens: 10,
      messages: hello,
    });
    assert.equal(await stream.finalText(), 'ok');
    const [, second, third] = server.requests;
    assert.ok(second && third, 'three requests recorded');
    assert.ok(third.at - second.at >= 290, `retried after ${third.at - second.at} ms, not after retry-after`);
  });

  test('an error event mid-stream surfaces as an SDK error', async () => {
    const server = await serve({
      turns: [
        {
          text: ['one', 'two', 'three'],
          streamError: { afterEvents: 4, type: 'overloaded_error', message: 'Overloaded' },
        },
      ],
    });
    const stream = client(server).messages.stream({ model: MODEL, max_tokens: 10, messages: hello });
    const deltas: string[] = [];
    stream.on('text', (d) => deltas.push(d));
    const error = await thrown(() => stream.finalMessage());
    assert.ok(error instanceof APIError, `got ${String(error)}`);
    assert.equal(error.type, 'overloaded_error');
    assert.equal(error.apiMessage, 'Overloaded');
    // message_start, content_block_start, ping, then one delta went out before the error.
    assert.deepEqual(deltas, ['one']);
  });

  test('aborting a slow stream leaves the server healthy for the next request', async () => {
    const server = await serve({
      turns: [
        turn.text(['first', ' second', ' third', ' fourth', ' fifth', ' sixth'], { chunkDelayMs: 200 }),
        turn.text('next'),
      ],
    });
    const controller = new AbortController();
    const stream = client(server).messages.stream(
      { model: MODEL, max_tokens: 10, messages: hello },
      { signal: controller.signal },
    );
    const deltas: string[] = [];
    stream.on('text', (d) => {
      deltas.push(d);
      controller.abort();
    });
    const error = await thrown(() => stream.finalMessage());
    assert.ok(error instanceof APIUserAbortError, `got ${String(error)}`);
    assert.deepEqual(deltas, ['first']);
    // Two more chunk intervals: a server that ignored the disconnect would have written on.
    await new Promise((resolve) => setTimeout(resolve, 450));
    const aborted = server.requests[0];
    assert.equal(aborted?.complete, false);
    assert.equal(aborted?.status, 200);
    assert.equal(aborted?.eventsSent, 4, 'message_start, content_block_start, ping, first delta');

    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', turnsLeft: { default: 1 } });
    const started = Date.now();
    const next = await client(server)
      .messages.stream({ model: MODEL, max_tokens: 10, messages: hello })
      .finalText();
    assert.equal(next, 'next');
    assert.ok(Date.now() - started < 1000, 'the next answer waited behind the aborted stream');
  });

  test('a hung request times out in the SDK and the server stays up', async () => {
    const server = await serve({ turns: [{ hangMs: 2000 }, turn.text('after the hang')] });
    const error = await thrown(() =>
      client(server, { timeout: 200 }).messages.create({ model: MODEL, max_tokens: 10, messages: hello }),
    );
    assert.ok(error instanceof APIConnectionTimeoutError, `got ${String(error)}`);
    const message = await client(server).messages.create({ model: MODEL, max_tokens: 10, messages: hello });
    assert.deepEqual(message.content, [{ type: 'text', text: 'after the hang' }]);
  });

  test('stallAfterEvents sends that many events, then nothing for ms, then drops the connection', async () => {
    const server = await serve({
      turns: [
        turn.text(['never', ' sent'], { stallAfterEvents: { afterEvents: 2, ms: 300 } }),
        turn.text('x', { stallAfterEvents: { afterEvents: 0, ms: 200 } }),
        turn.text('after the stalls'),
      ],
    });
    const started = Date.now();
    const response = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, stream: true, messages: hello }),
    });
    assert.equal(response.status, 200);
    let text = '';
    let lastChunkAt = 0;
    let dropped = false;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        lastChunkAt = Date.now();
      }
    } catch {
      dropped = true;
    }
    const ended = Date.now();
    assert.ok(dropped, 'the connection is dropped, not ended cleanly');
    const names = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(names, ['message_start', 'content_block_start']);
    assert.ok(ended - lastChunkAt >= 280, `silent for ${ended - lastChunkAt} ms`);
    assert.ok(ended - started < 2000);
    assert.equal(server.requests[0]?.eventsSent, 2);
    assert.equal(server.requests[0]?.complete, false);

    // A non-streaming request has no events: it waits ms, then drops.
    const error = await thrown(() =>
      client(server).messages.create({ model: MODEL, max_tokens: 10, messages: hello }),
    );
    assert.ok(error instanceof APIError, `got ${String(error)}`);
    const message = await client(server).messages.create({ model: MODEL, max_tokens: 10, messages: hello });
    assert.deepEqual(message.content, [{ type: 'text', text: 'after the stalls' }]);
  });

  test('routes named scenarios by system prompt, each with its own cursor', async () => {
    const server = await serve({
      scenarios: {
        judge: {
          match: { system: 'You are the judge' },
          turns: [turn.text('verdict 1'), turn.text('verdict 2')],
        },
        coder: { match: { system: '^You are a coder' }, turns: [turn.text('code 1'), turn.text('code 2')] },
      },
    });
    const sdk = client(server);
    const ask = (system: Anthropic.MessageCreateParams['system']) =>
      sdk.messages.stream({ model: MODEL, max_tokens: 10, system, messages: hello }).finalText();
    assert.equal(await ask('You are a coder. Write code.'), 'code 1');
    assert.equal(await ask([{ type: 'text', text: 'Be fair. You are the judge.' }]), 'verdict 1');
    assert.equal(await ask('You are a coder. Again.'), 'code 2');
    assert.equal(await ask('You are the judge'), 'verdict 2');
    assert.deepEqual(
      server.requests.map((r) => `${r.scenario}#${r.turnIndex}`),
      ['coder#0', 'judge#0', 'coder#1', 'judge#1'],
    );

    const unmatched = await thrown(() => ask('You are a poet'));
    assert.ok(unmatched instanceof InternalServerError, `got ${String(unmatched)}`);
    assert.match(unmatched.apiMessage ?? '', /no scenario matches/);
  });

  test('an exhausted scenario answers 500 naming it, without SDK retries', async () => {
    const server = await serve({ scenarios: { solo: { turns: [turn.text('only one')] } } });
    const sdk = client(server, { maxRetries: 2 });
    await sdk.messages.create({ model: MODEL, max_tokens: 10, messages: hello });
    const error = await thrown(() => sdk.messages.create({ model: MODEL, max_tokens: 10, messages: hello }));
    assert.ok(error instanceof InternalServerError, `got ${String(error)}`);
    assert.equal(error.status, 500);
    assert.equal(error.type, 'api_error');
    assert.match(error.apiMessage ?? '', /scenario "solo" has no turns left/);
    assert.equal(server.requests.length, 2, 'x-should-retry: false should stop the SDK retrying');
  });

  test('records every request with its body: tools, cached system blocks and messages', async () => {
    const server = await serve({ turns: [turn.tool('bash', { command: 'ls' }), turn.text('done')] });
    const tools: Anthropic.Tool[] = [
      {
        name: 'bash',
        description: 'Run a shell command',
        input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
        cache_control: { type: 'ephemeral' },
      },
    ];
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'You are a coder.' },
      { type: 'text', text: 'Repository notes.', cache_control: { type: 'ephemeral' } },
    ];
    const sdk = client(server);
    const first = await sdk.messages
      .stream({ model: MODEL, max_tokens: 1000, system, tools, messages: hello })
      .finalMessage();
    const toolUse = first.content.find((b) => b.type === 'tool_use');
    assert.ok(toolUse?.type === 'tool_use', 'the first answer has a tool_use block');
    const messages: Anthropic.MessageParam[] = [
      ...hello,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'README.md' }] },
    ];
    await sdk.messages.create({ model: MODEL, max_tokens: 1000, system, tools, messages });

    assert.equal(server.requests.length, 2);
    const [one, two] = server.requests;
    assert.ok(one && two, 'two requests recorded');
    assert.equal(one.method, 'POST');
    assert.equal(one.path, '/v1/messages');
    assert.equal(one.status, 200);
    assert.equal(one.complete, true);
    assert.ok(one.eventsSent > 6, `streamed ${one.eventsSent} events`);
    assert.equal(two.eventsSent, 0, 'the second request was not streamed');
    // SDK 1.x sends the key as a bearer token; older ones as x-api-key.
    assert.match(String(one.headers['x-api-key'] ?? one.headers.authorization), new RegExp(TEST_API_KEY));
    assert.ok(one.headers['anthropic-version'], 'the SDK sends anthropic-version');
    assert.ok(one.at <= two.at, 'recorded in arrival order');
    const body = two.body as Record<string, unknown>;
    assert.deepEqual(body.tools, tools);
    assert.deepEqual(body.system, system);
    assert.deepEqual(body.messages, JSON.parse(JSON.stringify(messages)));
    assert.equal(body.max_tokens, 1000);
    assert.equal(two.turnIndex, 1);
  });

  test('count_tokens gives a rough count that grows with the input', async () => {
    const server = await serve({ turns: [] });
    const sdk = client(server);
    const small = await sdk.messages.countTokens({ model: MODEL, messages: hello });
    const large = await sdk.messages.countTokens({
      model: MODEL,
      messages: [{ role: 'user', content: 'word '.repeat(400) }],
    });
    assert.ok(small.input_tokens > 0, 'a positive count');
    assert.ok(
      large.input_tokens > small.input_tokens + 300,
      `${large.input_tokens} vs ${small.input_tokens}`,
    );
    assert.deepEqual(server.turnsLeft(), { default: 0 });
  });
});

describe('scripted server wire format', () => {
  let server: ScriptedModelServer;
  before(async () => {
    server = await startScriptedModelServer({
      scenario: { turns: [turn.tool('bash', { command: 'ls -la' }), turn.text('x')] },
    });
  });
  after(() => server.close());

  test('sends the API event sequence with a request-id header', async () => {
    const response = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, stream: true, messages: hello }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(response.headers.get('request-id') ?? '', /^req_/);
    const text = await response.text();
    const events = text
      .trim()
      .split('\n\n')
      .map((chunk) => {
        const [eventLine, dataLine] = chunk.split('\n');
        const data = JSON.parse(dataLine?.replace(/^data: /, '') ?? '') as { type: string };
        assert.equal(eventLine, `event: ${data.type}`);
        return data;
      });
    const names = events.map((e) => e.type);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.ok(names.filter((n) => n === 'content_block_delta').length > 1, 'several deltas');
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    const start = events[0] as unknown as { message: Record<string, unknown> };
    assert.equal(start.message.stop_reason, null);
    assert.deepEqual(start.message.content, []);
    assert.equal((start.message.usage as { output_tokens: number }).output_tokens, 1);
  });

  test('rejects a request without max_tokens like the API, without consuming a turn', async () => {
    const before = server.turnsLeft().default;
    const error = await thrown(() =>
      new Anthropic({ baseURL: server.url, apiKey: TEST_API_KEY, maxRetries: 0 }).messages.create({
        model: MODEL,
        messages: hello,
      } as unknown as Anthropic.MessageCreateParamsNonStreaming),
    );
    assert.ok(error instanceof BadRequestError, `got ${String(error)}`);
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.apiMessage, 'max_tokens: Field required');
    assert.equal(server.turnsLeft().default, before);

    const bad = await fetch(`${server.url}/v1/messages`, { method: 'POST', body: '{not json' });
    assert.equal(bad.status, 400);
    assert.match(bad.headers.get('request-id') ?? '', /^req_/);
    assert.deepEqual(await bad.json(), {
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'There was an error parsing the body of your request.',
      },
    });
    const missing = await fetch(`${server.url}/v1/complete`, { method: 'POST', body: '{}' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { type: string } }).error.type, 'not_found_error');
  });
});
