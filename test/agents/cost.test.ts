import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { attemptCost, readUsageEvents } from '../../src/agents/attempt-cost.js';
import {
  type CostSummary,
  combineCosts,
  costOfUsage,
  formatCost,
  formatUsd,
  PRICING_SOURCE,
  priceFor,
  summarizeCost,
  type UsageEvent,
} from '../../src/agents/cost.js';
import pricing from '../../src/agents/pricing.json' with { type: 'json' };

const EPSILON = 1e-9;

function usage(model: string, input: number, output: number, cacheWrite = 0, cacheRead = 0): UsageEvent {
  return {
    ts: '2026-11-21T10:00:00Z',
    type: 'usage',
    model,
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

function close(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined, 'expected a known cost');
  assert.ok(Math.abs(actual - expected) < EPSILON, `${actual} is not ${expected}`);
}

describe('pricing table', () => {
  test('names its source and date', () => {
    assert.match(PRICING_SOURCE.source, /^https:\/\/(platform|docs)\.(claude|anthropic)\.com\/.*pricing/);
    assert.match(PRICING_SOURCE.date, /^\d{4}-\d{2}-\d{2}$/);
  });

  test('every model follows the cache multipliers of the pricing page (5m write 1.25x, read 0.1x)', () => {
    // Claude Haiku 3 predates the multipliers: $0.30 write and $0.03 read on a $0.25 input.
    const legacy = new Set(['claude-3-haiku']);
    for (const [id, price] of Object.entries(pricing.models)) {
      assert.ok(price.input > 0 && price.output > price.input, id);
      if (legacy.has(id)) continue;
      assert.ok(Math.abs(price.cacheWrite - price.input * 1.25) < EPSILON, `${id} cache write`);
      assert.ok(Math.abs(price.cacheRead - price.input * 0.1) < EPSILON, `${id} cache read`);
    }
  });

  test('covers the models orchestra and the brief name', () => {
    for (const id of [
      'claude-sonnet-4-5',
      'claude-opus-4-5',
      'claude-opus-4-1',
      'claude-haiku-4-5',
      'claude-3-5-haiku-20241022',
      'claude-3-7-sonnet-20250219',
    ]) {
      assert.ok(priceFor(id), id);
    }
  });
});

describe('costOfUsage', () => {
  test('prices every token kind of a known model', () => {
    // Sonnet 4.5: $3 input, $15 output, $3.75 5m cache write, $0.30 cache read per MTok.
    const cost = costOfUsage('claude-sonnet-4-5', {
      input_tokens: 1234,
      output_tokens: 567,
      cache_creation_input_tokens: 2000,
      cache_read_input_tokens: 10_000,
    });
    close(cost, (1234 * 3 + 567 * 15 + 2000 * 3.75 + 10_000 * 0.3) / 1e6); // $0.022707
    assert.equal(formatUsd(cost), '$0.0227');
  });

  test('a dated id and an alias cost what the model costs', () => {
    const counts = { input_tokens: 50_000, output_tokens: 4_000 };
    close(costOfUsage('claude-sonnet-4-5-20250929', counts), 0.21); // 0.15 + 0.06
    close(costOfUsage('claude-3-5-haiku-latest', counts), (50_000 * 0.8 + 4_000 * 4) / 1e6);
    close(costOfUsage('Claude-Opus-4-5-20251101', counts), (50_000 * 5 + 4_000 * 25) / 1e6);
  });

  test('Opus 4.1 and Opus 4.5 are priced apart (no loose prefix match)', () => {
    const counts = { input_tokens: 1_000_000, output_tokens: 0 };
    close(costOfUsage('claude-opus-4-1-20250805', counts), 15);
    close(costOfUsage('claude-opus-4-5', counts), 5);
    close(costOfUsage('claude-opus-4-20250514', counts), 15);
  });

  test('an unknown model has an unknown cost, never 0', () => {
    for (const model of ['claude-opus-4-9', 'gpt-5', 'claude-sonnet-4-5-preview', '']) {
      assert.equal(costOfUsage(model, { input_tokens: 10, output_tokens: 10 }), undefined, model);
    }
    assert.equal(formatUsd(undefined), 'cost unknown');
  });

  test('missing cache fields count as zero', () => {
    close(costOfUsage('claude-haiku-4-5', { input_tokens: 2_000_000, output_tokens: 100_000 }), 2.5);
  });

  test('Sonnet 4.5 bills a request over 200K input tokens at the long-context rates', () => {
    // 150K input + 60K cache read = 210K > 200K: $6 input, $22.50 output, $0.60 cache read.
    const long = costOfUsage('claude-sonnet-4-5', {
      input_tokens: 150_000,
      output_tokens: 1_000,
      cache_read_input_tokens: 60_000,
    });
    close(long, (150_000 * 6 + 1_000 * 22.5 + 60_000 * 0.6) / 1e6);
    const atLimit = costOfUsage('claude-sonnet-4-5', {
      input_tokens: 140_000,
      output_tokens: 1_000,
      cache_read_input_tokens: 60_000,
    });
    close(atLimit, (140_000 * 3 + 1_000 * 15 + 60_000 * 0.3) / 1e6);
  });
});

describe('summarizeCost and combineCosts', () => {
  test('sums the usage events of an attempt and ignores other events', () => {
    const summary = summarizeCost([
      { type: 'status', state: 'working' } as { type: string },
      usage('claude-sonnet-4-5', 1234, 567, 2000, 10_000),
      usage('claude-haiku-4-5-20251001', 1_000_000, 0),
    ]);
    close(summary.usd, 0.022707 + 1);
    assert.equal(summary.knownUsd, summary.usd);
    assert.deepEqual(summary.unknownModels, []);
    assert.deepEqual(summary.tokens, { input: 1_001_234, output: 567, cacheWrite: 2000, cacheRead: 10_000 });
    assert.equal(summary.requests, 2);
  });

  test('an unknown model makes the total unknown but keeps the known part', () => {
    const summary = summarizeCost([
      usage('claude-sonnet-4-5', 1234, 567, 2000, 10_000),
      usage('mystery-model', 5000, 5000),
      usage('mystery-model', 1, 1),
    ]);
    assert.equal(summary.usd, undefined);
    close(summary.knownUsd, 0.022707);
    assert.deepEqual(summary.unknownModels, ['mystery-model']);
    assert.equal(formatCost(summary), 'cost unknown (at least $0.0227)');
  });

  test('an agent that reports no usage has an unknown cost, not $0', () => {
    const silent = summarizeCost([], { reportsUsage: false });
    assert.equal(silent.usd, undefined);
    assert.equal(silent.unreported, 1);
    assert.equal(formatCost(silent), 'cost unknown');
    const builtIn = summarizeCost([], { reportsUsage: true });
    assert.equal(builtIn.usd, 0);
    assert.equal(formatCost(builtIn), '$0.00');
  });

  test('a task is the sum of its attempts, a session the sum of its tasks', () => {
    const a1 = summarizeCost([usage('claude-sonnet-4-5', 100_000, 10_000)]); // 0.30 + 0.15
    const a2 = summarizeCost([usage('claude-opus-4-5', 100_000, 10_000)]); // 0.50 + 0.25
    const task1 = combineCosts([a1, a2]);
    close(task1.usd, 1.2);
    assert.equal(formatCost(task1), '$1.20');

    const task2 = combineCosts([
      summarizeCost([usage('claude-haiku-4-5', 10_000, 2_000)]),
      summarizeCost([], { reportsUsage: false }),
    ]);
    assert.equal(task2.usd, undefined);
    close(task2.knownUsd, 0.02);

    const session: CostSummary = combineCosts([task1, task2]);
    assert.equal(session.usd, undefined);
    close(session.knownUsd, 1.22);
    assert.equal(session.unreported, 1);
    assert.equal(session.requests, 3);
    assert.equal(session.tokens.input, 210_000);
    assert.equal(formatCost(session), 'cost unknown (at least $1.22)');
    assert.equal(formatCost(task2), 'cost unknown (at least $0.0200)');
    assert.equal(combineCosts([]).usd, 0);
  });
});

describe('formatUsd', () => {
  test('four decimals under a dollar, cents above', () => {
    assert.equal(formatUsd(0.0213), '$0.0213');
    assert.equal(formatUsd(0.00004), '$0.0000');
    assert.equal(formatUsd(12.345), '$12.35');
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(Number.NaN), 'cost unknown');
  });
});

