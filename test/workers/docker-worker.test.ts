import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importBundle } from '../../src/git/attempt-repo.js';
import { containerSpec, workerUser } from '../../src/workers/container-spec.js';
import { dockerClient } from '../../src/workers/docker-engine.js';
import {
  computeStats,
  DockerWorker,
  type DockerWorkerOptions,
  hostIds,
  withSecretsWrapper,
} from '../../src/workers/docker-worker.js';
import { exportCommand, exportEnv } from '../../src/workers/export-script.js';
import { dockerBridgeNetwork, LoopbackForwarderPool } from '../../src/workers/loopback-forwarder.js';
import { findWorkers } from '../../src/workers/session-containers.js';
import { ToolContainer } from '../../src/workers/tool-container.js';
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
const docker = dockerClient();

test('computeStats follows docker stats: CPU share of the host times CPUs, memory without page cache', () => {
  const stats = computeStats({
    cpu_stats: {
      cpu_usage: { total_usage: 3_000_000_000 },
      system_cpu_usage: 20_000_000_000,
      online_cpus: 2,
    },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 18_000_000_000 },
    memory_stats: { usage: 300 * 1024 * 1024, stats: { total_inactive_file: 100 * 1024 * 1024 } },
    pids_stats: { current: 7 },
  });
  assert.deepEqual(stats, { cpuPercent: 100, memoryMb: 200, pids: 7 });
  assert.deepEqual(computeStats({}), { cpuPercent: 0, memoryMb: 0 });
});

