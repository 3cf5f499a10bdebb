import type { ScenarioFile, ScriptedTurn } from '../../src/model-server/scenario.js';
import { type AttemptPlan, type FaultPlan, type RunPlan, STALL_SUPPORTED, type TaskPlan } from './plan.js';

/**
 * The repository a run works on, its task files and the scripted model's turns.
 *
 * The repository is a tiny library with a real check: `node test.js [fN...]` loads every
 * `src/f<N>.js` there is (and the ones named) and checks `f<N>(3) === 3 * N + 1`. Task N asks
 * for `f<N>`; its Test plan names it, so an attempt that did not write it fails.
 *
 * Each attempt's script: turn 0 writes src/fN.js with the editor tool (wrong on purpose when
 * `buggyFirst`) and runs a bash call; turn 1 is a bash call writing notes/fN.md (sometimes slow);
 * turn 2 calls task_complete. Then come "repair" turns, each doing the whole job again, correct
 * and idempotent, then task_complete: they answer the check gate's "fix it" message, and they make
 * the script robust to answers lost with a killed agent (the scripted server hands out turns in
 * arrival order, so a lost answer means the next request gets the next turn).
 *
 * Every bash call first appends `tool <attempt> <turn>` to an effects log (outside the repository
 * in local mode), so the harness can count how often each tool call really ran.
 */

/** Repair turns after the three real ones: more than kills and check rounds can use up. */
const REPAIR_TURNS = 6;

/** Consecutive error answers of a model-exhaust fault: more than the agent's attempts per request. */
export const EXHAUST_TURNS = 6;

export const TEST_JS = `// The repository's check: node test.js [fN ...]
const fs = require('node:fs');
const path = require('node:path');
const wanted = process.argv.slice(2);
const present = fs.readdirSync(path.join(__dirname, 'src'))
  .filter((f) => /^f\\d+\\.js$/.test(f))
  .map((f) => f.slice(0, -3));
let failed = 0;
for (const name of new Set([...wanted, ...present])) {
  const n = Number(name.slice(1));
  let fn;
  try {
    fn = require(path.join(__dirname, 'src', name + '.js'))[name];
  } catch (error) {
    console.log('FAIL ' + name + ': ' + error.message.split('\\n')[0]);
    failed++;
    continue;
  }
  const got = typeof fn === 'function' ? fn(3) : fn;
  if (got === 3 * n + 1) console.log('ok ' + name);
  else {
    console.log('FAIL ' + name + '(3) = ' + got + ', want ' + (3 * n + 1));
    failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
`;

export const REPO_FILES: Record<string, string> = {
  'README.md': '# chaos\n\nA tiny library the chaos harness lets scripted agents extend.\n',
  'test.js': TEST_JS,
  'src/base.js': 'exports.base = 1;\n',
};

export function featureSource(feature: number, buggy: boolean, variant = ''): string {
  const body = buggy ? `x * ${feature}` : `x * ${feature} + 1`;
  return `// f${feature}${variant ? ` (${variant})` : ''}\nexports.f${feature} = (x) => ${body};\n`;
}

export function taskText(task: TaskPlan): string {
  const front: string[] = [];
  if (task.strategy === 'best-of-n') front.push('strategy: best-of-n', 'n: 3');
  if (task.dependsOn) front.push(`dependsOn: [${task.dependsOn}]`);
  const head = front.length ? `---\n${front.join('\n')}\n---\n` : '';
  const f = `f${task.feature}`;
  return `${head}# Add ${f}

## Goal
Add \`${f}(x)\` returning \`x * ${task.feature} + 1\` in src/${f}.js, and a note in notes/${f}.md.

## Acceptance criteria
- [ ] \`node test.js ${f}\` passes

## Test plan
1. Run \`node test.js ${f}\`
`;
}

/** The check the task's Test plan adds to the config's (`node test.js`). */
export function taskCheck(task: TaskPlan): string[] {
  return ['node', 'test.js', `f${task.feature}`];
}

function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Where a bash call logs that it ran: an absolute path (local) or the run dir (Docker). */
export type EffectsTarget = { kind: 'file'; path: string } | { kind: 'run-dir' };

export const EFFECTS_FILE_IN_RUN_DIR = 'chaos-effects.log';

export function effectLine(attempt: string, turn: number): string {
  return `tool ${attempt} ${turn}`;
}

function effect(target: EffectsTarget, attempt: string, turn: number): string {
  const dest = target.kind === 'file' ? sq(target.path) : `"$ORCHESTRA_RUN_DIR/${EFFECTS_FILE_IN_RUN_DIR}"`;
  return `echo ${sq(effectLine(attempt, turn))} >> ${dest}`;
}

const create = (path: string, text: string) => ({
  name: 'str_replace_based_edit_tool',
  input: { command: 'create', path, file_text: text },
});
const bash = (command: string) => ({ name: 'bash', input: { command } });
const complete = (summary: string) => ({ name: 'task_complete', input: { summary } });

