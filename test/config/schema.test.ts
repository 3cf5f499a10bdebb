import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import { isOrchestraError } from '../../src/common/errors.js';
import { BUILTIN_AGENTS, BUILTIN_PROFILES } from '../../src/config/builtins.js';
import { ConfigError } from '../../src/config/config-error.js';
import { DEFAULT_KEY_BINDINGS, KEY_ACTIONS } from '../../src/config/key-bindings.js';
import { validateConfig } from '../../src/config/load.js';
import { configSchema, defaultConfig } from '../../src/config/schema.js';
import { descriptionOf, objectShape, recordValue } from '../../src/config/schema-walk.js';

/** The problems `validateConfig` reports for `raw`; fails the test when it validates. */
function problemsOf(raw: unknown, file = 'orchestra.json'): string[] {
  try {
    validateConfig(raw, file);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(isOrchestraError(error, 'CONFIG_INVALID'));
    assert.equal(error.message, error.problems[0]);
    assert.match(error.hint ?? '', /orchestra config validate/);
    return error.problems;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be refused`);
}

describe('defaults', () => {
  test('an empty config has every documented default', () => {
    const config = defaultConfig();
    assert.equal(config.baseBranch, 'main');
    assert.equal(config.sessionName, undefined);
    assert.deepEqual(config.setup, []);
    assert.deepEqual(config.check, []);
    assert.equal(config.stopOnFirstFailure, true);
    assert.equal(config.maxParallel, 2);
    assert.equal(config.maxAttempts, 2);
    assert.equal(config.autoMerge, false);
    assert.equal(config.sandbox, 'auto');
    assert.deepEqual(config.worker, {
      image: 'orchestra-worker:latest',
      cpus: 2,
      memoryMb: 4096,
      pids: 512,
      network: 'model-only',
      packageCache: true,
    });
    assert.equal(config.defaultAgent, 'orchestra');
    assert.equal(config.theme, 'default');
    assert.equal(config.scrollback, 10_000);
    assert.deepEqual(config.budget, {});
    assert.deepEqual(config.autonomy, {
      enabled: false,
      idleMinutes: 30,
      cooldownMinutes: 5,
      maxTasksPerCycle: 3,
      stopOnFirstFailure: true,
      planner: 'architect',
      executor: 'coder',
      selfImprove: { enabled: false, everyCycles: 3 },
    });
    assert.equal(config.keys.prefix, undefined);
    assert.deepEqual(config.keys.bindings, DEFAULT_KEY_BINDINGS);
  });

  test('built-in agents and profiles exist, with coder read-write and the others read-only', () => {
    const config = defaultConfig();
    assert.deepEqual(Object.keys(config.agents).sort(), ['aider', 'claude', 'codex', 'orchestra', 'shell']);
    assert.equal(config.agents.orchestra?.profile, 'coder');
    assert.equal(config.agents.claude?.type, 'claude');
    assert.deepEqual(config.agents.shell?.args, []);
    assert.deepEqual(config.profiles.coder, {
      model: 'claude-sonnet-4-6',
      tools: ['bash', 'editor', 'task_complete'],
      readOnly: false,
      maxTurns: 50,
      budgetUsd: 5,
      maxTokens: 16384,
      report: false,
      images: false,
    });
    assert.deepEqual(Object.keys(config.profiles).sort(), [
      'architect',
      'coder',
      'docs',
      'memory',
      'research',
      'reviewer',
      'vision',
    ]);
    for (const name of ['architect', 'reviewer', 'research', 'memory']) {
      assert.equal(config.profiles[name]?.readOnly, true, name);
    }
    assert.equal(config.profiles.research?.report, true);
    assert.deepEqual(config.profiles.docs?.editable, [
      '**/*.md',
      '**/*.mdx',
      '**/*.rst',
      '**/*.txt',
      'docs/**',
    ]);
    assert.equal(config.profiles.docs?.readOnly, false);
    assert.equal(config.profiles.vision?.images, true);
    assert.equal(config.profiles.vision?.readOnly, false);
  });

  test('defaultConfig returns a fresh object each time', () => {
    const a = defaultConfig();
    a.setup.push('npm ci');
    a.agents.claude!.args.push('--x');
    assert.deepEqual(defaultConfig().setup, []);
    assert.deepEqual(defaultConfig().agents.claude?.args, []);
    assert.deepEqual(BUILTIN_AGENTS.claude, { type: 'claude' });
  });

  test('every key of every object in the schema has a description', () => {
    const missing: string[] = [];
    let seen = 0;
    const visit = (schema: z.core.$ZodType, path: string) => {
      const shape = objectShape(schema);
      if (shape !== undefined) {
        for (const [key, field] of Object.entries(shape)) {
          seen++;
          if (!descriptionOf(field)) missing.push(`${path}${key}`);
          visit(field, `${path}${key}.`);
        }
      }
      const value = recordValue(schema);
      if (value !== undefined) visit(value, `${path}*.`);
    };
    visit(configSchema, '');
    assert.deepEqual(missing, []);
    // The walk must reach into worker, agents.*, profiles.*, keys, budget and autonomy.
    assert.ok(seen > 45, `only ${seen} keys visited`);
  });
});

describe('wrong types', () => {
  test('a top-level wrong type names the key, what was expected and what was received', () => {
    assert.deepEqual(problemsOf({ maxParallel: '4' }), [
      'orchestra.json: maxParallel: expected number, received string',
    ]);
  });

  test('a nested wrong type names its dotted path', () => {
    const problems = problemsOf({ worker: { memoryMb: 'lots' } });
    assert.deepEqual(problems, ['orchestra.json: worker.memoryMb: expected number, received string']);
    assert.deepEqual(problemsOf({ worker: { memoryMb: 1.5 } }), [
      'orchestra.json: worker.memoryMb: expected integer, received 1.5',
    ]);
  });

  test('a wrong type inside a record entry names the entry', () => {
    assert.deepEqual(problemsOf({ profiles: { coder: { maxTurns: 'many' } } }), [
      'orchestra.json: profiles.coder.maxTurns: expected number, received string',
    ]);
    assert.deepEqual(problemsOf({ agents: { mine: { type: 'shell', args: ['ok', 3] } } }), [
      'orchestra.json: agents.mine.args[1]: expected string, received number',
    ]);
  });

  test('limits and enums say what is allowed', () => {
    assert.deepEqual(problemsOf({ maxParallel: 0 }), [
      'orchestra.json: maxParallel: expected a number >= 1, received 0',
    ]);
    assert.deepEqual(problemsOf({ maxParallel: 65 }), [
      'orchestra.json: maxParallel: expected a number <= 64, received 65',
    ]);
    assert.deepEqual(problemsOf({ worker: { cpus: 0 } }), [
      'orchestra.json: worker.cpus: expected a number > 0, received 0',
    ]);
    assert.deepEqual(problemsOf({ sandbox: 'dokcer' }), [
      'orchestra.json: sandbox: expected one of "auto", "docker", "local", received "dokcer" (did you mean "docker"?)',
    ]);
    assert.deepEqual(problemsOf({ setup: [''] }), [
      'orchestra.json: setup[0]: expected a non-empty string, received ""',
    ]);
  });

  test('every problem is listed, one line each, in file order', () => {
    const problems = problemsOf({ baseBranch: 3, worker: { pids: 'x' }, theme: false });
    assert.deepEqual(problems, [
      'orchestra.json: baseBranch: expected string, received number',
      'orchestra.json: worker.pids: expected number, received string',
      'orchestra.json: theme: expected string, received boolean',
    ]);
    for (const problem of problems) assert.doesNotMatch(problem, /\n/);
  });

  test('a file that is not an object is refused without a path', () => {
    assert.deepEqual(problemsOf([]), ['orchestra.json: expected object, received array']);
    assert.deepEqual(problemsOf({ agents: 'claude' }), [
      'orchestra.json: agents: expected object, received string',
    ]);
    assert.deepEqual(problemsOf({ keys: { bindings: null } }), [
      'orchestra.json: keys.bindings: expected object, received null',
    ]);
  });

  test('the file name given is the one reported', () => {
    assert.match(
      problemsOf({ maxParallel: '4' }, '~/.config/orchestra/config.json')[0]!,
      /^~\/\.config\/orchestra\/config\.json: /,
    );
  });
});

describe('unknown keys', () => {
  test('an unknown top-level key is refused with a suggestion', () => {
    assert.deepEqual(problemsOf({ maxParalel: 3 }), [
      'orchestra.json: maxParalel: unknown key (did you mean "maxParallel"?)',
    ]);
  });

  test('an unknown nested key is refused with its path', () => {
    assert.deepEqual(problemsOf({ worker: { memory: 1024 } }), [
      'orchestra.json: worker.memory: unknown key (did you mean "memoryMb"?)',
    ]);
    const [problem] = problemsOf({ profiles: { coder: { temperature: 0.2 } } });
    assert.match(problem!, /^orchestra\.json: profiles\.coder\.temperature: unknown key \(known: model, /);
  });

  test('several unknown keys give one problem each', () => {
    assert.deepEqual(problemsOf({ budget: { perDay: 1, perTask: 2 } }).length, 2);
  });
});

describe('agents and profiles', () => {
  test('adding an agent keeps the built-ins', () => {
    const config = validateConfig(
      { agents: { mine: { type: 'custom', command: 'my-agent --task {task_file} --out {run_dir}' } } },
      'orchestra.json',
    );
    assert.deepEqual(Object.keys(config.agents).sort(), [
      'aider',
      'claude',
      'codex',
      'mine',
      'orchestra',
      'shell',
    ]);
    assert.equal(config.agents.mine?.command, 'my-agent --task {task_file} --out {run_dir}');
  });

  test('a partial entry changes only what it names', () => {
    const config = validateConfig(
      {
        profiles: { architect: { model: 'claude-opus-4-1' } },
        agents: { orchestra: { args: ['--verbose'] } },
      },
      'orchestra.json',
    );
    assert.equal(config.profiles.architect?.model, 'claude-opus-4-1');
    assert.equal(config.profiles.architect?.readOnly, BUILTIN_PROFILES.architect?.readOnly);
    assert.equal(config.profiles.architect?.systemPrompt, BUILTIN_PROFILES.architect?.systemPrompt);
    assert.deepEqual(config.agents.orchestra, {
      type: 'orchestra',
      profile: 'coder',
      args: ['--verbose'],
      env: {},
    });
  });

  test('an entry with another type replaces the built-in instead of mixing with it', () => {
    const config = validateConfig({ agents: { orchestra: { type: 'shell' } } }, 'orchestra.json');
    assert.deepEqual(config.agents.orchestra, { type: 'shell', args: [], env: {} });
  });

  test('defaultAgent must name an agent', () => {
    const problems = problemsOf({ defaultAgent: 'gpt' });
    assert.deepEqual(problems, [
      'orchestra.json: defaultAgent: "gpt" names no agent; agents: aider, claude, codex, orchestra, shell',
    ]);
    const config = validateConfig(
      { defaultAgent: 'mine', agents: { mine: { type: 'shell' } } },
      'orchestra.json',
    );
    assert.equal(config.defaultAgent, 'mine');
  });

  test("an agent's profile must exist", () => {
    assert.deepEqual(problemsOf({ agents: { orchestra: { profile: 'nobody' } } }), [
      'orchestra.json: agents.orchestra.profile: "nobody" names no profile; profiles: architect, coder, docs, memory, research, reviewer, vision',
    ]);
  });

  test('"editable" takes worktree-relative globs and refuses a bad one with the reason', () => {
    const config = validateConfig(
      { profiles: { site: { editable: ['site/**', '**/*.{md,html}'] }, docs: { editable: ['docs/**'] } } },
      'orchestra.json',
    );
    assert.deepEqual(config.profiles.site?.editable, ['site/**', '**/*.{md,html}']);
    assert.deepEqual(config.profiles.docs?.editable, ['docs/**'], 'the list replaces the built-in one');
    assert.deepEqual(problemsOf({ profiles: { site: { editable: ['site/**', 'src/[ab].ts'] } } }), [
      'orchestra.json: profiles.site.editable[1]: bad glob "src/[ab].ts": character classes "[...]" are not supported; list alternatives with {a,b}',
    ]);
    assert.deepEqual(problemsOf({ profiles: { site: { editable: ['/etc/**'] } } }), [
      'orchestra.json: profiles.site.editable[0]: bad glob "/etc/**": it is absolute; patterns are relative to the worktree, e.g. "docs/**"',
    ]);
    assert.deepEqual(problemsOf({ profiles: { docs: { readOnly: true } } }), [
      'orchestra.json: profiles.docs.editable: contradicts "readOnly": true; drop one of them',
    ]);
  });

  test('a custom agent needs a command, and its placeholders must be known', () => {
    assert.match(
      problemsOf({ agents: { mine: { type: 'custom' } } })[0]!,
      /^orchestra\.json: agents\.mine\.command: required/,
    );
    // `${HOME}` is shell expansion, not a placeholder, and must not be reported.
    const command = `run {task} in $${'{HOME}'}`;
    assert.deepEqual(problemsOf({ agents: { mine: { type: 'custom', command } } }), [
      'orchestra.json: agents.mine.command: unknown placeholder {task}; known: {task_file}, {prompt}, {run_dir}',
    ]);
  });

  test('a new agent without a type is refused with the choices', () => {
    assert.match(
      problemsOf({ agents: { mine: {} } })[0]!,
      /^orchestra\.json: agents\.mine\.type: missing, expected one of "orchestra"/,
    );
  });

  test('names and env variable names are checked', () => {
    assert.match(
      problemsOf({ agents: { 'my agent': { type: 'shell' } } })[0]!,
      /agents\["my agent"\]: invalid key: /,
    );
    assert.match(
      problemsOf({ agents: { shell: { env: { 'BAD-NAME': 'x' } } } })[0]!,
      /agents\.shell\.env\.BAD-NAME: invalid key/,
    );
  });
});

describe('keys', () => {
  test('user bindings merge over the defaults', () => {
    const config = validateConfig(
      { keys: { prefix: 'C-a', bindings: { g: 'task-board', x: 'none' } } },
      'orchestra.json',
    );
    assert.equal(config.keys.prefix, 'C-a');
    assert.equal(config.keys.bindings.g, 'task-board');
    assert.equal(config.keys.bindings.x, 'none');
    assert.equal(config.keys.bindings.o, 'next-pane');
  });

  test('actions are checked against KEY_ACTIONS and key names against tmux syntax', () => {
    assert.ok(KEY_ACTIONS.includes('select-pane-9'));
    const [action] = problemsOf({ keys: { bindings: { g: 'focus-lft' } } });
    assert.match(
      action!,
      /^orchestra\.json: keys\.bindings\.g: expected one of .*received "focus-lft" \(did you mean "focus-left"\?\)$/,
    );
    assert.match(
      problemsOf({ keys: { prefix: 'Ctrl+B' } })[0]!,
      /^orchestra\.json: keys\.prefix: expected a tmux key name/,
    );
    assert.match(
      problemsOf({ keys: { bindings: { 'Ctrl+G': 'zoom' } } })[0]!,
      /keys\.bindings\["Ctrl\+G"\]: invalid key/,
    );
  });
});

describe('other cross-field rules', () => {
  test('autonomy takes fractions of a minute, and its planner and executor must be profiles', () => {
    const config = validateConfig({ autonomy: { idleMinutes: 0.02, cooldownMinutes: 0.5 } }, 'f');
    assert.deepEqual([config.autonomy.idleMinutes, config.autonomy.cooldownMinutes], [0.02, 0.5]);
    assert.deepEqual(problemsOf({ autonomy: { planner: 'planer' } }), [
      'orchestra.json: autonomy.planner: "planer" names no profile; profiles: architect, coder, docs, memory, research, reviewer, vision',
    ]);
    assert.match(
      problemsOf({ autonomy: { idleMinutes: -1 } })[0]!,
      /^orchestra\.json: autonomy\.idleMinutes: /,
    );
  });

  test('autonomy needs a daily budget when enabled', () => {
    assert.deepEqual(problemsOf({ autonomy: { enabled: true } }), [
      'orchestra.json: autonomy.budgetUsdPerDay: required when autonomy.enabled is true, so unattended work has a daily spending cap',
    ]);
    assert.equal(
      validateConfig({ autonomy: { enabled: true, budgetUsdPerDay: 3 } }, 'f').autonomy.enabled,
      true,
    );
  });

  test('session names must be usable as socket file names', () => {
    assert.match(
      problemsOf({ sessionName: '../x' })[0]!,
      /^orchestra\.json: sessionName: expected a session name/,
    );
    assert.equal(validateConfig({ sessionName: 'my-repo.2' }, 'f').sessionName, 'my-repo.2');
  });
});
