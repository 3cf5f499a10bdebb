import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addAttempt, upsertTask } from '../../src/store/records.js';
import { StateStore } from '../../src/store/store.js';
import { dockerClient } from '../../src/workers/docker-engine.js';
import { findWorkers, removeSessionContainers } from '../../src/workers/session-containers.js';
import { gitOut } from '../git/fixtures.js';
import { waitFor } from '../server/fixtures.js';
import { runCli } from '../support/cli.js';
import { dockerSkipReason, ensureWorkerImage } from '../workers/docker-support.js';
import { dispose, makeWorld, setConfig, startServer, state, type World } from './docker-world.js';

/**
 * The queue with Docker workers (issue 5): the server is SIGKILLed while an agent works in its
 * container; the container keeps running, a new server finds it by label and re-attaches, and the
 * task finishes normally with no tool call run twice. A worker that exceeds its memory limit is
 * killed and its attempt is marked failed with "out of memory".
 */
const skip = await dockerSkipReason();

describe('the queue with Docker workers', { skip: skip ?? false }, () => {
  before(async () => {
    await ensureWorkerImage();
  });

  describe('a server killed mid-task', () => {
    let world: World | undefined;
    after(() => dispose(world));

    test('the container is re-attached after a restart and the task finishes, no tool call run twice', async () => {
      world = await makeWorld('docker-resume', {
        turns: [
          {
            toolUses: [
              {
                name: 'bash',
                input: {
                  command: 'echo run >> /run/orchestra/effects.log; sleep 6; echo changed >> README.md',
                },
              },
            ],
          },
          { toolUses: [{ name: 'task_complete', input: { summary: 'changed README' } }] },
        ],
      });
      const w = world;
      await setConfig(w.root, [
        [['sandbox'], 'docker'],
        [['check'], ['grep -q changed README.md']],
      ]);
      const add = await runCli(['task', 'add', 'Change the README'], { cwd: w.root, env: w.env });
      assert.equal(add.code, 0, add.stderr);
      const runDir = join(w.root, '.orchestra', 'runs', 'task-01-a1');
      await mkdir(runDir, { recursive: true });
      const first = startServer(w);
      // The agent is inside its slow command in the container.
      await waitFor(
        async () => (await readFile(join(runDir, 'effects.log'), 'utf8').catch(() => '')).includes('run'),
        'the agent running its command in the container',
        90_000,
      );
      const before = (await state(w)).attempts['task-01-a1']!;
      const containerId = String(before.workerId);
      assert.equal(before.sandbox, 'docker');
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      const running = await findWorkers(w.session);
      assert.ok(
        running.some((c) => c.id === containerId && c.state === 'running'),
        'the container outlives the server',
      );
      startServer(w);
      const done = await waitFor(
        async () => (await readdir(join(w.root, '.orchestra', 'done'))).find((f) => f.startsWith('task-01-')),
        'task-01 in done/',
        90_000,
      );
      const after = (await state(w)).attempts['task-01-a1']!;
      assert.equal(after.workerId, containerId, 'the same container was re-attached, not a new one started');
      assert.equal(after.state, 'succeeded');
      assert.equal(
        (await readFile(join(runDir, 'effects.log'), 'utf8')).trim().split('\n').length,
        1,
        'the bash command ran once',
      );
      assert.equal(w.model.requests.length, 2, 'each scripted turn was asked for once');
      const archived = await readFile(join(w.root, '.orchestra', 'done', done), 'utf8');
      assert.match(archived, /- status: succeeded/);
      assert.match(gitOut(w.root, 'show', 'orchestra/task-01/a1:README.md'), /changed/);
    });
  });

  describe('the memory limit', () => {
    let world: World | undefined;
    after(() => dispose(world));

    test('a worker that exceeds its memory is killed and the attempt fails with "out of memory"', async () => {
      world = await makeWorld('docker-oom', { turns: [] });
      const w = world;
      await setConfig(w.root, [
        [['sandbox'], 'docker'],
        [['worker', 'memoryMb'], 128],
        [
          ['agents', 'hog'],
          { type: 'custom', command: 'node -e "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"' },
        ],
        [['defaultAgent'], 'hog'],
      ]);
      const add = await runCli(['task', 'add', 'Eat memory'], { cwd: w.root, env: w.env });
      assert.equal(add.code, 0, add.stderr);
      startServer(w);
      const failed = await waitFor(
        async () =>
          (await readdir(join(w.root, '.orchestra', 'failed'))).find((f) => f.startsWith('task-01-')),
        'task-01 in failed/',
        90_000,
      );
      const attempt = (await state(w)).attempts['task-01-a1']!;
      assert.equal(attempt.state, 'failed');
      assert.equal(attempt.error, 'out of memory');
      assert.match(await readFile(join(w.root, '.orchestra', 'failed', failed), 'utf8'), /out of memory/);
      const info = await dockerClient()
        .getContainer(String(attempt.workerId))
        .inspect()
        .catch(() => undefined);
      if (info) assert.equal(info.State.OOMKilled, true, 'the engine says it was OOM-killed');
    });
  });

  describe('containers', () => {
    let world: World | undefined;
    after(() => dispose(world));

    test('a restarted server removes what an earlier one left; an ended attempt leaves no container', async () => {
      world = await makeWorld('docker-leftovers', { turns: [] });
      const w = world;
      // A CLI agent that says it is done and then stays at its "prompt", as Claude Code would.
      const done = JSON.stringify({ type: 'status', state: 'done', summary: 'changed README' });
      await setConfig(w.root, [
        [['sandbox'], 'docker'],
        [['check'], ['grep -q changed README.md']],
        [
          ['agents', 'stays'],
          {
            type: 'custom',
            command: `sh -c 'echo changed >> README.md; echo ${JSON.stringify(done).replace(/'/g, '')} >> {run_dir}/events.jsonl; exec sleep 600'`,
          },
        ],
        [['defaultAgent'], 'stays'],
      ]);
      // What a server SIGKILLed during a check round, and long ago an attempt since forgotten, leave.
      const docker = dockerClient();
      for (const attempt of ['task-07-a1-checks', 'task-08-a1']) {
        const container = await docker.createContainer({
          name: `orchestra-${w.session}-${attempt}`,
          Image: 'orchestra-worker:latest',
          Cmd: ['sleep', '600'],
          Labels: { 'orchestra.session': w.session, 'orchestra.attempt': attempt },
        });
        await container.start();
      }
      assert.equal((await findWorkers(w.session)).length, 2);
      const add = await runCli(['task', 'add', 'Change the README'], { cwd: w.root, env: w.env });
      assert.equal(add.code, 0, add.stderr);
      startServer(w);
      await waitFor(
        async () => (await readdir(join(w.root, '.orchestra', 'done'))).find((f) => f.startsWith('task-01-')),
        'task-01 in done/',
        90_000,
      );
      const left = await waitFor(
        async () => {
          const workers = await findWorkers(w.session);
          return workers.length === 0 ? 'none' : undefined;
        },
        'no container of the session left',
        30_000,
      ).catch(async () => (await findWorkers(w.session)).map((c) => `${c.name} ${c.state}`).join(', '));
      assert.equal(left, 'none', `containers left: ${left}`);
    });

    test('orchestra gc removes the containers of ended and unknown attempts, and keeps the rest', async () => {
      const w = world!;
      const session = basename(w.root);
      // An attempt in flight, as a running server would have it in the store.
      const store = await StateStore.open(join(w.root, '.orchestra', 'state.json'));
      await store.update((draft) => {
        upsertTask(draft, { id: 'task-09', state: 'running' });
        addAttempt(draft, {
          id: 'task-09-a1',
          taskId: 'task-09',
          n: 1,
          branch: 'orchestra/task-09/a1',
          worktree: join(w.root, '.orchestra', 'worktrees', 'task-09-a1'),
          runDir: join(w.root, '.orchestra', 'runs', 'task-09-a1'),
          state: 'running',
        });
      });
      await store.close();
      const docker = dockerClient();
      const made = async (attempt: string, repo: string) => {
        const container = await docker.createContainer({
          name: `orchestra-${session}-${attempt}-${repo === w.root ? 'here' : 'there'}`,
          Image: 'orchestra-worker:latest',
          Cmd: ['sleep', '600'],
          Labels: { 'orchestra.session': session, 'orchestra.attempt': attempt, 'orchestra.repo': repo },
        });
        await container.start();
      };
      await made('task-01-a1-checks', w.root);
      await made('task-05-a1', w.root);
      await made('merge-0123456789-merge', w.root);
      await made('task-09-a1', w.root);
      // Another repository whose directory has the same name: its session name is the same.
      await made('task-05-a1', '/elsewhere/same-name');
      try {
        const gc = await runCli(['gc'], { cwd: w.root, env: w.env });
        assert.equal(gc.code, 0, gc.stderr);
        assert.match(
          gc.stdout,
          /removed container orchestra-.*-task-01-a1-checks-here/,
          "an ended attempt's",
        );
        assert.match(
          gc.stdout,
          /removed container orchestra-.*-task-05-a1-here/,
          'an attempt the store never had',
        );
        const left = (await findWorkers(session)).map((c) => c.name).sort();
        assert.deepEqual(
          left,
          [
            `orchestra-${session}-merge-0123456789-merge-here`,
            `orchestra-${session}-task-05-a1-there`,
            `orchestra-${session}-task-09-a1-here`,
          ],
          "a merge gate (maybe in use), an attempt in flight and another repository's container stay",
        );
      } finally {
        await removeSessionContainers(session).catch(() => {});
      }
    });
  });
});
