import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dockerClient } from '../../src/workers/docker-engine.js';
import { DockerWorker } from '../../src/workers/docker-worker.js';
import { dockerBridgeNetwork, LoopbackForwarderPool } from '../../src/workers/loopback-forwarder.js';
import {
  anthropicEnv,
  type ScriptedModelServer,
  startScriptedModelServer,
  turn,
} from '../support/scripted-model.js';
import {
  cleanupSession,
  dockerSkipReason,
  ensureWorkerImage,
  exitOf,
  git,
  makeRepo,
  Output,
  removeRepo,
  type TestRepo,
  testSession,
  testWorkerConfig,
} from './docker-support.js';

const skip = await dockerSkipReason();

// The image's whole purpose: the bundled built-in agent, on the image's Node 18, reaching a model
// endpoint on the host's loopback through the forwarder and committing in its worktree.
describe('the built-in agent in a worker container', { skip }, () => {
  const session = testSession('agent');
  let repo: TestRepo;
  let model: ScriptedModelServer;
  const pool = new LoopbackForwarderPool(() => dockerBridgeNetwork(dockerClient()));

  before(async () => {
    await ensureWorkerImage();
    repo = await makeRepo();
    model = await startScriptedModelServer({
      scenario: {
        turns: [
          turn.tool('bash', {
            command:
              'echo agent-was-here > agent.txt && git add agent.txt && git commit -qm "agent commit" && echo committed',
          }),
          turn.tool('task_complete', { summary: 'added agent.txt' }),
        ],
      },
    });
  });

  after(async () => {
    await cleanupSession(session);
    await pool.closeAll();
    await model?.close();
    await removeRepo(repo);
  });

  test("works a task to completion; its commit is in the attempt's own repository, not the host's", async () => {
    await writeFile(
      path.join(repo.runDir, 'task-01.md'),
      '# task-01: Leave a mark\n\n## Goal\nCreate agent.txt and commit it.\n',
    );
    const worker = await DockerWorker.create({
      session,
      taskId: 'task-01',
      attemptId: 'task-01-a1',
      command: ['orchestra', 'agent', '--task', '/run/orchestra/task-01.md', '--run-dir', '/run/orchestra'],
      env: anthropicEnv(model),
      worktree: repo.worktree,
      objectsDir: repo.objectsDir,
      runDir: repo.runDir,
      config: testWorkerConfig(),
      cols: 100,
      rows: 30,
      forwarders: pool,
    });
    const out = new Output(worker);
    const exit = await exitOf(worker, 30_000);
    assert.equal(exit.exitCode, 0, out.text);
    assert.equal(model.turnsLeft().default, 0, 'both scripted turns were asked for');
    // Read as the test's user; the folder belongs to the worker's (git's ownership check).
    const inWorker = (...args: string[]) => git(repo.worktree, '-c', 'safe.directory=*', ...args);
    assert.equal(await inWorker('log', '-1', '--format=%s %an', repo.branch), 'agent commit Test');
    // The host sees the work only once it is exported (docker-worker.test.ts, scheduler tests).
    await assert.rejects(git(repo.root, 'cat-file', '-e', await inWorker('rev-parse', 'HEAD')));
    const events = await readFile(path.join(repo.runDir, 'events.jsonl'), 'utf8');
    assert.match(events, /"state":"done"/);
    // The key reached the agent only through its environment.
    const info = await dockerClient().getContainer(worker.id).inspect();
    assert.ok(!JSON.stringify(info.Config.Cmd).includes(anthropicEnv(model).ANTHROPIC_API_KEY));
  });
});
