import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { orchestraPaths } from '../../src/common/paths.js';
import { defaultConfig } from '../../src/config/schema.js';
import { bestOfNStrategy, refineStrategy, singleStrategy } from '../../src/strategies/builtin.js';
import { loadStrategy } from '../../src/strategies/load.js';
import { REVIEW_TOOL_NAME, reviewAttempt } from '../../src/strategies/review.js';
import type { AttemptHandle, AttemptOutcome, StrategyContext } from '../../src/strategies/types.js';
import { parseTaskFile } from '../../src/tasks/task-file.js';
import { tempDir } from '../git/fixtures.js';
import {
  anthropicEnv,
  type ScriptedModelServer,
  startScriptedModelServer,
} from '../support/scripted-model.js';

const task = (front: string) =>
  parseTaskFile(
    `---\n${front}\n---\n# Add a flag\n\n## Goal\nAdd --verbose.\n\n## Acceptance criteria\n- [ ] prints more\n`,
    {
      id: 'task-07',
    },
  );

/**
 * A strategy context whose attempts are scripted outcomes, recording what the strategy asked for:
 * the strategies' own decisions are what is under test here (the scheduler's side is covered by
 * test/scheduler).
 */
function fakeContext(
  t: ReturnType<typeof task>,
  outcomes: Array<Array<Partial<AttemptOutcome>>>,
  verdicts: Array<{ approved: boolean; comments: string }> = [],
  winner?: string,
) {
  const calls: string[] = [];
  const rounds = new Map<string, number>();
  let started = 0;
  const ctx: StrategyContext = {
    task: t,
    config: defaultConfig(),
    signal: new AbortController().signal,
    startAttempt: async () => {
      started++;
      calls.push(`start ${started}`);
      return { attemptId: `task-07-a${started}`, n: started, branch: `orchestra/task-07/a${started}` };
    },
    awaitAttempt: async (h: AttemptHandle) => {
      const round = rounds.get(h.attemptId) ?? 0;
      rounds.set(h.attemptId, round + 1);
      const script = outcomes[h.n - 1]![Math.min(round, outcomes[h.n - 1]!.length - 1)]!;
      calls.push(`await ${h.attemptId}`);
      return {
        attemptId: h.attemptId,
        n: h.n,
        branch: h.branch,
        worktree: '/w',
        passed: false,
        checkOutput: '',
        ...script,
      };
    },
    diff: async () => '',
    send: async (h, text) => {
      calls.push(`send ${h.attemptId}: ${text.split('\n').at(-1)}`);
    },
    judge: async (list) => {
      calls.push(
        `judge ${list
          .filter((o) => o.passed)
          .map((o) => o.attemptId)
          .join(',')}`,
      );
      return { scores: [], ...(winner ? { winner } : {}) };
    },
    review: async (h) => {
      calls.push(`review ${h.attemptId}`);
      return verdicts.shift() ?? { approved: true, comments: 'fine' };
    },
    log: () => {},
  };
  return { ctx, calls };
}

describe('built-in strategies', () => {
  test('single: one attempt, done when it passes', async () => {
    const { ctx, calls } = fakeContext(task('strategy: single'), [[{ passed: true, commit: 'abc' }]]);
    const result = await singleStrategy.run(ctx);
    assert.equal(result.outcome, 'done');
    assert.equal(result.winner?.commit, 'abc');
    assert.deepEqual(calls, ['start 1', 'await task-07-a1']);
  });

  test('best-of-n: only passing attempts go to the judge, whose winner is kept', async () => {
    const { ctx, calls } = fakeContext(
      task('strategy: best-of-n\nn: 3'),
      [[{ passed: true }], [{ passed: false, reason: 'checks failed' }], [{ passed: true }]],
      [],
      'task-07-a3',
    );
    const result = await bestOfNStrategy.run(ctx);
    assert.equal(result.outcome, 'done');
    assert.equal(result.winner?.attemptId, 'task-07-a3');
    assert.equal(result.attempts.length, 3);
    assert.ok(calls.includes('judge task-07-a1,task-07-a3'), calls.join(' | '));
  });

  test('best-of-n: no passing attempt fails the task without a judge', async () => {
    const { ctx, calls } = fakeContext(task('strategy: best-of-n\nn: 2'), [
      [{ passed: false }],
      [{ passed: false }],
    ]);
    const result = await bestOfNStrategy.run(ctx);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /none of the 2 attempts passed/);
    assert.ok(!calls.some((c) => c.startsWith('judge')), 'the judge is not asked');
  });

  test('refine: the review goes back to the same agent until it approves', async () => {
    const { ctx, calls } = fakeContext(
      task('strategy: refine\nrounds: 3'),
      [
        [
          { passed: true, commit: 'one' },
          { passed: true, commit: 'two' },
        ],
      ],
      [
        { approved: false, comments: 'also document the flag' },
        { approved: true, comments: 'good' },
      ],
    );
    const result = await refineStrategy.run(ctx);
    assert.equal(result.outcome, 'done');
    assert.equal(result.winner?.commit, 'two');
    assert.deepEqual(calls, [
      'start 1',
      'await task-07-a1',
      'review task-07-a1',
      'send task-07-a1: also document the flag',
      'await task-07-a1',
      'review task-07-a1',
    ]);
  });
});

