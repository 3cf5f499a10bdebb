import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { dockerClient } from '../../src/workers/docker-engine.js';
import { findWorkers } from '../../src/workers/session-containers.js';
import { gitOut, tempDir } from '../git/fixtures.js';
import { waitFor } from '../server/fixtures.js';
import { runCli } from '../support/cli.js';
import { turn } from '../support/scripted-model.js';
import { dockerSkipReason, ensureWorkerImage } from '../workers/docker-support.js';
import { dispose, makeWorld, setConfig, startServer, state, type World } from './docker-world.js';

/**
 * Claude Code itself in a Docker worker (issue 13.1): the image gets the CLI from this machine's
 * npm (`orchestra image build --claude <version>`, the version `.ci/run` installed), the task runs
 * under the scheduler on the default model-only network, and its model calls go to the scripted
 * Messages API server. Claude Code's hooks report working then done, the check gate passes on its
 * edit, and the API key is in neither `docker inspect` nor the image.
 */
const run = promisify(execFile);
const CLAUDE_BIN = process.env.ORCHESTRA_TEST_CLAUDE_BIN;
const IMAGE = 'orchestra-worker-claude-test:latest';
const dockerSkip = await dockerSkipReason();
const skip =
  dockerSkip ?? (CLAUDE_BIN ? false : 'set ORCHESTRA_TEST_CLAUDE_BIN (.ci/run installs Claude Code)');

/** The version of the Claude Code `.ci/run` installed, e.g. `2.1.197`. */
async function claudeVersion(bin: string): Promise<string> {
  const { stdout } = await run(bin, ['--version']);
  const version = /^(\d+\.\d+\.\d+\S*)/.exec(stdout.trim())?.[1];
  assert.ok(version, `no version in ${JSON.stringify(stdout)}`);
  return version;
}

/** Claude Code's main loop writes hello.txt; side requests (a title for the session) get plain text. */
function helloScenario(root: string) {
  return {
    scenarios: {
      main: {
        match: { system: 'You are an interactive agent' },
        turns: [
          // The attempt's worktree (attempt-runner.ts): Claude Code's Write takes absolute paths.
          turn.tool('Write', {
            file_path: join(root, '.orchestra', 'worktrees', 'task-01-a1', 'hello.txt'),
            content: 'hello from claude\n',
          }),
          turn.text('I wrote hello.txt.'),
        ],
      },
      side: { turns: Array.from({ length: 20 }, () => turn.text('Write hello.txt')) },
    },
  };
}

/** What one run of the hello task showed: its container while it ran, and the outcome. */
interface HelloRun {
  /** `docker inspect` of the attempt's container while the agent ran, as JSON text. */
  inspect: string;
  mounts: { Destination: string; RW: boolean; Source: string }[];
}

/**
 * Runs the hello task in `w` with Claude Code in a Docker worker to the end, and checks what every
 * such run must show: succeeded on the check gate, the file on the attempt's branch, the hooks'
 * working, working, done, and two main-loop calls.
 */
