import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gitOut, makeRepo, tempDir } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';

/**
 * The CLI of issue 2, run as users run it: the built `bin/orchestra` in a real git repository.
 * XDG_CONFIG_HOME points at an empty folder so the machine's own user config cannot leak in.
 */
describe('orchestra CLI in a scratch repository', () => {
  let root: string;
  let xdg: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    root = await makeRepo({ initialized: false });
    xdg = await tempDir();
    env = { ...process.env, XDG_CONFIG_HOME: xdg, ANTHROPIC_API_KEY: '' };
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(xdg, { recursive: true, force: true });
  });

  test('init creates .orchestra/ and is idempotent', async () => {
    const first = await runCli(['init'], { cwd: root, env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created \.orchestra\/orchestra\.json/);
    for (const dir of ['tasks', 'done', 'failed', 'rejected', 'runs', 'worktrees', 'logs']) {
      assert.ok((await stat(join(root, '.orchestra', dir))).isDirectory(), dir);
    }
    const config = await readFile(join(root, '.orchestra', 'orchestra.json'), 'utf8');
    assert.match(config, /"baseBranch": "main"/);
    assert.match(config, /\/\//, 'the template explains itself in comments');
    const second = await runCli(['init'], { cwd: root, env });
    assert.equal(second.code, 0);
    assert.match(second.stdout, /nothing changed/);
    assert.equal(await readFile(join(root, '.orchestra', 'orchestra.json'), 'utf8'), config);
    // Only the config and the ignore file are visible to git.
    const status = gitOut(root, 'status', '--porcelain', '--untracked-files=all');
    assert.deepEqual(status.split('\n').sort(), ['?? .orchestra/.gitignore', '?? .orchestra/orchestra.json']);
  });

  test('init outside a git repository is refused with a hint', async () => {
    const dir = await tempDir();
    try {
      const result = await runCli(['init'], { cwd: dir, env });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^error: not inside a git repository$/m);
      assert.match(result.stderr, /^hint: /m);
      assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace without --debug');
      await assert.rejects(stat(join(dir, '.orchestra')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('task add writes task files; ls lists them in natural order', async () => {
    const a = await runCli(
      [
        'task',
        'add',
        'Add a --verbose flag',
        '--accept',
        'prints debug lines',
        '--files',
        'src/cli.ts',
        '--test-plan',
        'npm test',
      ],
      { cwd: root, env },
    );
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /queued task-01/);
    const b = await runCli(
      ['task', 'add', 'Fix the parser', '--strategy', 'best-of-n', '-n', '3', '--json'],
      {
        cwd: root,
        env,
      },
    );
    assert.equal(JSON.parse(b.stdout).id, 'task-02');
    // A task numbered 10 written by hand: natural order puts task-02 before task-10.
    await writeFile(
      join(root, '.orchestra', 'tasks', 'task-10.md'),
      '# task-10: Docs\n\n## Goal\nWrite the docs\n',
    );
    const c = await runCli(['task', 'add', 'Third'], { cwd: root, env });
    assert.match(c.stdout, /queued task-11/, 'numbers never collide with existing tasks');
    const ls = await runCli(['task', 'ls', '--json'], { cwd: root, env });
    assert.equal(ls.code, 0, ls.stderr);
    const ids = JSON.parse(ls.stdout).map((t: { id: string }) => t.id);
    assert.deepEqual(ids, ['task-01', 'task-02', 'task-10', 'task-11']);
    const text = await readFile(join(root, '.orchestra', 'tasks', 'task-01.md'), 'utf8');
    assert.match(text, /## Goal\n\nAdd a --verbose flag/);
    assert.match(text, /- \[ \] prints debug lines/);
    assert.match(text, /`npm test`/);
  });

  test('task add - reads a whole task from stdin, and refuses a bad one', async () => {
    const good = await runCli(['task', 'add', '-'], {
      cwd: root,
      env,
      input: '---\nstrategy: refine\nrounds: 2\n---\n# Tidy up\n\n## Goal\nRemove dead code\n',
    });
    assert.equal(good.code, 0, good.stderr);
    const id = /queued (task-\d+)/.exec(good.stdout)?.[1];
    assert.ok(id);
    const show = await runCli(['task', 'show', id, '--json'], { cwd: root, env });
    assert.equal(JSON.parse(show.stdout).strategy, 'refine');
    const before = await readdir(join(root, '.orchestra', 'tasks'));
    const bad = await runCli(['task', 'add', '-'], {
      cwd: root,
      env,
      input: '---\nbogus: 1\n---\n## Goal\nx\n',
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bogus/);
    assert.deepEqual(await readdir(join(root, '.orchestra', 'tasks')), before, 'nothing written');
  });

  test('task show prints the file; task rm removes a queued task', async () => {
    const show = await runCli(['task', 'show', '2'], { cwd: root, env });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /strategy: best-of-n/);
    assert.match(show.stdout, /Fix the parser/);
    const rm1 = await runCli(['task', 'rm', 'task-11'], { cwd: root, env });
    assert.equal(rm1.code, 0, rm1.stderr);
    const missing = await runCli(['task', 'show', 'task-11'], { cwd: root, env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: .*task-11/m);
    assert.match(missing.stderr, /^hint: .*orchestra task ls/m);
  });

  test('usage errors exit 2 with a hint; --help works on every command', async () => {
    const unknown = await runCli(['task', 'add'], { cwd: root, env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /missing required argument/);
    const badN = await runCli(['task', 'add', 'x', '-n', 'zero'], { cwd: root, env });
    assert.equal(badN.code, 2);
    const noCommand = await runCli(['frobnicate'], { cwd: root, env });
    assert.equal(noCommand.code, 2);
    for (const args of [
      ['--help'],
      ['task', 'add', '--help'],
      ['config', 'validate', '--help'],
      ['doctor', '--help'],
    ]) {
      const help = await runCli(args, { cwd: root, env });
      assert.equal(help.code, 0, args.join(' '));
      assert.match(help.stdout, /Usage: orchestra/);
    }
  });

  test('config validate accepts the template and rejects a wrong type with its JSON path', async () => {
    const ok = await runCli(['config', 'validate'], { cwd: root, env });
    assert.equal(ok.code, 0, ok.stderr);
    const path = join(root, '.orchestra', 'orchestra.json');
    const original = await readFile(path, 'utf8');
    await writeFile(path, '{ "maxParallel": "four", "worker": { "memoryMb": true } }');
    try {
      const bad = await runCli(['config', 'validate'], { cwd: root, env });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /maxParallel: expected number, received string/);
      assert.match(bad.stderr, /worker\.memoryMb: expected number, received boolean/);
      const json = await runCli(['config', 'validate', '--json'], { cwd: root, env });
      assert.equal(json.code, 1);
      assert.equal(JSON.parse(json.stdout).problems.length, 2);
      // Nothing starts with a bad config.
      const ls = await runCli(['task', 'add', 'x'], { cwd: root, env });
      assert.equal(ls.code, 0, 'task add does not need the config');
      const doctor = await runCli(['doctor'], { cwd: root, env });
      assert.equal(doctor.code, 1);
      assert.match(doctor.stdout, /FAIL\s+config/);
    } finally {
      await writeFile(path, original);
    }
  });

  test('doctor reports honestly and never prints the API key', async () => {
    const secret = 'sk-ant-test-0123456789abcdef';
    const result = await runCli(['doctor', '--json'], {
      cwd: root,
      env: { ...env, ANTHROPIC_API_KEY: secret },
    });
    const checks = JSON.parse(result.stdout) as Array<{ name: string; status: string; detail: string }>;
    const byName = new Map(checks.map((c) => [c.name, c]));
    assert.equal(byName.get('git')?.status, 'ok');
    assert.equal(byName.get('repository')?.detail, root);
    assert.equal(byName.get('node-pty')?.status, 'ok');
    assert.equal(byName.get('ANTHROPIC_API_KEY')?.detail, 'set');
    assert.ok(byName.has('docker') && byName.has('worker image'));
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret));
    const unset = await runCli(['doctor', '--json'], { cwd: root, env });
    assert.match(
      JSON.parse(unset.stdout).find((c: { name: string }) => c.name === 'ANTHROPIC_API_KEY').detail,
      /not set/,
    );
    // Docker unreachable is a warning unless the config demands Docker.
    const noEngine = await runCli(['doctor', '--json'], {
      cwd: root,
      env: { ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    const docker = JSON.parse(noEngine.stdout).find((c: { name: string }) => c.name === 'docker');
    assert.equal(docker.status, 'warn');
    assert.match(docker.detail, /nonexistent/);
  });

  test('commands other than init refuse an uninitialised repository', async () => {
    const fresh = await makeRepo({ initialized: false });
    try {
      const result = await runCli(['task', 'ls'], { cwd: fresh, env });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /hint: run `orchestra init`/);
      await mkdir(join(fresh, 'sub'));
      const fromSub = await runCli(['init'], { cwd: join(fresh, 'sub'), env });
      assert.equal(fromSub.code, 0, 'init finds the repository from a subdirectory');
      assert.ok((await stat(join(fresh, '.orchestra', 'tasks'))).isDirectory());
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });
});
