import assert from 'node:assert/strict';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

/**
 * Every command that reads the socket directory refuses one the server would refuse (issue 10):
 * `orchestra ls` on a 0755 directory used to say "no sessions" where `attach` refused it.
 */
describe('commands refuse an unsafe socket directory as the server does', () => {
  let base: string;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    base = await tempDir();
    dir = join(base, `orchestra-${process.getuid?.() ?? 0}`);
    env = { ...process.env, ORCHESTRA_TMPDIR: base };
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  test('no directory yet: no sessions', async () => {
    const ls = await runCli(['ls'], { cwd: base, env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim(), 'no sessions');
  });

  test('open to others, or not a directory: ls fails with the same error and hint as a client', async () => {
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o755);
    const ls = await runCli(['ls'], { cwd: base, env });
    const kill = await runCli(['kill-server', '-t', 'anything'], { cwd: base, env });
    assert.equal(ls.code, 1, ls.stdout);
    assert.equal(ls.stdout, '');
    assert.equal(
      ls.stderr,
      `error: ${dir} has mode 755; others could reach your sessions\nhint: run \`chmod 700 ${dir}\`\n`,
    );
    assert.equal(ls.stderr, kill.stderr, 'the same refusal as a command that connects');
    const json = await runCli(['ls', '--json'], { cwd: base, env });
    assert.equal(json.code, 1);
    assert.equal(json.stdout, '');

    await rm(dir, { recursive: true });
    await writeFile(dir, '');
    const file = await runCli(['ls'], { cwd: base, env });
    assert.equal(file.code, 1);
    assert.match(file.stderr, /^error: .* is not a directory$/m);
    assert.match(file.stderr, /^hint: /m);
    await rm(dir);
  });

  test('a safe one lists its sessions', async () => {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    const ls = await runCli(['ls'], { cwd: base, env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout.trim(), 'no sessions');
  });
});
