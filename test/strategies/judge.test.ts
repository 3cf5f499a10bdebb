import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { defaultConfig } from '../../src/config/schema.js';
import {
  candidateResults,
  formatCandidatesTable,
  JUDGE_DIFF_MAX_BYTES,
  JUDGE_TOOL_NAME,
  type JudgeCandidate,
  judgeCandidates,
  judgePrompt,
  pickWinner,
} from '../../src/strategies/judge.js';
import { parseTaskFile } from '../../src/tasks/task-file.js';
import {
  anthropicEnv,
  type ScriptedModelServer,
  type ScriptedTurn,
  startScriptedModelServer,
  turn,
} from '../support/scripted-model.js';

const task = parseTaskFile(
  [
    '---',
    'strategy: best-of-n',
    'n: 3',
    '---',
    '# task-03: Add periodic cleanup for idle sessions',
    '',
    '## Goal',
    'Sessions idle for an hour are closed by a timer.',
    '',
    '## Acceptance criteria',
    '- [ ] the idle timeout is configurable',
    '- [x] closing a session frees its worktree',
    '',
  ].join('\n'),
  { id: 'task-03' },
);

const reviewer = defaultConfig().profiles.reviewer!;

/** A candidate whose diff carries a marker, so a test can tell which diffs reached the model. */
function candidate(n: number, checkPassed: boolean, lines: [number, number] = [10, 2]): JudgeCandidate {
  return {
    attemptId: `task-03-a${n}`,
    diff: `diff --git a/src/idle.ts b/src/idle.ts\n+// DIFF-MARKER-${n}\n`,
    diffStat: { files: 1, insertions: lines[0], deletions: lines[1] },
    checkPassed,
  };
}

function scores(...entries: [number, number][]): ScriptedTurn {
  return turn.tool(JUDGE_TOOL_NAME, {
    scores: entries.map(([n, score]) => ({ attempt: `task-03-a${n}`, score, reasons: `reasons for a${n}` })),
  });
}

interface RequestBody {
  model: string;
  max_tokens: number;
  stream?: boolean;
  system: string;
  tools: { name: string; input_schema: Record<string, unknown> }[];
  tool_choice: unknown;
  messages: { role: string; content: unknown }[];
}

function body(server: ScriptedModelServer, i: number): RequestBody {
  const request = server.requests[i];
  assert.ok(request, `request ${i} was made`);
  return request.body as RequestBody;
}

