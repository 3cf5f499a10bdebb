import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitOut, makeRepo, tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

interface Check {
  name: string;
  status: string;
  detail: string;
  hint?: string;
}

/**
 * `orchestra doctor` on the repository itself (issue 10): attempts start from a commit of the base
 * branch, so a repository with no commits, uncommitted changes and a config that is not committed
 * each get a line with a hint.
 */
describe('doctor checks what attempts will start from', () => {
  let xdg: string;
  let env: NodeJS.ProcessEnv;
  const dirs: string[] = [];

  before(async () => {
    xdg = await tempDir();
    // No Docker engine: doctor answers at once, and these checks do not depend on one.
    env = {
      ...process.env,
      XDG_CONFIG_HOME: xdg,
      ANTHROPIC_API_KEY: '',
      DOCKER_HOST: 'unix:///nonexistent.sock',
    };
  });
  after(async () => {
    for (const dir of [xdg, ...dirs]) await rm(dir, { recursive: true, force: true });
  });

  async function doctor(cwd: string): Promise<{ code: number; checks: Map<string, Check>; text: string }> {
    const json = await runCli(['doctor', '--json'], { cwd, env });
    const text = await runCli(['doctor'], { cwd, env });
    const checks = JSON.parse(json.stdout) as Check[];
    return { code: json.code, checks: new Map(checks.map((c) => [c.name, c])), text: text.stdout };
  }

  test('a repository with no commits fails, with a hint', async () => {
    const root = await tempDir();
    dirs.push(root);
    gitOut(root, 'init', '--quiet', '-b', 'main');
    assert.equal((await runCli(['init'], { cwd: root, env })).code, 0);
    const { code, checks, text } = await doctor(root);
    assert.equal(code, 1);
    const commits = checks.get('commits');
    assert.equal(commits?.status, 'fail');
    assert.match(commits?.detail ?? '', /no commits yet/);
    assert.match(commits?.hint ?? '', /git commit/);
    assert.match(text, /^FAIL +commits +the repository has no commits yet.*\n +hint: .*git commit/m);
  });

  test('uncommitted changes and an uncommitted config are warnings that say what attempts miss', async () => {
    const root = await makeRepo();
    dirs.push(root);
    assert.equal((await runCli(['init'], { cwd: root, env })).code, 0);
    await writeFile(join(root, 'README.md'), 'changed\n');
    await writeFile(join(root, 'notes.txt'), 'new\n');
    const { checks, text } = await doctor(root);
    const config = checks.get('config in git');
    assert.equal(config?.status, 'warn');
    assert.match(config?.detail ?? '', /\.orchestra\/orchestra\.json is not committed on main/);
    // The server reads the config from the working tree, so it is used here; only commits travel.
    assert.match(config?.detail ?? '', /merge gate follow it/);
    assert.match(config?.detail ?? '', /attempts' repositories lack it and other clones run with defaults/);
    assert.match(config?.hint ?? '', /git add \.orchestra\/orchestra\.json/);
    const changes = checks.get('uncommitted');
    assert.equal(changes?.status, 'warn');
    assert.match(
      changes?.detail ?? '',
      /^2 uncommitted changes \(README\.md, notes\.txt\); attempts start from main's last commit/,
    );
    assert.match(changes?.hint ?? '', /commit/);
    assert.match(text, /^warn +uncommitted +2 uncommitted changes.*\n +hint: /m);

    gitOut(root, 'add', '-A');
    gitOut(root, 'commit', '--quiet', '-m', 'orchestra');
    const clean = await doctor(root);
    assert.equal(clean.checks.get('uncommitted')?.status, 'ok');
    assert.ok(!clean.checks.has('config in git'), 'a committed config needs no line');
    assert.ok(!clean.checks.has('commits'));
  });
});