describe('readUsageEvents', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('tolerates a torn last line and skips malformed events', async () => {
    const path = join(dir, 'events.jsonl');
    const lines = [
      JSON.stringify({ ts: 1, type: 'status', state: 'working' }),
      JSON.stringify(usage('claude-sonnet-4-5', 1234, 567, 2000, 10_000)),
      'not json at all',
      JSON.stringify({ type: 'usage', model: 'claude-sonnet-4-5', input_tokens: -5, output_tokens: 1 }),
      JSON.stringify({ type: 'usage', input_tokens: 5, output_tokens: 1 }),
      JSON.stringify(usage('claude-haiku-4-5', 1_000_000, 0)),
    ];
    // The agent was killed halfway through appending its next line.
    await writeFile(path, `${lines.join('\n')}\n{"type":"usage","model":"claude-sonnet-4-5","input_tok`);
    const events = await readUsageEvents(path);
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map((e) => e.model),
      ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    );
    const cost = await attemptCost(dir);
    close(cost.usd, 1.022707);
    assert.equal(formatCost(cost), '$1.02');
  });

  test('a run directory without events.jsonl yet has no usage', async () => {
    assert.deepEqual(await readUsageEvents(join(dir, 'missing', 'events.jsonl')), []);
    assert.equal((await attemptCost(join(dir, 'missing'), { reportsUsage: false })).usd, undefined);
  });
});
