import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { codeSpan, firstCodeSpan, listItems, parseHeading } from '../../src/tasks/markdown.js';
import {
  decodeTaskFile,
  MAX_TASK_FILE_BYTES,
  type NewTask,
  parseTaskFile,
  renderTaskFile,
} from '../../src/tasks/task-file.js';

const FULL = `---
strategy: best-of-n    # optional
n: 4
agent: orchestra
profile: fast
maxAttempts: 2
budgetUsd: 2.50
dependsOn: [task-01, 2]
rounds: 3
---
# task-03: Add periodic cleanup for idle sessions

## Goal
Sessions idle for an hour are closed.

They free their worktrees.

## Before
Idle sessions live forever.

## After
A sweep runs every minute.

## Acceptance criteria
- [ ] idle sessions are closed
- [x] the sweep is
  configurable
- plain items are unchecked criteria
* [X] star bullets work too

## Files to touch
- \`src/core/runtime.ts\`
- \`src/core/sweep.ts\` (new)
- docs/sweep.md

## Test plan
1. Run \`npm test\`
2. Check the log by hand
3. Run \`\` grep -c \`idle\` log \`\`
- Run \`node --test test/sweep.test.ts\` then look

\`\`\`sh
## this is shell output, not a heading
- not an item
\`\`\`

## Notes
Keep it small.
`;

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isOrchestraError(error, 'TASK_INVALID'), `expected TASK_INVALID, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected TASK_INVALID, nothing was thrown');
}

describe('parseTaskFile', () => {
  test('reads every section and front-matter key', () => {
    const task = parseTaskFile(FULL, { id: 'task-03' });
    assert.equal(task.id, 'task-03');
    assert.equal(task.number, 3);
    assert.equal(task.title, 'Add periodic cleanup for idle sessions');
    assert.deepEqual(task.meta, {
      strategy: 'best-of-n',
      n: 4,
      agent: 'orchestra',
      profile: 'fast',
      maxAttempts: 2,
      budgetUsd: 2.5,
      dependsOn: ['task-01', 'task-02'],
      rounds: 3,
    });
    assert.equal(task.goal, 'Sessions idle for an hour are closed.\n\nThey free their worktrees.');
    assert.equal(task.before, 'Idle sessions live forever.');
    assert.equal(task.after, 'A sweep runs every minute.');
    assert.deepEqual(task.acceptance, [
      { text: 'idle sessions are closed', done: false },
      { text: 'the sweep is configurable', done: true },
      { text: 'plain items are unchecked criteria', done: false },
      { text: 'star bullets work too', done: true },
    ]);
    assert.deepEqual(task.files, ['src/core/runtime.ts', 'src/core/sweep.ts', 'docs/sweep.md']);
    assert.deepEqual(task.testPlan, ['npm test', 'grep -c `idle` log', 'node --test test/sweep.test.ts']);
    assert.deepEqual(task.testPlanText, ['Check the log by hand']);
    assert.equal(task.sections.notes, 'Keep it small.');
    assert.match(task.sections['test plan']!, /## this is shell output, not a heading/);
    assert.equal(task.raw, FULL);
  });

  test('headings match case-insensitively and tolerate extra spaces, colons and closing hashes', () => {
    const text = [
      '#   Title here  ',
      '##   GOAL  ',
      'do it',
      '## acceptance    CRITERIA:',
      '- [ ] a',
      '##  Files To Touch ##',
      '- `x.ts`',
      '## test PLAN',
      '1. `make check`',
      '## BEFORE',
      'b',
    ].join('\r\n');
    const task = parseTaskFile(text, { id: 'task-7' });
    assert.equal(task.title, 'Title here');
    assert.equal(task.goal, 'do it');
    assert.deepEqual(task.acceptance, [{ text: 'a', done: false }]);
    assert.deepEqual(task.files, ['x.ts']);
    assert.deepEqual(task.testPlan, ['make check']);
    assert.equal(task.before, 'b');
    assert.deepEqual(Object.keys(task.sections), [
      'goal',
      'acceptance criteria',
      'files to touch',
      'test plan',
      'before',
    ]);
  });

  test('defaults: single strategy, one attempt; best-of-n without n runs three', () => {
    const plain = parseTaskFile('## Goal\nx', { id: 'task-01' });
    assert.deepEqual(plain.meta, { strategy: 'single', n: 1, dependsOn: [] });
    const best = parseTaskFile('---\nstrategy: best-of-n\n---\n## Goal\nx', { id: 'task-01' });
    assert.equal(best.meta.n, 3);
    const custom = parseTaskFile('---\nstrategy: my_strategy-2\ndependsOn: task-09\n---\n## Goal\nx', {
      id: 'task-01',
    });
    assert.equal(custom.meta.strategy, 'my_strategy-2');
    assert.deepEqual(custom.meta.dependsOn, ['task-09']);
  });

  test('title falls back to front-matter title, then the first line of the goal', () => {
    assert.equal(
      parseTaskFile('---\ntitle: From meta\n---\n## Goal\nx', { id: 'task-01' }).title,
      'From meta',
    );
    assert.equal(
      parseTaskFile('# task-01:\n## Goal\n\n  First line\nsecond', { id: 'task-01' }).title,
      'First line',
    );
    assert.equal(
      parseTaskFile('---\ntitle: meta\n---\n# Heading wins\n## Goal\nx', { id: 'task-01' }).title,
      'Heading wins',
    );
  });

  test('a heading inside a code fence neither starts a section nor sets the title', () => {
    const task = parseTaskFile('## Goal\n```md\n# Not a title\n## Not a section\n```\nend', {
      id: 'task-01',
    });
    assert.equal(task.goal, '```md\n# Not a title\n## Not a section\n```\nend');
    assert.equal(task.title, '```md');
    assert.deepEqual(Object.keys(task.sections), ['goal']);
  });

  test('YAML null values count as absent; leading blank lines before front matter are allowed', () => {
    const task = parseTaskFile('\n\n---\nagent:\nn: 2\n---\n## Goal\nx', { id: 'task-01' });
    assert.equal(task.meta.agent, undefined);
    assert.equal(task.meta.n, 2);
  });

  test('refuses malformed files with one-line reasons', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /file is empty/],
      ['  \n\n', /file is empty/],
      ['---\nn: [1, 2\n---\n## Goal\nx', /front matter is not valid YAML: .*at line \d+/],
      ['---\nn: 1\nn: 2\n---\n## Goal\nx', /not valid YAML: Map keys must be unique/],
      ['---\nn: 1\n## Goal\nx', /front matter is not closed/],
      ['---\nfoo: 1\n---\n## Goal\nx', /unknown key "foo"/],
      [
        '---\nmax_attempts: 2\n---\n## Goal\nx',
        /unknown key "max_attempts" \(did you mean "maxAttempts"\?\)/,
      ],
      ['---\nn: "3"\n---\n## Goal\nx', /"n" must be an integer from 1 to 16, got "3"/],
      ['---\nn: 17\n---\n## Goal\nx', /"n" must be an integer from 1 to 16, got 17/],
      ['---\nn: 0\n---\n## Goal\nx', /"n" must be/],
      ['---\nn: 1.5\n---\n## Goal\nx', /"n" must be/],
      ['---\nmaxAttempts: 0\n---\n## Goal\nx', /"maxAttempts" must be/],
      ['---\nbudgetUsd: -1\n---\n## Goal\nx', /"budgetUsd" must be/],
      ['---\nbudgetUsd: .inf\n---\n## Goal\nx', /"budgetUsd" must be/],
      ['---\nrounds: 0\n---\n## Goal\nx', /"rounds" must be/],
      ['---\nstrategy: "best of n"\n---\n## Goal\nx', /"strategy" must be/],
      ['---\nagent: [a]\n---\n## Goal\nx', /"agent" must be/],
      ['---\nprofile: 7\n---\n## Goal\nx', /"profile" must be/],
      ['---\ntitle: ""\n---\n## Goal\nx', /"title" must be/],
      ['---\ndependsOn: [task-x]\n---\n## Goal\nx', /"dependsOn" must be/],
      ['---\ndependsOn: 3\n---\n## Goal\nx', /"dependsOn" names the task itself/],
      ['---\n- a\n- b\n---\n## Goal\nx', /front matter must be a YAML mapping/],
      ['---js\n{ n: 1 }\n---\n## Goal\nx', /front matter language "js" is not supported/],
      ['# Title\n\nno goal here', /"## Goal" section is missing/],
      ['## Goal\n\n   \n## After\nx', /"## Goal" section is empty/],
      ['## Goal\na\n## goal\nb', /"## goal" section appears twice/],
      ['## Goal\nx\0y', /binary/],
      [`## Goal\n${'x'.repeat(MAX_TASK_FILE_BYTES)}`, /over the 256 KiB limit/],
    ];
    for (const [text, expected] of cases) {
      const message = reason(() => parseTaskFile(text, { id: 'task-03' }));
      assert.match(message, expected, `for ${JSON.stringify(text.slice(0, 40))}`);
      assert.ok(!message.includes('\n'), `reason is one line: ${message}`);
      assert.ok(message.startsWith('task-03: '), message);
    }
  });

  test('refuses an id that is not task-NN', () => {
    assert.match(
      reason(() => parseTaskFile('## Goal\nx', { id: 'notes' })),
      /"notes" is not a task id/,
    );
  });

  test('never evaluates JavaScript front matter', () => {
    const marker = '__orchestra_eval_marker__';
    const text = `---javascript\n{ n: (globalThis.${marker} = 1) }\n---\n## Goal\nx`;
    reason(() => parseTaskFile(text, { id: 'task-01' }));
    assert.equal((globalThis as Record<string, unknown>)[marker], undefined);
  });
});

