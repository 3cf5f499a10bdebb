/**
 * The demo's scripted model: what each agent "says" for the three sample tasks, as a scenario file
 * for the scripted Messages API server (src/model-server). Requests are routed by the worktree path
 * in the agent's system prompt, so each attempt — the three best-of-3 candidates included — plays
 * its own script, and the judge is routed by its instructions.
 *
 * - task-01 (multiply): the first try has a bug; the check gate's failure goes back to the agent,
 *   which fixes it.
 * - task-02 (divide): right the first time, after waiting out a rate limit (a 429 with
 *   `retry-after: 3`): its pane says "rate-limited until …", no new attempt starts meanwhile, and the
 *   wait counts as no failed try (issue 13).
 * - task-03 (docs, best-of-3): a1 and a2 pass with documentation of different quality; a3 breaks a
 *   test and fails the check twice. The judge prefers a2.
 */

/** Usage reported per scripted turn (tokens): small, but real numbers so cost shows in panes. */
const USAGE = {
  input_tokens: 1800,
  output_tokens: 240,
  cache_creation_input_tokens: 1200,
  cache_read_input_tokens: 600,
};

interface DemoTimings {
  /** Wait before each answer starts, ms (the model "thinking"). */
  delayMs: number;
  /** Wait between streamed chunks, ms. */
  chunkDelayMs: number;
}

function say(text: string, t: DemoTimings, toolUses: Array<{ name: string; input: unknown }>) {
  // Split text into words so it visibly streams.
  const chunks = text.split(/(?<= )/);
  return { text: chunks, toolUses, usage: USAGE, delayMs: t.delayMs, chunkDelayMs: t.chunkDelayMs };
}

const edit = (path: string, oldStr: string, newStr: string) => ({
  name: 'str_replace_based_edit_tool',
  input: { command: 'str_replace', path, old_str: oldStr, new_str: newStr },
});
const view = (path: string) => ({ name: 'str_replace_based_edit_tool', input: { command: 'view', path } });
const bash = (command: string) => ({ name: 'bash', input: { command } });
const done = (summary: string) => ({ name: 'task_complete', input: { summary } });

const MULTIPLY_TEST = `cat >> test/calc.test.js <<'EOF'

test('multiply', () => {
  assert.equal(multiply(3, 4), 12);
});
EOF`;

const DIVIDE_TEST = `cat > test/divide.test.js <<'EOF'
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { divide } from '../src/calc.js';

test('divide', () => {
  assert.equal(divide(8, 2), 4);
  assert.throws(() => divide(1, 0), RangeError);
});
EOF`;

const DIVIDE_FN = `cat >> src/calc.js <<'EOF'

/** Divides a by b; throws a RangeError when b is 0. */
export function divide(a, b) {
  if (b === 0) throw new RangeError('division by zero');
  return a / b;
}
EOF`;

/**
 * The scenario file for the demo (and for the end-to-end test, with shorter timings).
 * @param timings how slowly the scripted agents "type" (defaults suit a person watching)
 */
