import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { gitOut, makeRepo, tempDir } from '../git/fixtures.js';
import { ORCHESTRA_BIN, runCli } from '../support/cli.js';
import {
  type ScriptedModelServer,
  startScriptedModelServer,
  TEST_API_KEY,
} from '../support/scripted-model.js';
import { cleanupSession } from '../workers/docker-support.js';

/**
 * A repository with orchestra initialised, a scripted model server, and the environment a real
 * `orchestra server` child needs: what the queue tests with Docker workers share.
 */

/** One test's repository, model server, environment and the servers it started. */
export interface World {
  root: string;
  tmp: string;
  session: string;
  model: ScriptedModelServer;
  env: NodeJS.ProcessEnv;
  servers: ChildProcess[];
}

export async function setConfig(root: string, edits: Array<[string[], unknown]>): Promise<void> {
  const path = join(root, '.orchestra', 'orchestra.json');
  let text = await readFile(path, 'utf8');
  for (const [key, value] of edits) text = applyEdits(text, modify(text, key, value, {}));
  await writeFile(path, text);
}

export function startServer(world: World): ChildProcess {
  const child = spawn(
    process.execPath,
    [ORCHESTRA_BIN, 'server', '-s', world.session, '--repo', world.root],
    {
      cwd: world.root,
      env: world.env,
      stdio: 'ignore',
    },
  );
  world.servers.push(child);
  return child;
}

export async function state(world: World): Promise<{ attempts: Record<string, Record<string, unknown>> }> {
  return JSON.parse(await readFile(join(world.root, '.orchestra', 'state.json'), 'utf8'));
}

/**
 * A fresh world. `scenario` may be made from the repository's path (a turn naming a file in an
 * attempt's worktree); `env` adds to (or overrides) the server's environment.
 */
export async function makeWorld(
  name: string,
  scenario: unknown,
  env: NodeJS.ProcessEnv = {},
): Promise<World> {
  const root = await makeRepo({ initialized: false });
  const init = await runCli(['init'], { cwd: root });
  assert.equal(init.code, 0, init.stderr);
  const tmp = await tempDir();
  const script = typeof scenario === 'function' ? (scenario as (root: string) => unknown)(root) : scenario;
  const model = await startScriptedModelServer({ scenario: script as never });
  const session = `${name}-${process.pid}`;
  const serverEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ORCHESTRA_TMPDIR: tmp,
    ORCHESTRA_SESSION: '',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: TEST_API_KEY,
    ORCHESTRA_RETRY_BASE_MS: '200',
    XDG_CONFIG_HOME: join(tmp, 'config'),
    ...env,
  };
  delete serverEnv.NODE_TEST_CONTEXT;
  return { root, tmp, session, model, env: serverEnv, servers: [] };
}

export async function dispose(world: World | undefined): Promise<void> {
  if (!world) return;
  await runCli(['kill-server', '-t', world.session], { cwd: world.root, env: world.env }).catch(() => {});
  for (const server of world.servers) server.kill('SIGKILL');
  // Its containers, and the package cache volume an attempt's setup made.
  await cleanupSession(world.session).catch(() => {});
  await world.model.close();
  gitOut(world.root, 'worktree', 'prune');
  await rm(world.root, { recursive: true, force: true });
  await rm(world.tmp, { recursive: true, force: true });
}