describe('custom strategies', () => {
  let root: string;
  before(async () => {
    root = await tempDir();
    await mkdir(join(root, '.orchestra', 'strategies'), { recursive: true });
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('a module in .orchestra/strategies/ is loaded by name', async () => {
    const paths = orchestraPaths(root);
    await writeFile(
      join(paths.strategies, 'twice.mjs'),
      'export const strategy = { name: "twice", async run(ctx) { const a = await ctx.startAttempt(); const b = await ctx.startAttempt(); const o = [await ctx.awaitAttempt(a), await ctx.awaitAttempt(b)]; const w = o.find((x) => x.passed); return w ? { outcome: "done", winner: w, attempts: o } : { outcome: "failed", attempts: o, reason: "no" }; } };\n',
    );
    const strategy = await loadStrategy(paths, 'twice');
    const { ctx, calls } = fakeContext(task('strategy: twice'), [[{ passed: false }], [{ passed: true }]]);
    const result = await strategy.run(ctx);
    assert.equal(result.winner?.attemptId, 'task-07-a2');
    assert.deepEqual(calls.slice(0, 2), ['start 1', 'start 2']);
  });

  test('a missing or malformed strategy is refused with a hint', async () => {
    const paths = orchestraPaths(root);
    await assert.rejects(loadStrategy(paths, 'nope'), {
      code: 'TASK_INVALID',
      message: /no strategy "nope"/,
    });
    await writeFile(join(paths.strategies, 'bad.mjs'), 'export const strategy = 42;\n');
    await assert.rejects(loadStrategy(paths, 'bad'), { code: 'TASK_INVALID', message: /does not export/ });
    await assert.rejects(loadStrategy(paths, '../evil'), {
      code: 'TASK_INVALID',
      message: /not a valid name/,
    });
  });
});

describe('reviewer', () => {
  let server: ScriptedModelServer;
  before(async () => {
    server = await startScriptedModelServer({
      scenario: {
        turns: [
          { toolUses: [{ name: REVIEW_TOOL_NAME, input: { approved: false, comments: 'handle -v too' } }] },
          { text: 'I think it is fine.' },
        ],
      },
    });
  });
  after(() => server.close());

  test('asks with a forced submit_review tool and returns the structured verdict', async () => {
    const result = await reviewAttempt({
      task: task('strategy: refine'),
      diff: '+verbose',
      profile: defaultConfig().profiles.reviewer!,
      env: anthropicEnv(server),
    });
    assert.deepEqual(
      { approved: result.approved, comments: result.comments },
      { approved: false, comments: 'handle -v too' },
    );
    assert.equal(result.usage.length, 1);
    const body = server.requests[0]!.body as { tool_choice: unknown; messages: Array<{ content: string }> };
    assert.deepEqual(body.tool_choice, { type: 'tool', name: REVIEW_TOOL_NAME });
    assert.match(body.messages[0]!.content, /\+verbose/);
  });

  test('an answer without the tool call is an error, not a guess from free text', async () => {
    await assert.rejects(
      reviewAttempt({
        task: task('strategy: refine'),
        diff: '+verbose',
        profile: defaultConfig().profiles.reviewer!,
        env: anthropicEnv(server),
      }),
      { message: /did not answer with a valid submit_review call/ },
    );
  });
});
