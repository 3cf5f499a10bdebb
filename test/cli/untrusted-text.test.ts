import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeRepo, tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

/** Anything a terminal acts on: ESC, BEL, C1 controls (8-bit CSI, OSC, ST). */
const TERMINAL_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/**
 * Task files are written by people and agents alike (autonomy proposes them): their titles,
 * reasons and names reach the terminal only through `printable`, never raw (issue 10).
 */
describe('the CLI prints untrusted text safely', () => {
  let root: string;
  let xdg: string;
  let env: NodeJS.ProcessEnv;
  const hostileTitle =
    'Fix \x1b]52;c;cm0gLXJmIH4=\x07the \x1b[2J\x1b[Hparser \x9b31mnow \x1b]0;owned\x1b\\— café 🎉';

  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    env = { ...process.env, XDG_CONFIG_HOME: xdg, ANTHROPIC_API_KEY: '' };
    const init = await runCli(['init'], { cwd: root, env });
    assert.equal(init.code, 0, init.stderr);
    await writeFile(
      join(root, '.orchestra', 'tasks', 'task-01.md'),
      `# task-01: ${hostileTitle}\n\n## Goal\nMake it \x1b[5mblink\x1b[0m\n`,
    );
    await mkdir(join(root, '.orchestra', 'failed'), { recursive: true });
    await writeFile(
      join(root, '.orchestra', 'failed', 'task-02-2025-01-31-09-05.md'),
      '# task-02: \x1b]52;c;ZXZpbA==\x07Archived\n\n## Goal\nx\n\n## Result\n\n- outcome: failed\n- reason: checks \x1b[2Jfailed\n',
    );
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('task ls shows titles and reasons without their escape sequences', async () => {
    const ls = await runCli(['task', 'ls', '--all'], { cwd: root, env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout, TERMINAL_CONTROL);
    assert.match(ls.stdout, /task-01 .*Fix the parser now — café 🎉/);
    assert.match(ls.stdout, /task-02 .*Archived/);
    assert.match(ls.stdout, /task-02 .*checks failed/, 'the reason of a failed task is shown');
    // JSON keeps the text exactly as the file has it, every control character escaped (C0 by
    // JSON itself, C1 and bidi overrides by printJson: JSON leaves those raw).
    const json = await runCli(['task', 'ls', '--all', '--json'], { cwd: root, env });
    assert.equal(JSON.parse(json.stdout)[0].title, hostileTitle);
    assert.doesNotMatch(json.stdout, TERMINAL_CONTROL);
  });

  test('task show prints the file without escape sequences, line breaks kept', async () => {
    const show = await runCli(['task', 'show', '1'], { cwd: root, env });
    assert.equal(show.code, 0, show.stderr);
    assert.doesNotMatch(show.stdout, TERMINAL_CONTROL);
    assert.match(show.stdout, /^# task-01: Fix the parser now — café 🎉$/m);
    assert.match(show.stdout, /^## Goal\nMake it blink$/m);
  });

  test('an error quoting a task file is printed safely too', async () => {
    const bad = await runCli(['task', 'add', '-'], {
      cwd: root,
      env,
      input: '# Title\n\n## Goal\nx\n\n## Files to touch\n- `../\x1b]52;c;ZXZpbA==\x07\x1b[2Jevil`\n',
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^error: .*path "\.\.\/evil" is outside the repository$/m);
    assert.doesNotMatch(bad.stderr, TERMINAL_CONTROL);
  });
});