describe('decodeTaskFile', () => {
  test('refuses empty, NUL-bearing, invalid UTF-8 and oversized bytes; strips a BOM', () => {
    assert.match(
      reason(() => decodeTaskFile(new Uint8Array(0))),
      /empty/,
    );
    assert.match(
      reason(() => decodeTaskFile(Buffer.from('## Goal\n\0x'))),
      /NUL/,
    );
    assert.match(
      reason(() => decodeTaskFile(Buffer.from([0x23, 0x20, 0xc3, 0x28]))),
      /not valid UTF-8/,
    );
    assert.match(
      reason(() => decodeTaskFile(Buffer.alloc(MAX_TASK_FILE_BYTES + 1, 0x61))),
      /257 KiB/,
    );
    assert.equal(decodeTaskFile(Buffer.from('\uFEFF## Goal\nü')), '## Goal\nü');
    assert.equal(decodeTaskFile(Buffer.alloc(MAX_TASK_FILE_BYTES, 0x61)).length, MAX_TASK_FILE_BYTES);
  });
});

describe('renderTaskFile', () => {
  const roundTrip = (input: NewTask, id: string) => {
    const text = renderTaskFile(input, id);
    return { text, task: parseTaskFile(text, { id }) };
  };

  test('parse(render(x)) gives x back', () => {
    const input: NewTask = {
      title: 'Add periodic cleanup',
      goal: 'Close idle sessions.\n\n```sh\n## inside a fence\n```\n\n### A sub-heading is fine',
      before: 'Sessions live forever.',
      after: 'They do not.',
      accept: ['idle sessions close', 'a `config` key sets the period'],
      files: ['src/core/runtime.ts', 'odd `name`.ts'],
      testPlan: ['npm test', 'echo `date`', 'grep -c "| x" log'],
      strategy: 'best-of-n',
      n: 5,
      agent: 'claude',
      profile: 'fast',
      maxAttempts: 2,
      budgetUsd: 2.5,
      dependsOn: ['task-01', 'task-02'],
      rounds: 2,
    };
    const { text, task } = roundTrip(input, 'task-12');
    assert.match(text, /^---\nstrategy: best-of-n\nn: 5\n/);
    assert.match(text, /^# task-12: Add periodic cleanup$/m);
    assert.match(text, /^1\. Run `npm test`$/m);
    assert.equal(task.title, input.title);
    assert.equal(task.goal, input.goal);
    assert.equal(task.before, input.before);
    assert.equal(task.after, input.after);
    assert.deepEqual(
      task.acceptance,
      input.accept!.map((text) => ({ text, done: false })),
    );
    assert.deepEqual(task.files, input.files);
    assert.deepEqual(task.testPlan, input.testPlan);
    assert.deepEqual(task.meta, {
      strategy: 'best-of-n',
      n: 5,
      agent: 'claude',
      profile: 'fast',
      maxAttempts: 2,
      budgetUsd: 2.5,
      dependsOn: ['task-01', 'task-02'],
      rounds: 2,
    });
  });

  test('writes front matter only for the keys given, and none when none are', () => {
    const { text, task } = roundTrip({ title: 'Small', goal: 'Do the small thing.' }, 'task-01');
    assert.ok(text.startsWith('# task-01: Small\n\n## Goal\n\nDo the small thing.\n'), text);
    assert.ok(!text.includes('---'));
    assert.ok(!text.includes('## Acceptance'));
    assert.deepEqual(task.meta, { strategy: 'single', n: 1, dependsOn: [] });
    const withN = renderTaskFile({ title: 'x', goal: 'y', n: 2 });
    assert.ok(withN.startsWith('---\nn: 2\n---\n# x\n'), withN);
  });

  test('refuses input that would not read back as written', () => {
    assert.match(
      reason(() => renderTaskFile({ title: ' ', goal: 'x' })),
      /title is empty/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 'a\nb', goal: 'x' })),
      /title spans several lines/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: '\n \n' })),
      /goal is empty/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: 'a\n## Sneaky\nb' })),
      /contains a "## " heading/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: '```\nopen' })),
      /unclosed code fence/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: 'g', accept: ['ok', 'two\nlines'] })),
      /criterion 2/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: 'g', testPlan: [''] })),
      /test command 1 is empty/,
    );
    assert.match(
      reason(() => renderTaskFile({ title: 't', goal: 'g', n: 99 })),
      /"n" must be/,
    );
  });
});