/** The model-fault turns for one fault (answered instead of the next real turn). */
function faultTurns(f: FaultPlan): ScriptedTurn[] {
  switch (f.kind) {
    case 'model-500':
      return [{ error: { status: 500, type: 'api_error', message: 'chaos: internal server error' } }];
    case 'model-529':
      return [{ error: { status: 529, type: 'overloaded_error', message: 'chaos: overloaded' } }];
    case 'model-stream-error':
      return [
        {
          text: ['Let me ', 'think about ', 'this…'],
          streamError: { afterEvents: 3, type: 'overloaded_error', message: 'chaos: stream broke off' },
        },
      ];
    case 'model-hang':
      return [{ hangMs: f.ms ?? 3000 }];
    case 'model-stall':
      // Only planned when the schema has it (STALL_SUPPORTED); the field is the other engineer's.
      return STALL_SUPPORTED
        ? [
            {
              text: ['Stalling ', 'mid ', 'answer ', 'now'],
              stallAfterEvents: { afterEvents: 3, ms: f.ms ?? 3000 },
            } as unknown as ScriptedTurn,
          ]
        : [];
    case 'model-exhaust':
      return Array.from({ length: EXHAUST_TURNS }, (_, i) =>
        i % 2 === 0
          ? { error: { status: 529, type: 'overloaded_error', message: 'chaos: overloaded (exhaust)' } }
          : { error: { status: 500, type: 'api_error', message: 'chaos: internal error (exhaust)' } },
      );
    default:
      return [];
  }
}

/** Where each model fault's turns ended up in its attempt's scenario: fault id → turn indexes. */
export type FaultTurnIndex = Map<number, number[]>;

function attemptTurns(
  a: AttemptPlan,
  faults: FaultPlan[],
  target: EffectsTarget,
  index: FaultTurnIndex,
): ScriptedTurn[] {
  const f = a.feature;
  const pace = { delayMs: a.thinkMs, chunkDelayMs: 2 };
  const file = `src/f${f}.js`;
  const notes = (turn: number, sleepMs = 0) =>
    `${effect(target, a.attempt, turn)}; mkdir -p notes && echo ${sq(`f${f}: added by ${a.attempt}`)} > notes/f${f}.md${
      sleepMs ? `; sleep ${(sleepMs / 1000).toFixed(1)}` : ''
    }`;
  const real: Array<(turn: number) => ScriptedTurn> = [
    (turn) => ({
      ...pace,
      text: `Writing f${f}. `,
      toolUses: [
        create(file, featureSource(f, a.buggyFirst, a.attempt)),
        bash(effect(target, a.attempt, turn)),
      ],
    }),
    (turn) => ({ ...pace, text: 'Adding the note. ', toolUses: [bash(notes(turn, a.slowToolMs))] }),
    () => ({ ...pace, toolUses: [complete(`Added f${f}.`)] }),
  ];
  for (let r = 0; r < REPAIR_TURNS; r++) {
    real.push((turn) => ({
      ...pace,
      text: 'Making sure the whole change is in place. ',
      toolUses: [
        create(file, featureSource(f, false, `${a.attempt} repair`)),
        bash(notes(turn)),
        complete(`Added f${f} (checked again).`),
      ],
    }));
  }
  const turns: ScriptedTurn[] = [];
  real.forEach((make, k) => {
    for (const fault of faults.filter((x) => x.attempt === a.attempt && x.beforeTurn === k)) {
      const extra = faultTurns(fault);
      if (extra.length === 0) continue;
      index.set(
        fault.id,
        extra.map((_, i) => turns.length + i),
      );
      turns.push(...extra);
    }
    turns.push(make(turns.length));
  });
  return turns;
}

/** Non-empty subsets of size ≥ 2 of `ids`, largest first. */
function subsets(ids: string[]): string[][] {
  const out: string[][] = [];
  for (let mask = 1; mask < 1 << ids.length; mask++) {
    const s = ids.filter((_, i) => mask & (1 << i));
    if (s.length >= 2) out.push(s);
  }
  return out.sort((a, b) => b.length - a.length);
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The judge of a best-of-n task sees only the attempts that passed, which the script cannot know
 * in advance: one judge scenario per possible set, routed by the prompt's attempt headings.
 */
function judgeScenarios(task: TaskPlan): ScenarioFile['scenarios'] {
  const out: ScenarioFile['scenarios'] = {};
  for (const set of subsets(task.attempts)) {
    const user = `# Attempts \\(${set.length}\\)${set.map((id) => `[\\s\\S]*## Attempt ${escapeRe(id)}\\n`).join('')}`;
    const turn: ScriptedTurn = {
      toolUses: [
        {
          name: 'submit_scores',
          input: {
            scores: set.map((id, i) => ({
              attempt: id,
              score: 9 - i,
              reasons: `chaos judge: rank ${i + 1}`,
            })),
          },
        },
      ],
    };
    out[`judge ${set.join(',')}`] = {
      match: { system: 'You judge competing solutions', user },
      turns: Array.from({ length: 6 }, () => turn),
    };
  }
  return out;
}

export function scenarioFile(
  plan: RunPlan,
  target: EffectsTarget,
): { file: ScenarioFile; index: FaultTurnIndex } {
  const index: FaultTurnIndex = new Map();
  const scenarios: ScenarioFile['scenarios'] = {};
  for (const task of plan.tasks) {
    if (task.strategy === 'best-of-n') Object.assign(scenarios, judgeScenarios(task));
  }
  for (const a of plan.attempts) {
    scenarios[a.attempt] = {
      match: { system: `worktrees/${escapeRe(a.attempt)}\\b` },
      turns: attemptTurns(a, plan.faults, target, index),
    };
  }
  return { file: { scenarios }, index };
}