export function demoScenarioFile(timings: DemoTimings = { delayMs: 900, chunkDelayMs: 40 }) {
  const t = timings;
  return {
    scenarios: {
      judge: {
        match: { system: 'You judge competing solutions' },
        turns: [
          {
            toolUses: [
              {
                name: 'submit_scores',
                input: {
                  scores: [
                    {
                      attempt: 'task-03-a1',
                      score: 6,
                      reasons: 'Documents add and subtract, but with no examples.',
                    },
                    {
                      attempt: 'task-03-a2',
                      score: 9,
                      reasons: 'Every export documented with a runnable example.',
                    },
                  ],
                },
              },
            ],
            usage: USAGE,
          },
        ],
      },
      'task-01-a1': {
        match: { system: 'worktrees/task-01-a1' },
        turns: [
          say('I will look at the library first. ', t, [view('src/calc.js')]),
          say('Adding `multiply` next to the other functions, and a test for it. ', t, [
            edit(
              'src/calc.js',
              '/** Subtracts b from a. */',
              '/** Multiplies a and b. */\nexport function multiply(a, b) {\n  return a ** b;\n}\n\n/** Subtracts b from a. */',
            ),
          ]),
          say('Now the import and the test. ', t, [
            edit(
              'test/calc.test.js',
              "import { add, subtract } from '../src/calc.js';",
              "import { add, multiply, subtract } from '../src/calc.js';",
            ),
          ]),
          say('Appending the test case. ', t, [bash(MULTIPLY_TEST)]),
          say('Done: multiply is in place with a test. ', t, [done('Added multiply(a, b) with a test.')]),
          say('The check says multiply(3, 4) is 81: I used `**` (power) instead of `*`. Fixing it. ', t, [
            edit('src/calc.js', 'return a ** b;', 'return a * b;'),
          ]),
          say('Running the tests myself this time. ', t, [bash('npm test 2>&1 | tail -5')]),
          say('All tests pass now. ', t, [
            done('Added multiply(a, b) with a test; fixed ** to * after the check failed.'),
          ]),
        ],
      },
      'task-02-a1': {
        match: { system: 'worktrees/task-02-a1' },
        turns: [
          {
            error: {
              status: 429,
              type: 'rate_limit_error',
              message: 'Number of requests has exceeded your rate limit',
              retryAfterSeconds: 3,
            },
          },
          say('Adding `divide` at the end of the library, with a RangeError for zero. ', t, [
            bash(DIVIDE_FN),
          ]),
          say('And its tests, in their own file. ', t, [bash(DIVIDE_TEST)]),
          say('Checking. ', t, [bash('npm test 2>&1 | tail -4')]),
          say('Both divide cases pass. ', t, [
            done('Added divide(a, b), throwing RangeError on division by zero, with tests.'),
          ]),
        ],
      },
      'task-03-a1': {
        match: { system: 'worktrees/task-03-a1' },
        turns: [
          say('A short API section for the README. ', t, [
            bash(
              "cat >> README.md <<'EOF'\n\n## API\n\n- `add(a, b)`: the sum.\n- `subtract(a, b)`: a minus b.\nEOF",
            ),
          ]),
          say('Documented. ', t, [done('Listed add and subtract in README.md.')]),
        ],
      },
      'task-03-a2': {
        match: { system: 'worktrees/task-03-a2' },
        turns: [
          say('Reading the exports first. ', t, [view('src/calc.js')]),
          say('Writing an API section with an example per function. ', t, [
            bash(
              "cat >> README.md <<'EOF'\n\n## API\n\n```js\nimport { add, subtract } from './src/calc.js';\n```\n\n### add(a, b)\nReturns a + b.\n\n```js\nadd(2, 3); // 5\n```\n\n### subtract(a, b)\nReturns a - b.\n\n```js\nsubtract(5, 3); // 2\n```\nEOF",
            ),
          ]),
          say('Every export is documented with an example. ', t, [
            done('Documented add and subtract with examples in README.md.'),
          ]),
        ],
      },
      'task-03-a3': {
        match: { system: 'worktrees/task-03-a3' },
        turns: [
          say('I will document the functions in the code and tidy subtract while I am there. ', t, [
            edit('src/calc.js', 'return a - b;', 'return b - a;'),
          ]),
          say('Done. ', t, [done('Tidied subtract.')]),
          say('The check failed, but I believe the test is wrong. ', t, [done('Left subtract as it is.')]),
        ],
      },
    },
  };
}

/** The goal `orchestra demo --autonomy` gives the autonomous mode. */
export const DEMO_AUTONOMY_GOAL =
  'Round out calc: it should multiply and divide as well as add and subtract.';

const propose = (title: string, goal: string, files: string[]) => ({
  name: 'propose_task',
  input: {
    title,
    goal,
    before: 'src/calc.js exports add and subtract only.',
    after: `src/calc.js also exports what "${title}" adds, with tests.`,
    acceptance_criteria: ['npm test passes', 'the new function has a test'],
    files_to_touch: files,
    test_plan: ['npm test'],
  },
});

/**
 * The scripted model of `orchestra demo --autonomy`: the planner (task-01, the first cycle's plan
 * task) reads the library and proposes three tasks — multiply, divide, and multiply once more,
 * which orchestra rejects as a repeat — then ends its turn; the two tasks it queued (task-02,
 * task-03) play the multiply and divide scripts of the plain demo; the memory keeps one lesson.
 */
export function demoAutonomyScenarioFile(timings: DemoTimings = { delayMs: 900, chunkDelayMs: 40 }) {
  const t = timings;
  const plain = demoScenarioFile(t).scenarios;
  return {
    scenarios: {
      memory: {
        match: { system: 'You keep the memory' },
        turns: [
          {
            toolUses: [
              {
                name: 'write_memory',
                input: {
                  memory:
                    '# Memory\n\n- `npm test` is the check; run it before calling task_complete.\n- `multiply` is `a * b`: `**` is power, and the check caught it once.\n',
                },
              },
            ],
            usage: USAGE,
          },
          ...Array.from({ length: 6 }, () => ({ text: 'Nothing new to keep.', usage: USAGE })),
        ],
      },
      planner: {
        match: { system: 'worktrees/task-01-a1' },
        turns: [
          say('Reading the library to see what it lacks. ', t, [view('src/calc.js')]),
          say('It adds and subtracts only. Two small tasks toward the goal. ', t, [
            propose('Add multiply', 'Add a `multiply(a, b)` function to src/calc.js with a test.', [
              'src/calc.js',
              'test/calc.test.js',
            ]),
            propose(
              'Add divide',
              'Add a `divide(a, b)` function that throws a RangeError on division by zero, with tests.',
              ['src/calc.js', 'test/divide.test.js'],
            ),
            propose('Add multiply', 'Add multiply again, in case the first one fails.', ['src/calc.js']),
          ]),
          say('Proposed multiply and divide. ', t, []),
          // For a planner resumed after a restart: the request in flight is asked again.
          say('Proposed multiply and divide. ', t, []),
        ],
      },
      'task-02-a1': { ...plain['task-01-a1'], match: { system: 'worktrees/task-02-a1' } },
      'task-03-a1': { ...plain['task-02-a1'], match: { system: 'worktrees/task-03-a1' } },
    },
  };
}