describe('DockerWorker', { skip, concurrency: true }, () => {
  const session = testSession('worker');
  let repo: TestRepo;
  let attempt = 0;
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

  async function start(command: string[], extra: Partial<DockerWorkerOptions> = {}): Promise<DockerWorker> {
    attempt += 1;
    const worker = await DockerWorker.create({
      session,
      taskId: 'task-01',
      attemptId: `task-01-a${attempt}`,
      command,
      env: {},
      worktree: repo.worktree,
      objectsDir: repo.objectsDir,
      runDir: repo.runDir,
      config: testWorkerConfig(),
      cols: 100,
      rows: 30,
      ...extra,
    });
    workers.push(worker);
    return worker;
  }

  test('starts at the given size, echoes typed input and follows resize', async () => {
    const worker = await start([
      'sh',
      '-c',
      'stty size; echo ready; while IFS= read -r line; do if [ "$line" = size ]; then stty size; else echo "got:$line"; fi; done',
    ]);
    const out = new Output(worker);
    await out.waitFor('ready');
    assert.match(out.text, /^30 100\r\n/, 'the first line is the initial size');
    worker.write('hello\r');
    await out.waitFor('got:hello');
    // Docker's default detach keys (ctrl-p ctrl-q) would end the stream here; ours let them through.
    worker.write('\x10\x11after-ctrl-p\r');
    await out.waitFor(/got:.*after-ctrl-p/);
    worker.resize(120, 40);
    // The resize travels over its own request; ask until the program sees it.
    for (let i = 0; i < 30 && !out.text.includes('40 120'); i++) {
      worker.write('size\r');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(out.text.includes('40 120'), `stty size after resize: ${JSON.stringify(out.text)}`);
    await worker.stop('SIGKILL', 0);
    assert.ok(worker.pid === undefined);
  });

  test('decodes a UTF-8 character split across reads and reports the exit code', async () => {
    const worker = await start([
      'sh',
      '-c',
      "printf 'price: \\342\\202'; sleep 0.3; printf '\\254 ok\\n'; exit 3",
    ]);
    const out = new Output(worker);
    const exit = await exitOf(worker);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.reason, undefined);
    assert.ok(out.text.includes('price: € ok'), JSON.stringify(out.text));
    assert.ok(!out.text.includes('\ufffd'));
  });

  test('work done in the container reaches the host only through its export, onto the attempt branch', async () => {
    const base = await git(repo.root, 'rev-parse', 'main');
    const worker = await start([
      'sh',
      '-c',
      'echo from-container > made.txt && git add made.txt && git -c user.name=a -c user.email=a@b commit -qm "commit from container" && echo loose > loose.txt && git rev-parse HEAD',
    ]);
    const out = new Output(worker);
    const exit = await exitOf(worker);
    assert.equal(exit.exitCode, 0, out.text);
    const made = /[0-9a-f]{40}/.exec(out.text)?.[0];
    assert.ok(made, out.text);
    // The container wrote its own repository only: the host's object store has no such commit.
    await assert.rejects(git(repo.root, 'cat-file', '-e', made));
    const owner = await stat(path.join(repo.worktree, 'made.txt'));
    assert.equal(`${owner.uid}:${owner.gid}`, workerUser(undefined, hostIds()));

    const shell = await ToolContainer.start({
      session,
      taskId: 'task-01',
      attemptId: 'task-01-a1',
      role: 'checks',
      worktree: repo.worktree,
      objectsDir: repo.objectsDir,
      runDir: repo.runDir,
      config: testWorkerConfig(),
      user: workerUser(undefined, hostIds()),
      network: 'none',
    });
    try {
      const exported = await shell.run(exportCommand(base, 'task-01: export'), {
        timeoutMs: 60_000,
        captureStdout: true,
        env: exportEnv({ name: 'Host', email: 'host@example.invalid' }),
      });
      assert.equal(exported.exitCode, 0);
      const work = await importBundle({
        root: repo.root,
        bundle: exported.stdout ?? Buffer.alloc(0),
        branch: repo.branch,
        base,
        attemptId: 'task-01-a1',
      });
      assert.equal(work.changed, true);
      assert.equal(await git(repo.root, 'log', '-1', '--format=%s %an', repo.branch), 'task-01: export Host');
      assert.equal(
        await git(repo.root, 'log', '-1', '--format=%s', `${repo.branch}~1`),
        'commit from container',
      );
      assert.equal(await git(repo.root, 'show', `${repo.branch}:loose.txt`), 'loose');
      assert.equal(await git(repo.root, 'rev-parse', 'main'), base, 'no other ref moved');
    } finally {
      await shell.dispose();
    }
  });

  test('sees only its mounts, runs hardened, and has its API keys in its environment, not in docker inspect', async () => {
    const secret = `sk-ant-test-${Date.now()}`;
    // A value with what a shell or the records could trip on: spaces, quotes, a newline, an =.
    const other = `a b'c"d\n$e=f ${Date.now()}`;
    const digest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 16);
    const worker = await start(
      [
        'sh',
        '-c',
        [
          'ls /work >/dev/null 2>&1 && echo work:visible || echo work:hidden',
          `cat ${repo.root}/README.md >/dev/null 2>&1 && echo readme:visible || echo readme:hidden`,
          'echo hostname:$(cat /etc/hostname)',
          'touch /etc/x 2>/dev/null && echo root:writable || echo root:readonly',
          'touch $HOME/x && echo home:writable',
          'touch /tmp/x && echo tmp:writable',
          'echo id:$(id -u):$(id -g)',
          'grep CapEff /proc/self/status',
          'echo run:$ORCHESTRA_RUN_DIR; touch /run/orchestra/from-container && echo rundir:writable',
          'echo key:$(printf %s "$ANTHROPIC_API_KEY" | sha256sum | cut -c1-16)',
          'echo other:$(printf %s "$OPENAI_API_KEY" | sha256sum | cut -c1-16)',
          'echo plain:$PLAIN_SETTING',
          '[ -e $HOME/.orchestra-secrets ] && echo fifo:left || echo fifo:gone',
          'echo umask:$(umask)',
          'echo done',
        ].join('; '),
      ],
      { env: { ANTHROPIC_API_KEY: secret, OPENAI_API_KEY: other, PLAIN_SETTING: 'kept' } },
    );
    const out = new Output(worker);
    assert.equal((await exitOf(worker)).exitCode, 0, out.text);
    const text = out.text;
    for (const line of [
      'work:hidden',
      'readme:hidden',
      `hostname:${worker.id.slice(0, 12)}`,
      'root:readonly',
      'home:writable',
      'tmp:writable',
      `id:${workerUser(undefined, hostIds())}`,
      'CapEff:\t0000000000000000',
      'run:/run/orchestra',
      'rundir:writable',
      `key:${digest(secret)}`,
      `other:${digest(other)}`,
      'plain:kept',
      'fifo:gone',
      // The wrapper leaves the agent the image's umask, not its own.
      'umask:0022',
    ]) {
      assert.ok(text.includes(line), `expected ${JSON.stringify(line)} in ${JSON.stringify(text)}`);
    }
    await stat(path.join(repo.runDir, 'from-container'));

    const info = await docker.getContainer(worker.id).inspect();
    const visible = JSON.stringify({
      name: info.Name,
      path: info.Path,
      args: info.Args,
      cmd: info.Config.Cmd,
      entrypoint: info.Config.Entrypoint,
      labels: info.Config.Labels,
    });
    assert.ok(!visible.includes(secret), `secret leaked: ${visible}`);
    // Nothing the engine keeps has a key: not Env, not the command.
    const everything = JSON.stringify(info);
    assert.ok(!everything.includes(secret) && !everything.includes('a b'), 'a key is in docker inspect');
    assert.ok(info.Config.Env.includes('PLAIN_SETTING=kept'));
    assert.ok(!info.Config.Env.some((e: string) => e.startsWith('ANTHROPIC_API_KEY=')));
    const logs = (await docker.getContainer(worker.id).logs({ stdout: true, stderr: true })).toString();
    assert.ok(!logs.includes(secret) && !logs.includes('a b'), 'a key is in the container log');
    // The engine's events name each exec it ran, with its command: none holds a key.
    const events = await new Promise<string>((resolve, reject) => {
      docker.getEvents(
        {
          since: Math.floor(Date.now() / 1000) - 120,
          until: Math.floor(Date.now() / 1000) + 1,
          filters: { container: [worker.id] },
        },
        (error, stream) => {
          if (error || !stream) return reject(error);
          let text = '';
          stream.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          stream.on('end', () => resolve(text));
        },
      );
    });
    assert.match(events, /exec_create: \/bin\/sh -c/, 'the hand-over exec is among the events');
    assert.ok(!events.includes(secret) && !events.includes('a b'), 'a key is in the engine events');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.equal(info.HostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(info.HostConfig.MemorySwap, 512 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 1e9);
    assert.equal(info.HostConfig.PidsLimit, 256);
    assert.deepEqual(
      (info.Mounts as { Destination: string }[]).map((m) => m.Destination).sort(),
      [repo.objectsDir, repo.worktree, '/run/orchestra'].sort(),
    );
    assert.equal(info.Config.Labels['orchestra.session'], session);
    assert.equal(info.Config.Labels['orchestra.attempt'], worker.name.replace(`orchestra-${session}-`, ''));
  });

  test('a container found again before its keys arrived (the server died right after the start) gets them', async () => {
    const secret = `sk-ant-test-late-${Date.now()}`;
    const digest = createHash('sha256').update(secret).digest('hex').slice(0, 16);
    // What DockerWorker.create makes, stopped short of the hand-over.
    const container = await docker.createContainer(
      containerSpec({
        name: `orchestra-${session}-late-keys`,
        command: withSecretsWrapper([
          'sh',
          '-c',
          'echo key:$(printf %s "$ANTHROPIC_API_KEY" | sha256sum | cut -c1-16); sleep 30',
        ]),
        env: {},
        labels: { 'orchestra.session': session, 'orchestra.attempt': 'late-keys' },
        worktree: repo.worktree,
        objectsDir: repo.objectsDir,
        runDir: repo.runDir,
        config: testWorkerConfig(),
        user: workerUser(undefined, hostIds()),
        network: 'none',
        tty: true,
      }),
    );
    await container.start();
    const worker = await DockerWorker.reattach(container.id, {
      cols: 80,
      rows: 24,
      env: { ANTHROPIC_API_KEY: secret },
    });
    workers.push(worker);
    const out = new Output(worker);
    await out.waitFor(new RegExp(`key:${digest}`), 15_000);
    await worker.stop('SIGKILL', 0);
  });

  test('another uid gets a home of its own', async () => {
    const worker = await start(
      ['sh', '-c', 'touch $HOME/x && echo home-ok:$(id -u):$(stat -c %u:%a $HOME)'],
      {
        user: '1234:1234',
      },
    );
    const out = new Output(worker);
    assert.equal((await exitOf(worker)).exitCode, 0, out.text);
    assert.ok(out.text.includes('home-ok:1234:1234:700'), out.text);
  });

  test('pause holds output back until resume, and nothing is lost', async () => {
    const worker = await start(['sh', '-c', 'echo ready; read x; seq 1 20000; echo end-of-output; sleep 30']);
    const out = new Output(worker);
    await out.waitFor('ready');
    worker.pause();
    const before = out.text.length;
    worker.write('go\r');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(out.text.length, before, 'no output while paused');
    worker.resume();
    await out.waitFor('end-of-output');
    const numbers = out.text.split('\r\n').filter((l) => /^\d+$/.test(l));
    assert.equal(numbers.length, 20000);
    assert.equal(numbers.at(-1), '20000');
    await worker.stop('SIGKILL', 0);
  });

  test('a read-only worktree refuses writes', async () => {
    const worker = await start(['sh', '-c', 'touch ro.txt 2>/dev/null && echo wrote || echo refused'], {
      readOnlyWorktree: true,
    });
    const out = new Output(worker);
    await exitOf(worker);
    assert.ok(out.text.includes('refused'), out.text);
  });

  test('detach leaves the container running; reattach gets the screen back', async () => {
    const first = await start([
      'sh',
      '-c',
      'trap "stty size" WINCH; echo ready; while :; do sleep 0.1; done',
    ]);
    const out1 = new Output(first);
    await out1.waitFor('ready');
    first.detach();
    assert.equal((await docker.getContainer(first.id).inspect()).State.Running, true);

    // A restarted server attaches with its pane size; the program repaints (here: prints its size).
    const second = await DockerWorker.reattach(first.id, { cols: 90, rows: 25 });
    workers.push(second);
    const out2 = new Output(second);
    await out2.waitFor('25 90');
    await second.stop('SIGKILL', 0);

    const third = await start(['cat']);
    third.detach();
    const fourth = await DockerWorker.reattach(third.id, { cols: 80, rows: 24 });
    workers.push(fourth);
    const out4 = new Output(fourth);
    fourth.write('typed-after-reattach\r');
    await out4.waitFor(/typed-after-reattach\r\n.*typed-after-reattach/s);
    const exited = exitOf(fourth);
    fourth.kill();
    const exit = await exited;
    assert.notEqual(exit.exitCode, 0);
    await fourth.stop();
    await assert.rejects(docker.getContainer(third.id).inspect(), /no such container/i);
  });

  test('findWorkers reports a container that exited while detached, with its exit code', async () => {
    const worker = await start(['sh', '-c', 'sleep 0.5; exit 7']);
    worker.detach();
    let found: Awaited<ReturnType<typeof findWorkers>>[number] | undefined;
    for (let i = 0; i < 50; i++) {
      found = (await findWorkers(session)).find((w) => w.id === worker.id);
      if (found?.state === 'exited') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(found?.state, 'exited');
    assert.equal(found?.exitCode, 7);
    assert.equal(found?.oomKilled, false);
    assert.equal(found?.taskId, 'task-01');

    const again = await DockerWorker.reattach(worker.id, { cols: 80, rows: 24 });
    assert.equal((await exitOf(again)).exitCode, 7);
  });

  test('findWorkers keeps apart two repositories whose sessions and attempts share names', async () => {
    // Two servers on one engine, each with a session `main` running `task-01-a1`: a restarted
    // server must find its own agent's container, never the other repository's.
    const ours = await start(['sleep', '30'], { repo: repo.root, attemptId: 'task-01-same' });
    const theirs = await start(['sleep', '30'], { repo: '/elsewhere/other-repo', attemptId: 'task-01-same' });
    try {
      const found = await findWorkers({ session, repo: repo.root });
      assert.deepEqual(
        found.filter((w) => w.attemptId === 'task-01-same').map((w) => w.id),
        [ours.id],
        "only our repository's container",
      );
      const other = await findWorkers({ session, repo: '/elsewhere/other-repo' });
      assert.deepEqual(
        other.map((w) => w.id),
        [theirs.id],
      );
    } finally {
      await ours.stop();
      await theirs.stop();
    }
  });

  test('a loopback service on the host is reachable through the forwarder', async () => {
    const server = http.createServer((req, res) =>
      res.end(req.url === '/health' ? 'ok-from-host' : 'wrong path'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const pool = new LoopbackForwarderPool(() => dockerBridgeNetwork(docker));
    try {
      const worker = await start(
        [
          'node',
          '-e',
          "console.log('url:' + process.env.ANTHROPIC_BASE_URL); fetch(process.env.ANTHROPIC_BASE_URL + '/health').then((r) => r.text()).then((t) => console.log('body:' + t), (e) => { console.log('fail:' + e.cause); process.exit(1); })",
        ],
        { env: { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` }, forwarders: pool },
      );
      const out = new Output(worker);
      const exit = await exitOf(worker);
      assert.equal(exit.exitCode, 0, out.text);
      assert.ok(out.text.includes('body:ok-from-host'), out.text);
      const bridge = await pool.network();
      const forwarder = await pool.forward({ host: '127.0.0.1', port });
      assert.ok(out.text.includes(`url:http://${bridge.gateway}:${forwarder.port}\r`), out.text);
      assert.notEqual(forwarder.host, '0.0.0.0');
      const info = await docker.getContainer(worker.id).inspect();
      assert.match(info.Config.Labels['orchestra.forwards'] ?? '', new RegExp(`"port":${forwarder.port}`));
    } finally {
      await pool.closeAll();
      server.close();
    }
  });

  test('a reattached worker gets its loopback forward back on the same port', async () => {
    const server = http.createServer((_req, res) => res.end('still-here'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fetchOnEnter =
      "node -e \"fetch(process.env.ANTHROPIC_BASE_URL).then((r) => r.text()).then((t) => console.log('body:' + t), (e) => console.log('fail:' + e.cause?.code))\"";
    try {
      // No shared pool: the worker makes its own and closes it on detach, as a dying server would.
      const first = await start(['sh', '-c', `echo ready; while read x; do ${fetchOnEnter}; done`], {
        env: { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` },
      });
      const out1 = new Output(first);
      await out1.waitFor('ready');
      first.write('\r');
      await out1.waitFor('body:still-here');
      first.detach();

      const pool = new LoopbackForwarderPool(() => dockerBridgeNetwork(docker));
      try {
        const second = await DockerWorker.reattach(first.id, { cols: 80, rows: 24, forwarders: pool });
        workers.push(second);
        const out2 = new Output(second);
        second.write('\r');
        await out2.waitFor(/body:still-here|fail:/);
        assert.ok(out2.text.includes('body:still-here'), out2.text);
        await second.stop('SIGKILL', 0);
      } finally {
        await pool.closeAll();
      }
    } finally {
      server.close();
    }
  });

  test('stats reports memory and processes of a running worker', async () => {
    const worker = await start(['sh', '-c', 'echo ready; sleep 30']);
    const out = new Output(worker);
    await out.waitFor('ready');
    assert.ok((worker.pid ?? 0) > 1, "the host pid of the container's init");
    const stats = await worker.stats();
    assert.ok(stats.memoryMb > 0 && stats.memoryMb < 512, JSON.stringify(stats));
    assert.ok(stats.cpuPercent >= 0);
    assert.ok((stats.pids ?? 0) >= 2, JSON.stringify(stats));
    await worker.stop('SIGKILL', 0);
  });

  test('a missing image and a taken name are explained', async () => {
    await assert.rejects(
      start(['true'], { config: testWorkerConfig({ image: 'orchestra-no-such-image:none' }) }),
      {
        code: 'IMAGE_MISSING',
        message: /orchestra-no-such-image:none is not built/,
      },
    );
    const worker = await start(['sleep', '30']);
    await assert.rejects(
      DockerWorker.create({
        session,
        taskId: 'task-01',
        attemptId: worker.name.replace(`orchestra-${session}-`, ''),
        command: ['true'],
        env: {},
        worktree: repo.worktree,
        objectsDir: repo.objectsDir,
        runDir: repo.runDir,
        config: testWorkerConfig(),
        cols: 80,
        rows: 24,
      }),
      { code: 'SPAWN_FAILED', message: /already exists/ },
    );
    await worker.stop('SIGKILL', 0);
  });
});
