import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyEdits, modify } from 'jsonc-parser';
import { parseDockerAddress } from '../../src/config/docker-address.js';
import { configSchema } from '../../src/config/schema.js';
import { checkHostKey } from '../../src/workers/known-hosts.js';
import { makeRepo } from '../git/fixtures.js';
import { runCli } from '../support/cli.js';
import {
  type SecondDockerd,
  secondDockerdSkipReason,
  startSecondDockerd,
} from '../support/second-dockerd.js';
import { sshdSkipReason, startSshd, type TestSshd } from '../support/sshd.js';
import { dockerSkipReason, ensureWorkerImage } from './docker-support.js';

/** Worker hosts (issue 14.1): the config's `worker.hosts`, host keys, and `orchestra hosts`. */

test('engine addresses: local, unix, ssh with a user, tcp with a port; anything else says what it expects', () => {
  assert.deepEqual(parseDockerAddress('local'), { kind: 'local' });
  assert.deepEqual(parseDockerAddress('unix:///run/docker.sock'), { kind: 'unix', path: '/run/docker.sock' });
  assert.deepEqual(parseDockerAddress('ssh://me@build-1'), {
    kind: 'ssh',
    user: 'me',
    host: 'build-1',
    port: 22,
  });
  assert.deepEqual(parseDockerAddress('ssh://me@127.0.0.1:2222'), {
    kind: 'ssh',
    user: 'me',
    host: '127.0.0.1',
    port: 2222,
  });
  assert.deepEqual(parseDockerAddress('tcp://build-1:2376'), { kind: 'tcp', host: 'build-1', port: 2376 });
  for (const [text, problem] of [
    ['ssh://build-1', /needs the user/],
    ['tcp://build-1', /needs the port/],
    ['http://build-1:80', /unsupported scheme http/],
    ['unix://relative', /absolute path/],
    ['build-1', /expected "local"/],
  ] as const) {
    const parsed = parseDockerAddress(text);
    assert.ok('problem' in parsed, text);
    assert.match(parsed.problem, problem);
  }
});

