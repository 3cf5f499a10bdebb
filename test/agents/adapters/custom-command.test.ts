import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commandFromTemplate } from '../../../src/agents/adapters/command-template.js';
import { customAdapter } from '../../../src/agents/adapters/custom.js';
import { isOrchestraError } from '../../../src/common/errors.js';
import { LocalPtyProcess } from '../../../src/panes/local-pty.js';
import type { PaneExit } from '../../../src/panes/pane-process.js';
import { agentConfig, launchContext } from './helpers.js';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('command templates', () => {
  test('each placeholder stays inside its own word, whatever its value', () => {
    const values = {
      task_file: '/t/task 1.md',
      prompt: `a "b" 'c' $(d) \`e\` ; f | g\nh $& {run_dir}`,
      run_dir: '/r',
    };
    assert.deepEqual(commandFromTemplate('agent --task {task_file} "{prompt}" --out={run_dir}/x', values), [
      'agent',
      '--task',
      '/t/task 1.md',
      values.prompt,
      '--out=/r/x',
    ]);
    assert.deepEqual(commandFromTemplate('sh -c \'exec my-agent "$1"\' sh {prompt}', values), [
      'sh',
      '-c',
      'exec my-agent "$1"',
      'sh',
      values.prompt,
    ]);
    assert.deepEqual(commandFromTemplate('agent *.md # trailing note'), ['agent', '*.md']);
  });

  test('shell operators, $VAR expansions and unknown placeholders are config errors', () => {
    const cases: [string, RegExp][] = [
      ['agent {prompt} | tee log', /shell operator "\|"/],
      ['agent && rm -rf x', /shell operator "&&"/],
      ['agent > out.txt', /shell operator ">"/],
      ['agent --key $ANTHROPIC_API_KEY', /expands \$ANTHROPIC_API_KEY/],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, on purpose
      ['agent "${HOME}/x"', /expands \$HOME/],
      ['agent {model}', /uses \{model\}/],
      ['', /names no program/],
    ];
    for (const [template, message] of cases) {
      assert.throws(
        () => commandFromTemplate(template, { prompt: 'p', task_file: 't', run_dir: 'r' }),
        (error: unknown) => isOrchestraError(error, 'CONFIG_INVALID') && message.test(error.message),
        template,
      );
    }
    // Outside the custom adapter nothing fills placeholders.
    assert.throws(
      () => commandFromTemplate('claude {prompt}'),
      (error: unknown) =>
        isOrchestraError(error, 'CONFIG_INVALID') && /only the "custom"/.test(error.hint ?? ''),
    );
  });
});

describe('custom adapter', () => {
  let dir: string;
  let dumper: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
    dumper = join(dir, 'dump-argv.cjs');
    // Stands in for an agent: records the argv it was given and exits.
    await writeFile(
      dumper,
      "require('node:fs').writeFileSync(process.env.ORCHESTRA_RUN_DIR + '/argv.json', JSON.stringify(process.argv.slice(2)));\n",
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a hostile prompt is one argv element and runs nothing when spawned on a PTY', async () => {
    const pwned = join(dir, 'pwned');
    const prompt = `"; rm -rf / # $(touch ${pwned}) \`touch ${pwned}\` '; touch ${pwned}; echo '`;
    const agent = agentConfig('mine', {
      type: 'custom',
      command: `'${process.execPath}' '${dumper}' --prompt {prompt} --task={task_file} {run_dir}`,
      args: ['--extra'],
    });
    const ctx = launchContext(agent, {
      prompt,
      runDir: dir,
      worktree: dir,
      taskFile: join(dir, 'task 03.md'),
    });
    const launch = customAdapter.launch(ctx);
    assert.deepEqual(launch.command, [
      process.execPath,
      dumper,
      '--prompt',
      prompt,
      `--task=${join(dir, 'task 03.md')}`,
      dir,
      '--extra',
    ]);
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: dir });

    const pane = new LocalPtyProcess({
      command: launch.command,
      cwd: launch.cwd,
      env: { PATH: process.env.PATH, ...launch.env },
      cols: 80,
      rows: 24,
    });
    const exit = await new Promise<PaneExit>((resolve) => pane.onExit(resolve));
    assert.equal(exit.exitCode, 0);
    assert.equal(customAdapter.stateFromExit(exit.exitCode), 'done');
    const argv = JSON.parse(await readFile(join(dir, 'argv.json'), 'utf8')) as string[];
    assert.deepEqual(argv, launch.command.slice(2));
    assert.equal(await exists(pwned), false, 'the prompt ran a command');
  });

  test('without a command the custom adapter reports a config error', () => {
    const agent = { ...agentConfig('mine', { type: 'custom', command: 'x' }), command: undefined };
    assert.throws(
      () => customAdapter.launch(launchContext(agent)),
      (error: unknown) => isOrchestraError(error, 'CONFIG_INVALID'),
    );
  });
});