describe('markdown helpers', () => {
  test('headings, list items and code spans', () => {
    assert.deepEqual(parseHeading('## Goal ##'), { level: 2, text: 'Goal' });
    assert.deepEqual(parseHeading('# Fix C#'), { level: 1, text: 'Fix C#' });
    assert.equal(parseHeading('##Goal'), undefined);
    assert.equal(parseHeading('    ## indented code'), undefined);
    assert.deepEqual(listItems('1. one\n2) two\n   more\n\nparagraph\n- three\n  - nested'), [
      'one',
      'two more',
      'three',
      'nested',
    ]);
    assert.equal(firstCodeSpan('Run `npm test` then `x`'), 'npm test');
    assert.equal(firstCodeSpan('no `closing'), undefined);
    assert.equal(firstCodeSpan('\\`escaped\\` and `real`'), 'real');
    for (const s of ['plain', 'a`b', '`edge`', 'x``y', ' spaced ']) {
      assert.equal(firstCodeSpan(`Run ${codeSpan(s)}.`), s);
    }
  });
});

describe('autonomy front matter (origin, cycle, proposal, kind)', () => {
  const withFront = (front: string) => `---\n${front}\n---\n# t\n\n## Goal\nDo it.\n`;
  const refusal = (front: string) => {
    try {
      parseTaskFile(withFront(front), { id: 'task-05' });
    } catch (error) {
      assert.ok(isOrchestraError(error, 'TASK_INVALID'), String(error));
      return error.message;
    }
    assert.fail(`accepted: ${front}`);
  };

  test('are parsed into the meta and written back by renderTaskFile', () => {
    const meta = parseTaskFile(withFront('origin: autonomy\ncycle: 3\nproposal: 2'), { id: 'task-05' }).meta;
    assert.equal(meta.origin, 'autonomy');
    assert.equal(meta.cycle, 3);
    assert.equal(meta.proposal, 2);
    assert.equal(meta.kind, undefined);
    const plan = parseTaskFile(withFront('kind: plan\norigin: autonomy\ncycle: 1\nprofile: architect'), {
      id: 'task-06',
    }).meta;
    assert.equal(plan.kind, 'plan');
    assert.equal(plan.profile, 'architect');

    const input: NewTask = {
      title: 'Plan',
      goal: 'Plan the next cycle.',
      origin: 'autonomy',
      cycle: 4,
      kind: 'plan',
    };
    const text = renderTaskFile(input, 'task-07');
    assert.match(text, /^---\norigin: autonomy\ncycle: 4\nkind: plan\n---\n/);
    const back = parseTaskFile(text, { id: 'task-07' }).meta;
    assert.deepEqual([back.origin, back.cycle, back.kind, back.proposal], ['autonomy', 4, 'plan', undefined]);
  });

  test("a person's task has none of them", () => {
    const meta = parseTaskFile(FULL, { id: 'task-03' }).meta;
    for (const key of ['origin', 'cycle', 'proposal', 'kind'] as const) assert.equal(key in meta, false, key);
    assert.doesNotMatch(renderTaskFile({ title: 't', goal: 'g' }, 'task-01'), /origin|cycle|kind|proposal/);
  });

  test('malformed values are refused naming the key and what it must be', () => {
    assert.match(refusal('origin: person'), /"origin" must be "autonomy".*got "person"/);
    assert.match(
      refusal('origin: autonomy\ncycle: 0'),
      /"cycle" must be an integer of at least 1 .*, got 0$/,
    );
    assert.match(refusal('origin: autonomy\ncycle: 1.5'), /"cycle" must be an integer/);
    assert.match(
      refusal('origin: autonomy\ncycle: 2\nproposal: -1'),
      /"proposal" must be an integer of at least 1/,
    );
    assert.match(refusal('kind: code'), /"kind" must be "plan"/);
    assert.match(refusal('cycle: 2'), /"cycle" is only for tasks the autonomy loop wrote/);
    assert.match(refusal('origin: autonomy\nproposal: 2'), /"proposal" needs the "cycle"/);
    assert.match(refusal('Cycle: 2'), /unknown key "Cycle" \(did you mean "cycle"\?\)/);
  });
});
