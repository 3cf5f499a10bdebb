import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DockerWorker } from '../../src/workers/docker-worker.js';
import {
  cleanupSession,
  dockerSkipReason,
  ensureWorkerImage,
  exitOf,
  makeRepo,
  Output,
  removeRepo,
  type TestRepo,
  testSession,
  testWorkerConfig,
} from './docker-support.js';

const run = promisify(execFile);
const skip = await dockerSkipReason();

describe('worker limits', { skip, concurrency: true }, () => {
  const session = testSession('limits');
  let repo: TestRepo;
  const workers: DockerWorker[] = [];

  before(async () => {
    await ensureWorkerImage();
    repo = await makeRepo();
  });

  after(async () => {
    for (const w of workers) w.detach();
    await cleanupSession(session);
    await removeRepo(repo);
  });

  async function start(attemptId: string, command: string[], limits: Parameters<typeof testWorkerConfig>[0]) {
    const worker = await DockerWorker.create({
      session,
      taskId: 'task-01',
      attemptId,
      command,
      env: {},
      worktree: repo.worktree,
      objectsDir: repo.objectsDir,
      runDir: repo.runDir,
      config: testWorkerConfig(limits),
      cols: 80,
      rows: 24,
    });
    workers.push(worker);
    return worker;
  }

  test('a fork bomb stops at the pids limit and the host keeps working', async () => {
    // The main shell then waits on its TTY (a builtin, no fork) so the container lives while the
    // bomb grows: without it tini would exit with the shell and end the test before the limit.
    const worker = await start('task-01-a1', ['bash', '-c', ':(){ :|:& };:; read -r -t 60 line'], {
      pids: 64,
    });
    const out = new Output(worker);
    // bash says so when fork() fails: the limit is what stopped it.
    await out.waitFor(/fork: (retry: )?Resource temporarily unavailable/, 15_000);
    const stats = await worker.stats();
    assert.ok(stats.pids !== undefined && stats.pids <= 64 && stats.pids > 16, JSON.stringify(stats));
    const started = Date.now();
    const { stdout } = await run('sh', ['-c', 'echo host-alive'], { timeout: 5000 });
    assert.equal(stdout.trim(), 'host-alive');
    assert.ok(Date.now() - started < 2000, 'the host still spawns processes promptly');
    await worker.stop('SIGKILL', 0);
  });

  test('a memory hog is killed and reported as out of memory', async () => {
    const worker = await start(
      'task-01-a2',
      ['node', '-e', 'const keep = []; for (;;) keep.push(Buffer.alloc(1 << 20, 1));'],
      { memoryMb: 128 },
    );
    const exit = await exitOf(worker, 30_000);
    assert.equal(exit.reason, 'out of memory');
    assert.equal(exit.exitCode, 137);
  });

  test('a program within its memory limit exits normally', async () => {
    const worker = await start(
      'task-01-a3',
      ['node', '-e', 'Buffer.alloc(32 << 20, 1); console.log("fine")'],
      {
        memoryMb: 128,
      },
    );
    const out = new Output(worker);
    const exit = await exitOf(worker, 30_000);
    assert.deepEqual(exit, { exitCode: 0 });
    assert.ok(out.text.includes('fine'));
  });
});