async function runHello(w: World): Promise<HelloRun> {
  await setConfig(w.root, [
    [['sandbox'], 'docker'],
    [['worker', 'image'], IMAGE],
    [['defaultAgent'], 'claude'],
    [['check'], ['grep -qx "hello from claude" hello.txt']],
  ]);
  const add = await runCli(['task', 'add', 'Write hello.txt saying hello from claude'], {
    cwd: w.root,
    env: w.env,
  });
  assert.equal(add.code, 0, add.stderr);
  startServer(w);
  const container = await waitFor(
    async () =>
      (await findWorkers(w.session)).find((c) => c.name.endsWith('task-01-a1') && c.state === 'running'),
    "the attempt's container running",
    120_000,
  );
  const info = await dockerClient().getContainer(container.id).inspect();
  const runDir = join(w.root, '.orchestra', 'runs', 'task-01-a1');
  const done = await waitFor(
    async () =>
      (await readdir(join(w.root, '.orchestra', 'done')).catch(() => [])).find((f) =>
        f.startsWith('task-01-'),
      ),
    'task-01 in done/',
    180_000,
  ).catch(async (error: unknown) => {
    const events = await readFile(join(runDir, 'events.jsonl'), 'utf8').catch(() => '');
    throw new Error(
      `${String(error)}\nevents:\n${events}\nrequests: ${w.model.requests.map((r) => `${r.path} ${r.scenario}#${r.turnIndex} ${r.status}`).join(', ')}`,
    );
  });
  const attempt = (await state(w)).attempts['task-01-a1']!;
  assert.equal(attempt.state, 'succeeded');
  assert.equal(attempt.sandbox, 'docker');
  assert.match(await readFile(join(w.root, '.orchestra', 'done', done), 'utf8'), /- status: succeeded/);
  assert.equal(gitOut(w.root, 'show', 'orchestra/task-01/a1:hello.txt'), 'hello from claude');

  const seen = (await readFile(join(runDir, 'events.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.includes('"claude-code:'))
    .map((line) => JSON.parse(line) as { state: string; source: string })
    .map((e) => `${e.source}=${e.state}`);
  // The prompt, the Write tool having run, the end of the turn (which ended the round); then,
  // when it was quick enough to say so, its session ending as orchestra stopped it.
  assert.deepEqual(seen.slice(0, 3), [
    'claude-code:UserPromptSubmit=working',
    'claude-code:PostToolUse=working',
    'claude-code:Stop=done',
  ]);
  assert.ok(
    seen.slice(3).every((e) => e === 'claude-code:SessionEnd=done'),
    `after the turn: ${seen.slice(3).join(', ')}`,
  );
  assert.equal(
    w.model.requests.filter((r) => r.scenario === 'main').length,
    2,
    'the Write call, then the answer to its result',
  );
  return { inspect: JSON.stringify(info), mounts: info.Mounts as HelloRun['mounts'] };
}

describe('Claude Code in a Docker worker', { skip }, () => {
  const worlds: World[] = [];

  const key = `sk-ant-orchestra-test-${randomBytes(8).toString('hex')}`;

  before(async () => {
    const version = await claudeVersion(CLAUDE_BIN as string);
    await ensureWorkerImage(IMAGE, [{ cli: 'claude', version }]);
    // Built again as a person would, with the key in the environment: none of it may go in.
    const build = await runCli(['image', 'build', '--claude', version, '--tag', IMAGE, '--quiet'], {
      cwd: process.cwd(),
      env: { ...process.env, ANTHROPIC_API_KEY: key },
      timeoutMs: 600_000,
    });
    assert.equal(build.code, 0, build.stderr);
  });
  after(async () => {
    for (const w of worlds) await dispose(w);
  });

  test('edits the file, its hooks report working then done, the check gate passes; the key stays out of docker inspect and the image', async () => {
    const w = await makeWorld('claude-docker', helloScenario, { ANTHROPIC_API_KEY: key });
    worlds.push(w);
    const seen = await runHello(w);
    assert.ok(!seen.inspect.includes(key), 'the key is in docker inspect');
    // Claude Code's calls carried the key, so it did reach the process.
    const main = w.model.requests.filter((r) => r.scenario === 'main');
    assert.equal(main[0]?.headers['x-api-key'], key);
    const history = (await run('docker', ['history', '--no-trunc', IMAGE])).stdout;
    const image = JSON.stringify(await dockerClient().getImage(IMAGE).inspect());
    assert.ok(!history.includes(key) && !image.includes(key), 'the key is in the image');
    assert.match(image, /@anthropic-ai\/claude-code@/);
  });

  test("with no API key, Claude Code signs in with the access token of the user's login file, which stays on the host", async () => {
    const token = `sk-ant-oat01-orchestra-test-${randomBytes(8).toString('hex')}`;
    const refresh = `sk-ant-ort01-orchestra-test-${randomBytes(8).toString('hex')}`;
    const login = await tempDir();
    const file = join(login, '.credentials.json');
    const credentials = {
      claudeAiOauth: {
        accessToken: token,
        refreshToken: refresh,
        expiresAt: Date.now() + 86_400_000,
        scopes: ['user:inference'],
      },
    };
    await writeFile(file, JSON.stringify(credentials), { mode: 0o600 });
    const w = await makeWorld('claude-login', helloScenario, {
      ANTHROPIC_API_KEY: '',
      CLAUDE_CONFIG_DIR: login,
    });
    worlds.push(w);
    const seen = await runHello(w);
    const main = w.model.requests.filter((r) => r.scenario === 'main');
    assert.equal(main[0]?.headers.authorization, `Bearer ${token}`);
    assert.equal(main[0]?.headers['x-api-key'], undefined);
    assert.ok(
      !seen.inspect.includes(token) && !seen.inspect.includes(refresh),
      'the login is in docker inspect',
    );
    assert.ok(!seen.mounts.some((m) => m.Source.startsWith(login)), 'the login folder is mounted');
    // Nothing of the login file was written where the agent could read it.
    const runs = join(w.root, '.orchestra', 'runs', 'task-01-a1');
    assert.equal(
      await stat(join(runs, 'claude-config', '.credentials.json')).catch(() => 'absent'),
      'absent',
    );
    await rm(login, { recursive: true, force: true });
  });
});