test('the config refuses a bad address, two hosts of one name, and tls on an ssh host', () => {
  const parse = (hosts: unknown) => configSchema.safeParse({ worker: { hosts } });
  assert.equal(parse([{ name: 'a', docker: 'local', capacity: 2 }]).success, true);
  const messages = (hosts: unknown) => {
    const result = parse(hosts);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(
    messages([{ name: 'a', docker: 'ssh://h', capacity: 1 }]).join('\n'),
    /worker\.hosts\.0\.docker: .*needs the user/,
  );
  assert.match(
    messages([
      { name: 'a', docker: 'local', capacity: 1 },
      { name: 'a', docker: 'ssh://u@h', capacity: 1 },
    ]).join('\n'),
    /worker\.hosts\.1\.name: "a" names two hosts/,
  );
  assert.match(
    messages([{ name: 'a', docker: 'ssh://u@h', capacity: 1, tls: { ca: 'c', cert: 'c', key: 'k' } }]).join(
      '\n',
    ),
    /tls files are for a tcp:\/\/ engine only/,
  );
  assert.match(
    messages([{ name: 'A b', docker: 'local', capacity: 1 }]).join('\n'),
    /worker\.hosts\.0\.name/,
  );
  assert.match(
    messages([{ name: 'a', docker: 'local', capacity: 0 }]).join('\n'),
    /worker\.hosts\.0\.capacity/,
  );
});

test('host keys are checked as ssh does: plain and bracketed names, hashed names, wildcards, revoked and changed keys', () => {
  const key = randomBytes(51);
  const other = randomBytes(51);
  const b64 = key.toString('base64');
  const salt = randomBytes(20);
  const hashed = (name: string) =>
    `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  assert.equal(checkHostKey(`build-1 ssh-ed25519 ${b64}\n`, 'build-1', 22, key), 'known');
  assert.equal(
    checkHostKey(`build-1 ssh-ed25519 ${b64}\n`, 'build-1', 2222, key),
    'unknown',
    'another port is another name',
  );
  assert.equal(checkHostKey(`[build-1]:2222 ssh-ed25519 ${b64}\n`, 'build-1', 2222, key), 'known');
  assert.equal(
    checkHostKey(`${hashed('[10.0.0.5]:2222')} ssh-ed25519 ${b64}\n`, '10.0.0.5', 2222, key),
    'known',
  );
  assert.equal(checkHostKey(`*.lan,!evil.lan ssh-ed25519 ${b64}\n`, 'box.lan', 22, key), 'known');
  assert.equal(checkHostKey(`*.lan,!evil.lan ssh-ed25519 ${b64}\n`, 'evil.lan', 22, key), 'unknown');
  assert.equal(checkHostKey(`build-1 ssh-ed25519 ${b64}\n`, 'build-1', 22, other), 'changed');
  assert.equal(
    checkHostKey(`@revoked * ssh-ed25519 ${b64}\nbuild-1 ssh-ed25519 ${b64}\n`, 'build-1', 22, key),
    'revoked',
  );
  assert.equal(checkHostKey('# only a comment\n\n', 'build-1', 22, key), 'unknown');
});

const skip = (await dockerSkipReason()) ?? (await sshdSkipReason());

/** A repository set up for orchestra whose worker hosts are this machine and `name` at `url`. */
async function repoWithHosts(name: string, url: string): Promise<string> {
  const root = await makeRepo({ initialized: false });
  const init = await runCli(['init'], { cwd: root });
  assert.equal(init.code, 0, init.stderr);
  const file = join(root, '.orchestra', 'orchestra.json');
  const text = await readFile(file, 'utf8');
  const hosts = [
    { name: 'local', docker: 'local', capacity: 1 },
    { name, docker: url, capacity: 1 },
  ];
  await writeFile(file, applyEdits(text, modify(text, ['worker', 'hosts'], hosts, {})));
  return root;
}

describe('orchestra hosts, with an engine reached over a real sshd', { skip: skip ?? false }, () => {
  let sshd: TestSshd;
  let root: string;

  before(async () => {
    sshd = await startSshd();
    root = await repoWithHosts('over-ssh', sshd.url);
  });
  after(async () => {
    await sshd?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const hostsJson = async (env: NodeJS.ProcessEnv) => {
    const result = await runCli(['hosts', '--json'], { cwd: root, env: { ...process.env, ...env } });
    return {
      code: result.code,
      stderr: result.stderr,
      hosts: JSON.parse(result.stdout) as Record<string, unknown>[],
    };
  };

  test('both hosts answer, with their engine version; the image is reported for each', async () => {
    const { code, hosts, stderr } = await hostsJson(sshd.env);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '', 'no warnings');
    assert.deepEqual(
      hosts.map((h) => [h.name, h.reachable, typeof h.version, h.capacity, h.running]),
      [
        ['local', true, 'string', 1, 0],
        ['over-ssh', true, 'string', 1, 0],
      ],
    );
    assert.equal(hosts[1]?.version, hosts[0]?.version, 'the same engine, reached two ways');
    assert.equal((hosts[1]?.image as { tag: string }).tag, 'orchestra-worker:latest');
  });

  test('a host key that is not in known_hosts is refused, with the reason', async () => {
    await writeFile(join(sshd.env.HOME, '.ssh', 'known_hosts'), '');
    try {
      const { code, hosts } = await hostsJson(sshd.env);
      assert.equal(code, 1);
      assert.equal(hosts[1]?.reachable, false);
      assert.match(
        String(hosts[1]?.reason),
        /host key of \[127\.0\.0\.1\]:\d+ is not in ~\/\.ssh\/known_hosts/,
      );
    } finally {
      const key = (await readFile(join(sshd.env.HOME, '..', 'host_key.pub'), 'utf8')).trim().split(/\s+/);
      await writeFile(
        join(sshd.env.HOME, '.ssh', 'known_hosts'),
        `[127.0.0.1]:${sshd.port} ${key[0]} ${key[1]}\n`,
      );
    }
  });

  test('with sshd stopped, the host is unreachable with the reason and the command exits 1; the table says so too', async () => {
    sshd.process.kill('SIGTERM');
    await new Promise((resolve) => sshd.process.once('exit', resolve));
    const { code, hosts } = await hostsJson(sshd.env);
    assert.equal(code, 1);
    assert.equal(hosts[0]?.reachable, true);
    assert.equal(hosts[1]?.reachable, false);
    assert.match(
      String(hosts[1]?.reason),
      /SSH server at ssh:\/\/.*refused the connection \(sshd not running\?\)/,
    );
    const table = await runCli(['hosts'], { cwd: root, env: { ...process.env, ...sshd.env } });
    assert.match(table.stdout, /^HOST\s+DOCKER\s+STATE/m);
    assert.match(table.stdout, /over-ssh\s+ssh:\/\/\S+\s+unreachable/);
  });
});

const shipSkip = skip ?? secondDockerdSkipReason();

describe('the worker image shipped to a second engine, reached over SSH, that lacks it', {
  skip: shipSkip ?? false,
}, () => {
  let engine: SecondDockerd;
  let sshd: TestSshd;
  let root: string;

  before(async () => {
    await ensureWorkerImage();
    engine = await startSecondDockerd();
    // `docker system dial-stdio` over this sshd reaches the second engine.
    sshd = await startSshd({ setEnv: { DOCKER_HOST: engine.host } });
    root = await repoWithHosts('far', sshd.url);
  });
  after(async () => {
    await sshd?.stop();
    await engine?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    runCli(args, { cwd: root, env: { ...process.env, ...sshd.env }, timeoutMs: 300_000 });
  const far = async () => {
    const result = await cli(['hosts', '--json']);
    return (
      JSON.parse(result.stdout) as { name: string; image?: { present: boolean; current?: boolean } }[]
    ).find((h) => h.name === 'far');
  };

  test('the host starts without the image; ship sends it with progress and says so; then it is current there', async () => {
    assert.deepEqual((await far())?.image, {
      tag: 'orchestra-worker:latest',
      present: false,
      current: false,
    });
    const ship = await cli(['image', 'ship', 'far']);
    assert.equal(ship.code, 0, ship.stderr);
    const progress = ship.stderr.split('\n').filter((l) => /^sent \d+ MB of about \d+ MB$/.test(l));
    assert.ok(progress.length >= 2, `progress lines: ${ship.stderr}`);
    assert.match(ship.stderr, /Loaded image: orchestra-worker:latest/);
    assert.match(
      ship.stdout,
      /^shipped orchestra-worker:latest to far: \d+ MB in [\d.]+ s \(saved here, loaded there; nothing was built\)/,
    );
    assert.deepEqual((await far())?.image, { tag: 'orchestra-worker:latest', present: true, current: true });
    const again = await cli(['image', 'ship', 'far']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /far has orchestra-worker:latest already/);
  });

  test('a host the config does not name, and this machine itself, are refused with a hint', async () => {
    const unknown = await cli(['image', 'ship', 'nowhere']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no worker host named "nowhere"/);
    assert.match(unknown.stderr, /local, far/);
    const local = await cli(['image', 'ship', 'local']);
    assert.notEqual(local.code, 0);
    assert.match(local.stderr, /this machine's engine/);
  });
});
