import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import Anthropic, { APIUserAbortError } from '@anthropic-ai/sdk';
import {
  ModelDeadlineError,
  ModelStallError,
  requestMessage,
  streamMessage,
} from '../../src/agents/stall-guard.js';
import {
  type Scenario,
  type ScriptedModelServer,
  startScriptedModelServer,
  TEST_API_KEY,
  turn,
} from '../support/scripted-model.js';

const params = {
  model: 'claude-test-model',
  max_tokens: 10,
  messages: [{ role: 'user' as const, content: 'hi' }],
};

async function serve(scenario: Scenario): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer({ scenario });
  after(() => server.close());
  return server;
}

function client(server: ScriptedModelServer): Anthropic {
  return new Anthropic({ baseURL: server.url, apiKey: TEST_API_KEY, maxRetries: 0 });
}

async function thrown(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

describe('stall guard against the scripted server', () => {
  test('a stream silent after message_start is aborted after stallMs', async () => {
    const server = await serve({ turns: [{ text: 'x', stallAfterEvents: { afterEvents: 1, ms: 10_000 } }] });
    const started = Date.now();
    const error = await thrown(streamMessage(client(server), params, { stallMs: 300 }));
    const elapsed = Date.now() - started;
    assert.ok(error instanceof ModelStallError, `got ${String(error)}`);
    assert.equal(error.message, 'no event for 0.3 s');
    assert.ok(elapsed >= 280 && elapsed < 2000, `aborted after ${elapsed} ms`);
    assert.equal(server.requests[0]?.eventsSent, 1);
  });

  test('a response with headers but no event at all is a stall too', async () => {
    const server = await serve({ turns: [{ text: 'x', stallAfterEvents: { afterEvents: 0, ms: 10_000 } }] });
    const error = await thrown(streamMessage(client(server), params, { stallMs: 300 }));
    assert.ok(error instanceof ModelStallError, `got ${String(error)}`);
  });

  test('a slow but steady stream is no stall: every chunk restarts the clock', async () => {
    // Eight events 200 ms apart: 1.4 s in all, never 500 ms without one.
    const server = await serve({ turns: [turn.text(['slow', ' but steady'], { chunkDelayMs: 200 })] });
    const deltas: string[] = [];
    const message = await streamMessage(client(server), params, {
      stallMs: 500,
      onText: (delta) => deltas.push(delta),
    });
    assert.deepEqual(message.content, [{ type: 'text', text: 'slow but steady' }]);
    assert.deepEqual(deltas, ['slow', ' but steady']);
  });

  test('the deadline ends a stream that never stalls but never finishes', async () => {
    const server = await serve({ turns: [turn.text(['a', 'b', 'c', 'd', 'e'], { chunkDelayMs: 200 })] });
    const started = Date.now();
    const error = await thrown(
      streamMessage(client(server), params, {
        stallMs: 500,
        deadline: { at: Date.now() + 600, boundMs: 600 },
      }),
    );
    const elapsed = Date.now() - started;
    assert.ok(error instanceof ModelDeadlineError, `got ${String(error)}`);
    assert.equal(error.message, 'no complete answer within 0.6 s');
    assert.ok(elapsed >= 580 && elapsed < 2000, `ended after ${elapsed} ms`);
  });

  test("the caller's abort stays an abort, not a stall", async () => {
    const server = await serve({ turns: [{ text: 'x', stallAfterEvents: { afterEvents: 1, ms: 10_000 } }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await thrown(
      streamMessage(client(server), params, { stallMs: 2000, signal: controller.signal }),
    );
    assert.ok(error instanceof APIUserAbortError, `got ${String(error)}`);
  });

  test('requestMessage sends a stalled request again and returns the next answer', async () => {
    const server = await serve({
      turns: [{ text: 'x', stallAfterEvents: { afterEvents: 1, ms: 10_000 } }, turn.text('second try')],
    });
    const message = await requestMessage(client(server), params, { stallSeconds: 1 });
    assert.deepEqual(message.content, [{ type: 'text', text: 'second try' }]);
    assert.equal(server.requests.length, 2);
  });
});
