import assert from 'node:assert/strict';
import { access, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitOut, tempDir } from '../git/fixtures.js';
import { ORCHESTRA_BIN, runCli } from '../support/cli.js';
import { systemdAnalyzeSkipReason, verifyUnit } from '../support/systemd.js';

/**
 * `orchestra service install|uninstall` as users run it (the built CLI), in an initialised
 * repository whose path needs quoting in a unit. XDG_CONFIG_HOME points at a scratch folder, so
 * nothing is written to this machine's own systemd units.
 */
describe('orchestra service', async () => {
  const skip = await systemdAnalyzeSkipReason();
  const secret = 'sk-ant-test-never-in-a-unit';
  let parent: string;
  let root: string;
  let xdg: string;
  let env: NodeJS.ProcessEnv;
  // The session `orchestra tui` runs for this repository: its directory name, made safe.
  const session = 'my-repo-100-HOME-q-';
  const unitFile = () => join(xdg, 'systemd', 'user', `orchestra-${session}.service`);

  before(async () => {
    parent = await tempDir();
    root = join(parent, 'my repo 100% $HOME "q"');
    await mkdir(root);
    gitOut(root, 'init', '--quiet', '-b', 'main');
    gitOut(
      root,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'x',
    );
    xdg = await tempDir();
    env = { ...process.env, XDG_CONFIG_HOME: xdg, ANTHROPIC_API_KEY: secret, ORCHESTRA_TMPDIR: '' };
    const init = await runCli(['init'], { cwd: root, env });
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await rm(parent, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('install --print prints a unit systemd-analyze verify accepts, and writes nothing', {
    skip: skip ?? false,
  }, async () => {
    const result = await runCli(['service', 'install', '--print'], { cwd: root, env });
    assert.equal(result.code, 0, result.stderr);
    const unit = result.stdout;
    const lines = unit.split('\n');
    const expected = [
      `ExecStart="${process.execPath}" "${ORCHESTRA_BIN}" "server" "-s" "${session}" "--repo" "${parent}/my repo 100%% $$HOME \\"q\\""`,
      `WorkingDirectory=${parent}/my repo 100%% $HOME "q"`,
      'Restart=on-failure',
      `EnvironmentFile=-${join(xdg, 'orchestra', 'env')}`,
      'WantedBy=default.target',
    ];
    for (const line of expected) assert.ok(lines.includes(line), `${line}\nin\n${unit}`);
    assert.ok(lines.some((l) => /^RestartSec=\d+$/.test(l)));
    assert.ok(lines.some((l) => /^Environment="PATH=[^"]+"$/.test(l)));
    assert.equal(unit.includes(secret), false, 'no secret in the unit');
    await assert.rejects(access(join(xdg, 'systemd')), 'nothing written');

    const verdict = await verifyUnit(unit, `orchestra-${session}.service`);
    assert.ok(verdict.ok, verdict.output);
    // The same check catches a typo, which systemd itself only warns about.
    const typo = await verifyUnit(unit.replace('Restart=', 'Restrat='), `orchestra-${session}.service`);
    assert.equal(typo.ok, false);
    assert.match(typo.output, /Unknown key 'Restrat'/);
  });

  test('install -t names the session', async () => {
    const result = await runCli(['service', 'install', '--print', '-t', 'nightly'], { cwd: root, env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ExecStart=.* "server" "-s" "nightly" "--repo" /m);
  });

  test('install writes the unit and says how to enable it; uninstall waits until it is disabled', async () => {
    const printed = await runCli(['service', 'install', '--print'], { cwd: root, env });
    const install = await runCli(['service', 'install'], { cwd: root, env });
    assert.equal(install.code, 0, install.stderr);
    assert.equal(await readFile(unitFile(), 'utf8'), printed.stdout);
    assert.ok(install.stdout.split('\n').includes(`wrote ${unitFile()}`), install.stdout);
    assert.ok(
      install.stdout.includes(
        `systemctl --user daemon-reload && systemctl --user enable --now orchestra-${session}.service`,
      ),
      install.stdout,
    );
    assert.match(install.stdout, /loginctl enable-linger/);
    const again = await runCli(['service', 'install'], { cwd: root, env });
    assert.match(again.stdout, /^unchanged /m);

    // What `systemctl --user enable` makes of [Install] WantedBy=default.target.
    const wants = join(xdg, 'systemd', 'user', 'default.target.wants');
    await mkdir(wants);
    await symlink(unitFile(), join(wants, `orchestra-${session}.service`));
    const refused = await runCli(['service', 'uninstall'], { cwd: root, env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`^error: orchestra-${session}\\.service is still enabled$`, 'm'));
    assert.match(
      refused.stderr,
      new RegExp(`^hint: run \`systemctl --user disable --now orchestra-${session}`, 'm'),
    );
    await access(unitFile());

    await rm(wants, { recursive: true });
    const removed = await runCli(['service', 'uninstall'], { cwd: root, env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed /m);
    assert.match(removed.stdout, /systemctl --user daemon-reload/);
    await assert.rejects(access(unitFile()));
    const twice = await runCli(['service', 'uninstall'], { cwd: root, env });
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, /^nothing to remove: /m);
  });

  test('install outside a git repository is refused with a hint', async () => {
    const dir = await tempDir();
    try {
      const result = await runCli(['service', 'install', '--print'], { cwd: dir, env });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error: not inside a git repository$/m);
      assert.match(result.stderr, /^hint: /m);
      assert.equal(result.stdout, '');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
