import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig } from '../../src/config/schema.js';
import {
  CONTAINER_CA_FILE,
  CONTAINER_PACKAGE_CACHE,
  CONTAINER_RUN_DIR,
  type ContainerSpecInput,
  containerSpec,
  DEFAULT_WORKER_USER,
  parseUser,
  workerUser,
} from '../../src/workers/container-spec.js';
import { isSecretEnv, withoutSecrets } from '../../src/workers/worker-shell.js';

/** The security policy as data (DESIGN.md, "Security"), checked without an engine. */

test('a worker never runs as root: root becomes 1000:1000, worker.user wins, others keep their uid', () => {
  assert.equal(workerUser(undefined, { uid: 0, gid: 0 }), DEFAULT_WORKER_USER);
  assert.equal(DEFAULT_WORKER_USER, '1000:1000');
  assert.equal(workerUser(undefined, { uid: 1234, gid: 99 }), '1234:99');
  assert.equal(workerUser('2000:3000', { uid: 0, gid: 0 }), '2000:3000');
  assert.deepEqual(parseUser('2000'), { uid: 2000, gid: 2000 });
});

/** An attempt's container input, as the attempt runner makes it. */
const INPUT: ContainerSpecInput = {
  name: 'orchestra-s-task-01-a1',
  command: ['orchestra', 'agent'],
  env: {},
  labels: {},
  worktree: '/repo/.orchestra/worktrees/task-01-a1',
  objectsDir: '/repo/.git/objects',
  runDir: '/repo/.orchestra/runs/task-01-a1',
  config: defaultConfig().worker,
  user: '1000:1000',
  network: 'none',
  tty: false,
};

test('the spec mounts the attempt repository, the host objects read-only and the run dir, nothing else', () => {
  const spec = containerSpec({ ...INPUT, env: { ANTHROPIC_API_KEY: 'sk-test-secret' } });
  const mounts = spec.HostConfig?.Mounts ?? [];
  assert.deepEqual(
    mounts.map((m) => [m.Source, m.Target, m.ReadOnly]),
    [
      ['/repo/.orchestra/worktrees/task-01-a1', '/repo/.orchestra/worktrees/task-01-a1', false],
      ['/repo/.git/objects', '/repo/.git/objects', true],
      ['/repo/.orchestra/runs/task-01-a1', CONTAINER_RUN_DIR, false],
    ],
  );
  assert.ok(!mounts.some((m) => m.Source === '/repo/.git' || /docker\.sock/.test(m.Source ?? '')));
  assert.equal(spec.User, '1000:1000');
  assert.deepEqual(spec.HostConfig?.CapDrop, ['ALL']);
  assert.deepEqual(spec.HostConfig?.SecurityOpt, ['no-new-privileges']);
  assert.equal(spec.HostConfig?.ReadonlyRootfs, true);
  assert.equal(spec.HostConfig?.NetworkMode, 'none');
  assert.match(spec.HostConfig?.Tmpfs?.['/home/agent'] ?? '', /uid=1000,gid=1000/);
  // Secrets only ever in Env; the command line and labels carry none.
  assert.ok(!JSON.stringify([spec.Cmd, spec.Labels, spec.name]).includes('sk-test-secret'));
  assert.equal(spec.Tty, false);
  assert.equal(spec.OpenStdin, false);
});

test('a package cache is a volume; the host CA file is mounted read-only and named for Node', () => {
  const base: ContainerSpecInput = { ...INPUT, name: 'orchestra-s-task-01-a1-setup', network: 'bridge' };

  const spec = containerSpec({
    ...base,
    packageCache: 'orchestra-s-1234abcd-package-cache',
    caFile: '/etc/ssl/corp.pem',
  });
  const mounts = spec.HostConfig?.Mounts ?? [];
  assert.deepEqual(mounts.slice(3), [
    { Type: 'volume', Source: 'orchestra-s-1234abcd-package-cache', Target: CONTAINER_PACKAGE_CACHE },
    { Type: 'bind', Source: '/etc/ssl/corp.pem', Target: CONTAINER_CA_FILE, ReadOnly: true },
  ]);
  assert.ok(spec.Env?.includes(`NODE_EXTRA_CA_CERTS=${CONTAINER_CA_FILE}`));
  // Neither unless asked: the agent's and the checks' containers never get the cache.
  const plain = containerSpec(base);
  assert.equal(plain.HostConfig?.Mounts?.length, 3);
  assert.ok(!plain.Env?.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')));
  assert.equal(defaultConfig().worker.packageCache, true);
});

test('commands a task can influence get no secrets', () => {
  for (const name of [
    'ANTHROPIC_API_KEY',
    'OPENAI_API_KEY',
    'ANTHROPIC_AUTH_TOKEN',
    'GITHUB_TOKEN',
    'AWS_SECRET',
    'DB_PASSWORD',
  ])
    assert.equal(isSecretEnv(name), true, name);
  for (const name of ['PATH', 'HOME', 'ANTHROPIC_BASE_URL', 'MAX_TOKENS_HINT_COUNT'])
    assert.equal(isSecretEnv(name), false, name);
  const env = withoutSecrets({
    PATH: '/bin',
    ANTHROPIC_API_KEY: 'k',
    NODE_TEST_CONTEXT: 'child',
    HOME: '/h',
  });
  assert.deepEqual(env, { PATH: '/bin', HOME: '/h' });
});