describe('judgeCandidates', () => {
  let server: ScriptedModelServer | undefined;
  const serve = async (turns: ScriptedTurn[]) => {
    server = await startScriptedModelServer({ scenario: { turns } });
    return server;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('sends only passing diffs with the forced submit_scores tool and parses the scores', async () => {
    const s = await serve([
      {
        ...scores([1, 6], [3, 9]),
        usage: { input_tokens: 1200, output_tokens: 80, cache_read_input_tokens: 100 },
      },
    ]);
    const candidates = [candidate(1, true), candidate(2, false), candidate(3, true)];

    const result = await judgeCandidates({
      task,
      candidates,
      profile: reviewer,
      env: anthropicEnv(s),
      maxRetries: 0,
    });

    assert.equal(s.requests.length, 1);
    const sent = body(s, 0);
    assert.equal(sent.model, reviewer.model);
    // Streamed, so a model that goes silent is noticed (model.stallSeconds).
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.tool_choice, { type: 'tool', name: 'submit_scores' });
    assert.equal(sent.tools.length, 1);
    assert.equal(sent.tools[0]?.name, 'submit_scores');
    const tool = sent.tools[0]!;
    const items = (tool.input_schema as { properties: { scores: { items: unknown } } }).properties.scores
      .items as { properties: { attempt: { enum: string[] }; score: unknown }; required: string[] };
    assert.deepEqual(items.properties.attempt.enum, ['task-03-a1', 'task-03-a3']);
    assert.deepEqual(items.properties.score, {
      type: 'number',
      minimum: 0,
      maximum: 10,
      description: '0 (useless) to 10 (ideal).',
    });
    assert.deepEqual(items.required, ['attempt', 'score', 'reasons']);
    assert.match(sent.system, /score every attempt from 0 to 10/);
    assert.match(sent.system, /You are the reviewer/);
    const prompt = String(sent.messages[0]?.content);
    assert.match(prompt, /Sessions idle for an hour are closed by a timer\./);
    assert.match(prompt, /- \[ \] the idle timeout is configurable/);
    assert.match(prompt, /## Attempt task-03-a1\n\n1 file changed, \+10 -2 lines\./);
    assert.match(prompt, /DIFF-MARKER-1/);
    assert.match(prompt, /DIFF-MARKER-3/);
    assert.doesNotMatch(prompt, /DIFF-MARKER-2|task-03-a2/);

    assert.equal(result.decision, 'judged');
    assert.equal(result.winner, 'task-03-a3');
    assert.deepEqual(result.scores, [
      { attemptId: 'task-03-a1', checkPassed: true, score: 6, reasons: 'reasons for a1' },
      { attemptId: 'task-03-a2', checkPassed: false, score: undefined, reasons: 'checks failed; not judged' },
      { attemptId: 'task-03-a3', checkPassed: true, score: 9, reasons: 'reasons for a3' },
    ]);
    assert.equal(result.summary, 'task-03-a3 scored 9/10, the highest of 2 judged attempts');
    assert.equal(result.model, reviewer.model);
    assert.equal(result.usage.length, 1);
    assert.deepEqual(
      { ...result.usage[0], ts: undefined },
      {
        ts: undefined,
        type: 'usage',
        model: reviewer.model,
        input_tokens: 1200,
        output_tokens: 80,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 100,
      },
    );
  });

  test('a tie goes to the smaller change', async () => {
    const s = await serve([scores([1, 8], [2, 8], [3, 4])]);
    const candidates = [candidate(1, true, [30, 10]), candidate(2, true, [5, 5]), candidate(3, true, [1, 0])];

    const result = await judgeCandidates({
      task,
      candidates,
      profile: reviewer,
      env: anthropicEnv(s),
      maxRetries: 0,
    });

    assert.equal(result.winner, 'task-03-a2');
    assert.match(result.summary, /tied with task-03-a1; smallest change: 10 lines changed against 40/);
  });

  test('an invalid answer is sent back once as an error tool result, and the corrected one counts', async () => {
    const invalid = turn.tool(JUDGE_TOOL_NAME, {
      scores: [
        { attempt: 'task-03-a1', score: 11, reasons: 'too generous' },
        { attempt: 'task-03-a2', score: 5, reasons: 'x' },
      ],
    });
    const unknownId = turn.tool(JUDGE_TOOL_NAME, {
      scores: [
        { attempt: 'task-03-a7', score: 5, reasons: 'who?' },
        { attempt: 'task-03-a1', score: 5, reasons: 'x' },
      ],
    });
    const s = await serve([invalid, unknownId, scores([1, 3], [2, 7])]);
    const candidates = [candidate(1, true), candidate(2, true)];

    // Out of range: retried, then the second answer (unknown id, missing a2) is invalid too.
    await assert.rejects(
      judgeCandidates({ task, candidates, profile: reviewer, env: anthropicEnv(s), maxRetries: 0 }),
      (error) =>
        isOrchestraError(error) &&
        /answered invalidly 2 times/.test(error.message) &&
        /unknown attempt "task-03-a7"/.test(error.message) &&
        /no score for task-03-a2/.test(error.message),
    );
    assert.equal(s.requests.length, 2);
    const retry = body(s, 1);
    assert.equal(retry.messages.length, 3);
    assert.equal(retry.messages[1]?.role, 'assistant');
    const [toolUse] = retry.messages[1]!.content as { type: string; id: string; name: string }[];
    assert.equal(toolUse?.type, 'tool_use');
    assert.equal(toolUse?.name, JUDGE_TOOL_NAME);
    const [result] = retry.messages[2]!.content as {
      type: string;
      tool_use_id: string;
      is_error: boolean;
      content: string;
    }[];
    assert.equal(result?.type, 'tool_result');
    assert.equal(result?.tool_use_id, toolUse?.id);
    assert.equal(result?.is_error, true);
    assert.match(result?.content ?? '', /scores\.0\.score: .*10/);
    assert.deepEqual(retry.tool_choice, { type: 'tool', name: 'submit_scores' });

    // A fresh run takes the next turn, valid, after one invalid answer.
    await server?.close();
    const t = await serve([unknownId, scores([1, 3], [2, 7])]);
    const judged = await judgeCandidates({
      task,
      candidates,
      profile: reviewer,
      env: anthropicEnv(t),
      maxRetries: 0,
    });
    assert.equal(t.requests.length, 2);
    assert.equal(judged.winner, 'task-03-a2');
    assert.equal(judged.usage.length, 2);
    assert.deepEqual(
      judged.scores.map((x) => x.score),
      [3, 7],
    );
  });

  test('a 529 from the API is a clear error', async () => {
    const s = await serve([turn.overloaded()]);
    await assert.rejects(
      judgeCandidates({
        task,
        candidates: [candidate(1, true), candidate(2, true)],
        profile: reviewer,
        env: anthropicEnv(s),
        maxRetries: 0,
      }),
      (error) =>
        isOrchestraError(error) &&
        /the judge's request to the model API failed: 529 overloaded: Overloaded/.test(error.message) &&
        /run the judging again later/.test(error.hint ?? ''),
    );
    assert.equal(s.requests.length, 1);
  });

  test('a stalled answer is sent again; stalling every time is an error naming the stall', async () => {
    const stalled: ScriptedTurn = {
      ...scores([1, 5], [2, 7]),
      stallAfterEvents: { afterEvents: 1, ms: 10_000 },
    };
    const s = await serve([stalled, scores([1, 5], [2, 7]), stalled, stalled, stalled]);
    const options = {
      task,
      candidates: [candidate(1, true), candidate(2, true)],
      profile: reviewer,
      env: anthropicEnv(s),
      maxRetries: 0,
      stallSeconds: 1,
    };
    const started = Date.now();
    const result = await judgeCandidates(options);
    assert.equal(result.winner, 'task-03-a2');
    assert.equal(s.requests.length, 2);
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);

    await assert.rejects(
      judgeCandidates(options),
      (error) =>
        isOrchestraError(error) &&
        /the judge's request to the model API failed: no event for 1 s: the model API went silent/.test(
          error.message,
        ) &&
        /run the judging again later/.test(error.hint ?? ''),
    );
    assert.equal(s.requests.length, 5);
  });

  test('with none or one passing candidate no request is made', async () => {
    const s = await serve([scores([1, 5], [2, 5])]);
    const env = anthropicEnv(s);

    const none = await judgeCandidates({
      task,
      candidates: [candidate(1, false), candidate(2, false)],
      profile: reviewer,
      env,
    });
    assert.equal(none.decision, 'none-passing');
    assert.equal(none.winner, undefined);
    assert.deepEqual(
      none.scores.map((x) => x.score),
      [undefined, undefined],
    );

    const one = await judgeCandidates({
      task,
      candidates: [candidate(1, false), candidate(2, true)],
      profile: reviewer,
      env,
    });
    assert.equal(one.decision, 'only-passing');
    assert.equal(one.winner, 'task-03-a2');
    assert.match(one.summary, /task-03-a2 is the only attempt that passed its checks/);
    assert.equal(one.model, undefined);
    assert.deepEqual(one.usage, []);
    assert.equal(s.requests.length, 0);
  });

  test('without an API key a judging that needs the model fails with a hint', async () => {
    await assert.rejects(
      judgeCandidates({
        task,
        candidates: [candidate(1, true), candidate(2, true)],
        profile: reviewer,
        env: {},
      }),
      (error) => isOrchestraError(error, 'USAGE') && /ANTHROPIC_API_KEY/.test(error.message),
    );
  });

  test('an aborted judging stops the request', async () => {
    const s = await serve([{ ...scores([1, 5], [2, 6]), delayMs: 5000 }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await assert.rejects(
      judgeCandidates({
        task,
        candidates: [candidate(1, true), candidate(2, true)],
        profile: reviewer,
        env: anthropicEnv(s),
        signal: controller.signal,
        maxRetries: 0,
      }),
      (error) =>
        !isOrchestraError(error) && error instanceof Error && /abort/i.test(error.name + error.message),
    );
    assert.ok(Date.now() - started < 2000);
  });
});

describe('pickWinner', () => {
  const stat = (insertions: number, deletions: number) => ({ files: 1, insertions, deletions });

  test('the highest score wins regardless of size', () => {
    const candidates = [
      { attemptId: 'task-03-a1', diffStat: stat(500, 0) },
      { attemptId: 'task-03-a2', diffStat: stat(1, 0) },
    ];
    const winner = pickWinner(
      [
        { attemptId: 'task-03-a1', score: 7.5 },
        { attemptId: 'task-03-a2', score: 7 },
      ],
      candidates,
    );
    assert.equal(winner, 'task-03-a1');
  });

  test('equal score and size go to the lower attempt number, compared as numbers', () => {
    const candidates = [
      { attemptId: 'task-03-a10', diffStat: stat(3, 3) },
      { attemptId: 'task-03-a2', diffStat: stat(4, 2) },
    ];
    const winner = pickWinner(
      [
        { attemptId: 'task-03-a10', score: 6 },
        { attemptId: 'task-03-a2', score: 6 },
      ],
      candidates,
    );
    assert.equal(winner, 'task-03-a2');
  });

  test('candidates without a score are never chosen', () => {
    const candidates = [
      { attemptId: 'task-03-a1', diffStat: stat(1, 0) },
      { attemptId: 'task-03-a2', diffStat: stat(9, 0) },
    ];
    assert.equal(
      pickWinner(
        [
          { attemptId: 'task-03-a1', score: undefined },
          { attemptId: 'task-03-a2', score: 0 },
        ],
        candidates,
      ),
      'task-03-a2',
    );
    assert.equal(pickWinner([{ attemptId: 'task-03-a1', score: undefined }], candidates), undefined);
  });
});

describe('judgePrompt', () => {
  test('a diff over the cap is cut at a line end and the prompt says so', () => {
    const line = `+${'é'.repeat(99)}\n`; // 200 bytes
    const big: JudgeCandidate = {
      ...candidate(1, true),
      diff: `${line.repeat(Math.ceil((JUDGE_DIFF_MAX_BYTES * 2) / Buffer.byteLength(line)))}+TAIL-MARKER\n`,
    };
    const small = { ...candidate(2, true), diffTruncated: true };

    const prompt = judgePrompt(task, [big, small]);

    assert.doesNotMatch(prompt, /TAIL-MARKER/);
    assert.match(
      prompt,
      /The diff is 80\.\d KB, over the 40\.0 KB limit: only its first 39\.\d KB are shown, the rest is cut\./,
    );
    assert.match(prompt, /The diff was cut before it reached you/);
    const shown = /## Attempt task-03-a1[\s\S]*?```diff\n([\s\S]*?)\n```/.exec(prompt)?.[1] ?? '';
    assert.ok(Buffer.byteLength(shown) <= JUDGE_DIFF_MAX_BYTES);
    assert.ok(Buffer.byteLength(shown) > JUDGE_DIFF_MAX_BYTES - 200);
    assert.ok(shown.split('\n').every((l) => l === line.trimEnd()));
    assert.match(prompt, /DIFF-MARKER-2/);
  });

  test('a diff holding a code fence gets a longer fence', () => {
    // A context line of a Markdown file can be a fence line of its own (up to 3 spaces of indent).
    const fenced = { ...candidate(1, true), diff: ' ```js\n+code\n ```\n' };
    const prompt = judgePrompt(task, [fenced]);
    assert.match(prompt, /\n````diff\n ```js\n\+code\n ```\n````\n/);
  });
});

describe('formatCandidatesTable', () => {
  test('one row per candidate with check, score, size, choice and one-line reasons', () => {
    const candidates = [candidate(1, true, [12, 3]), candidate(2, false, [1, 0]), candidate(3, true, [4, 4])];
    const result = {
      scores: [
        { attemptId: 'task-03-a1', checkPassed: true, score: 6, reasons: 'works | but\nverbose' },
        {
          attemptId: 'task-03-a2',
          checkPassed: false,
          score: undefined,
          reasons: 'checks failed; not judged',
        },
        { attemptId: 'task-03-a3', checkPassed: true, score: 8.5, reasons: 'x'.repeat(300) },
      ],
      winner: 'task-03-a3',
      decision: 'judged' as const,
      summary: '',
      model: 'claude-sonnet-4-5',
      usage: [],
    };

    const lines = formatCandidatesTable(result, candidates).split('\n');

    assert.equal(lines[0], '| attempt | check | score | change | chosen | reasons |');
    assert.equal(lines[2], '| task-03-a1 | pass | 6 | 1 file, +12 -3 |  | works \\| but verbose |');
    assert.equal(lines[3], '| task-03-a2 | fail |  | 1 file, +1 -0 |  | checks failed; not judged |');
    assert.equal(lines[4], `| task-03-a3 | pass | 8.5 | 1 file, +4 -4 | yes | ${'x'.repeat(199)}… |`);
    assert.equal(lines.length, 6);
    assert.equal(lines[5], '');

    assert.deepEqual(candidateResults(result), [
      { attempt: 'task-03-a1', check: 'pass', score: 6 },
      { attempt: 'task-03-a2', check: 'fail' },
      { attempt: 'task-03-a3', check: 'pass', score: 8.5, chosen: true },
    ]);
  });
});
