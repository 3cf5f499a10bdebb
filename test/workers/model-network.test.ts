import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { dockerClient } from '../../src/workers/docker-engine.js';
import { DockerWorker, type DockerWorkerOptions } from '../../src/workers/docker-worker.js';
import {
  dockerBridgeNetwork,
  isLoopbackHost,
  SocketForwarders,
} from '../../src/workers/loopback-forwarder.js';
import {
  DEFAULT_ANTHROPIC_BASE_URL,
  MODEL_FORWARD_DIR,
  modelEndpoints,
  modelForwardsLabel,
  parseModelForwards,
  planModelOnly,
  RELAY_READY_FILE,
  RELAY_SCRIPT,
  relayCommand,
} from '../../src/workers/model-network.js';
import { anthropicEnv, startScriptedModelServer, turn } from '../support/scripted-model.js';
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

const run = promisify(execFile);

describe('planning the model-only network', () => {
  test('names ANTHROPIC_BASE_URL (its default when unset or empty) and OPENAI_BASE_URL when set', () => {
    assert.deepEqual(modelEndpoints({}), [['ANTHROPIC_BASE_URL', DEFAULT_ANTHROPIC_BASE_URL]]);
    assert.deepEqual(modelEndpoints({ ANTHROPIC_BASE_URL: ' ', OPENAI_BASE_URL: 'http://o:1/v1' }), [
      ['ANTHROPIC_BASE_URL', DEFAULT_ANTHROPIC_BASE_URL],
      ['OPENAI_BASE_URL', 'http://o:1/v1'],
    ]);
  });

  test('an unset ANTHROPIC_BASE_URL gets api.anthropic.com:443 on a loopback alias, env untouched', () => {
    const plan = planModelOnly({ ANTHROPIC_API_KEY: 'sk-ant-x' }, 'w1');
    assert.deepEqual(plan.env, { ANTHROPIC_API_KEY: 'sk-ant-x' });
    assert.deepEqual(plan.extraHosts, ['api.anthropic.com:127.77.0.1']);
    assert.deepEqual(plan.forwards, [
      {
        names: ['ANTHROPIC_BASE_URL'],
        target: { host: 'api.anthropic.com', port: 443 },
        socket: 'w1-0.sock',
        listen: [{ host: '127.77.0.1', port: 443 }],
      },
    ]);
  });

  test('loopback URLs keep their address; localhost and ::1 become 127.0.0.1', () => {
    const plan = planModelOnly(
      {
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:41234',
        OPENAI_BASE_URL: 'http://user:pw@localhost:8080/v1?x=1',
        OTHER_URL: 'http://127.0.0.1:9999/',
      },
      'w1',
    );
    assert.equal(plan.env.ANTHROPIC_BASE_URL, 'http://127.0.0.1:41234');
    assert.equal(plan.env.OPENAI_BASE_URL, 'http://user:pw@127.0.0.1:8080/v1?x=1');
    // Only model endpoints are forwarded; other URLs are left as they are, reaching nothing.
    assert.equal(plan.env.OTHER_URL, 'http://127.0.0.1:9999/');
    assert.deepEqual(plan.extraHosts, []);
    assert.deepEqual(
      plan.forwards.map((f) => [f.socket, f.target, f.listen]),
      [
        ['w1-0.sock', { host: '127.0.0.1', port: 41234 }, [{ host: '127.0.0.1', port: 41234 }]],
        ['w1-1.sock', { host: '127.0.0.1', port: 8080 }, [{ host: '127.0.0.1', port: 8080 }]],
      ],
    );
    const v6 = planModelOnly({ ANTHROPIC_BASE_URL: 'http://[::1]:5000/' }, 'w1');
    assert.equal(v6.env.ANTHROPIC_BASE_URL, 'http://127.0.0.1:5000/');
    assert.deepEqual(v6.forwards[0]?.target, { host: '::1', port: 5000 });
  });

  test('host names are kept (TLS still matches) and mapped; IP addresses are rewritten to their alias', () => {
    const plan = planModelOnly(
      {
        ANTHROPIC_BASE_URL: 'https://Gateway.example.com/anthropic',
        OPENAI_BASE_URL: 'http://10.1.2.3:8000/v1',
      },
      'w1',
    );
    assert.equal(plan.env.ANTHROPIC_BASE_URL, 'https://Gateway.example.com/anthropic');
    assert.equal(plan.env.OPENAI_BASE_URL, 'http://127.77.0.2:8000/v1');
    assert.deepEqual(plan.extraHosts, ['gateway.example.com:127.77.0.1']);
    assert.deepEqual(
      plan.forwards.map((f) => [f.target, f.listen]),
      [
        [{ host: 'gateway.example.com', port: 443 }, [{ host: '127.77.0.1', port: 443 }]],
        [{ host: '10.1.2.3', port: 8000 }, [{ host: '127.77.0.2', port: 8000 }]],
      ],
    );
  });

  test('one forward per target; one alias per name; a value that is no URL reaches nothing', () => {
    const same = planModelOnly(
      {
        ANTHROPIC_BASE_URL: 'https://models.example.com',
        OPENAI_BASE_URL: 'https://models.example.com:443/openai',
      },
      'w1',
    );
    assert.deepEqual(
      same.forwards.map((f) => f.names),
      [['ANTHROPIC_BASE_URL', 'OPENAI_BASE_URL']],
    );
    const ports = planModelOnly(
      {
        ANTHROPIC_BASE_URL: 'https://models.example.com',
        OPENAI_BASE_URL: 'https://models.example.com:8443',
      },
      'w1',
    );
    assert.deepEqual(ports.extraHosts, ['models.example.com:127.77.0.1']);
    assert.deepEqual(
      ports.forwards.map((f) => f.listen),
      [[{ host: '127.77.0.1', port: 443 }], [{ host: '127.77.0.1', port: 8443 }]],
    );
    const junk = planModelOnly({ ANTHROPIC_BASE_URL: 'not a url', OPENAI_BASE_URL: 'ftp://x/' }, 'w1');
    assert.deepEqual(junk.forwards, []);
    assert.equal(junk.env.ANTHROPIC_BASE_URL, 'not a url');
  });

  test('the relay command wraps the agent command; the label round-trips and ignores bridge entries', () => {
    const plan = planModelOnly({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:41234' }, 'w1');
    const cmd = relayCommand(plan.forwards, ['orchestra', 'agent']);
    assert.deepEqual(cmd.slice(0, 2), ['/bin/sh', '-c']);
    assert.deepEqual(cmd.slice(-2), ['orchestra', 'agent']);
    assert.deepEqual(JSON.parse(cmd[5] ?? ''), [
      { socket: `/run/orchestra/${MODEL_FORWARD_DIR}/w1-0.sock`, listen: [['127.0.0.1', 41234]] },
    ]);
    assert.equal(cmd[6], RELAY_READY_FILE);
    const label = modelForwardsLabel(plan.forwards);
    assert.deepEqual(parseModelForwards(label), [
      { names: ['ANTHROPIC_BASE_URL'], target: { host: '127.0.0.1', port: 41234 }, socket: 'w1-0.sock' },
    ]);
    const bridge = JSON.stringify([{ name: 'X', target: { host: '127.0.0.1', port: 1 }, port: 2 }]);
    assert.deepEqual(parseModelForwards(bridge), []);
    const outside = JSON.stringify([{ names: [], target: { host: 'h', port: 1 }, socket: '../../etc/x' }]);
    assert.deepEqual(parseModelForwards(outside), []);
    assert.deepEqual(parseModelForwards('{not json'), []);
  });
});

async function httpServer(host: string, body: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => res.end(`${body} ${req.url}`));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  (server as http.Server).closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An HTTP GET over a Unix socket, as the relay in the container would carry it. */
function getOverSocket(socketPath: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: url, headers: { host: 'x' } }, (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/** An IPv4 address of this machine that is neither loopback nor a Docker bridge's. */
function lanAddress(): string | undefined {
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    if (name === 'docker0' || name.startsWith('br-') || name.startsWith('veth')) continue;
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return undefined;
}

const linuxOnly = process.platform === 'linux' ? undefined : 'socket forwarders need Linux';

describe('socket forwarders on the host', { skip: linuxOnly }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-sockets-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('forward a Unix socket to a loopback service, mode 0666, and clean up on close', async () => {
    const { server, port } = await httpServer('127.0.0.1', 'loopback');
    const forwardDir = path.join(dir, 'a', MODEL_FORWARD_DIR);
    await mkdir(path.dirname(forwardDir));
    try {
      const set = await SocketForwarders.open(forwardDir, [
        { socket: '0.sock', target: { host: '127.0.0.1', port } },
      ]);
      const info = await stat(path.join(forwardDir, '0.sock'));
      assert.ok(info.isSocket());
      assert.equal(info.mode & 0o777, 0o666);
      assert.deepEqual(await readdir(forwardDir), ['0.sock'], 'no staging folder is left');
      assert.equal(await getOverSocket(path.join(forwardDir, '0.sock'), '/ping'), 'loopback /ping');
      await set.closeAll();
      assert.deepEqual(
        await readdir(forwardDir),
        [],
        'the socket is gone; the folder stays for other workers',
      );
    } finally {
      await closeServer(server);
    }
  });

  test('reach a service on a non-loopback address of this machine', { skip: !lanAddress() }, async () => {
    const address = lanAddress() ?? '';
    const { server, port } = await httpServer(address, 'lan');
    const forwardDir = path.join(dir, 'lan');
    try {
      const set = await SocketForwarders.open(forwardDir, [
        { socket: '0.sock', target: { host: address, port } },
      ]);
      assert.equal(await getOverSocket(path.join(forwardDir, '0.sock'), '/x'), 'lan /x');
      await set.closeAll();
    } finally {
      await closeServer(server);
    }
  });

  test('work in a run directory whose path is too long for a socket address', async () => {
    const { server, port } = await httpServer('127.0.0.1', 'long');
    const deep = path.join(dir, 'x'.repeat(60), 'y'.repeat(60), MODEL_FORWARD_DIR);
    await mkdir(path.dirname(deep), { recursive: true });
    try {
      const set = await SocketForwarders.open(deep, [
        { socket: '0.sock', target: { host: '127.0.0.1', port } },
      ]);
      assert.ok(path.join(deep, '0.sock').length > 108);
      assert.ok((await stat(path.join(deep, '0.sock'))).isSocket());
      await set.closeAll();
    } finally {
      await closeServer(server);
    }
  });

  test('refuse a forward folder that is a symlink', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    const link = path.join(dir, 'link');
    await symlink(elsewhere, link);
    await assert.rejects(
      SocketForwarders.open(link, [{ socket: '0.sock', target: { host: '127.0.0.1', port: 1 } }]),
      (error: Error & { code?: string }) => error.code === 'SPAWN_FAILED',
    );
    assert.deepEqual(await readdir(elsewhere), []);
  });

  test('the relay script carries connections from TCP to the socket (run by this node)', async () => {
    const { server, port } = await httpServer('127.0.0.1', 'relayed');
    const forwardDir = path.join(dir, 'relay');
    const set = await SocketForwarders.open(forwardDir, [
      { socket: '0.sock', target: { host: '127.0.0.1', port } },
    ]);
    const free = await httpServer('127.0.0.1', 'free');
    const relayPort = free.port;
    await closeServer(free.server);
    const ready = path.join(dir, 'relay.ready');
    const spec = JSON.stringify([
      { socket: path.join(forwardDir, '0.sock'), listen: [['127.0.0.1', relayPort]] },
    ]);
    const relay = spawn(process.execPath, ['-e', RELAY_SCRIPT, spec, ready], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 500; i++) {
        if (
          await stat(ready).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 10));
      }
      relay.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(relay.exitCode, null, 'SIGINT is for the agent, not the relay');
      const res = await fetch(`http://127.0.0.1:${relayPort}/through`);
      assert.equal(await res.text(), 'relayed /through');
    } finally {
      relay.kill('SIGKILL');
      await set.closeAll();
      await closeServer(server);
    }
  });
});

const skip = await dockerSkipReason();
const docker = dockerClient();

/**
 * Runs in the container (the image's node 18): probes each `[label, host, port]` with a TCP
 * connect, the model endpoint with an HTTP GET, and DNS; prints one `RESULT <json>` line.
 */
const PROBE_SCRIPT = `const net = require('net');
const dns = require('dns').promises;
const fs = require('fs');
const probes = JSON.parse(process.argv[1]);
const tcp = (host, port) => new Promise((resolve) => {
  const started = Date.now();
  const socket = net.connect({ host, port });
  const timer = setTimeout(() => done({ ok: false, code: 'TIMEOUT' }), 3000);
  function done(r) { clearTimeout(timer); socket.destroy(); resolve({ ...r, ms: Date.now() - started }); }
  socket.on('connect', () => done({ ok: true }));
  socket.on('error', (e) => done({ ok: false, code: e.code }));
});
const settle = (p) => p.then((v) => ({ ok: true, value: v }), (e) => ({ ok: false, code: e.code || String(e) }));
(async () => {
  const result = { tcp: {} };
  for (const [label, host, port] of probes) result.tcp[label] = await tcp(host, port);
  result.model = await settle(fetch(process.env.ANTHROPIC_BASE_URL + '/health').then((r) => r.text()));
  result.lookup = await settle(dns.lookup('example.com'));
  result.resolve = await settle(dns.resolve4('example.com'));
  result.fetchName = await settle(fetch('http://example.com/').then((r) => r.status));
  result.anthropic = await settle(dns.lookup('api.anthropic.com').then((a) => a.address));
  result.routes = fs.readFileSync('/proc/net/route', 'utf8').trim().split('\\n').length - 1;
  result.interfaces = fs.readdirSync('/sys/class/net');
  console.log('RESULT ' + JSON.stringify(result));
})();`;

interface ProbeResult {
  tcp: Record<string, { ok: boolean; code?: string; ms: number }>;
  model: { ok: boolean; value?: string; code?: string };
  lookup: { ok: boolean; code?: string };
  resolve: { ok: boolean; code?: string };
  fetchName: { ok: boolean };
  anthropic: { ok: boolean; value?: string };
  routes: number;
  interfaces: string[];
}

function parseResult(text: string): ProbeResult {
  const match = /RESULT (\{.*\})/.exec(text);
  assert.ok(match, `no RESULT line in ${JSON.stringify(text)}`);
  return JSON.parse(match[1] ?? '') as ProbeResult;
}

describe('a model-only worker', { skip, concurrency: true }, () => {
  const session = testSession('model-only');
  const repos: TestRepo[] = [];
  const workers: DockerWorker[] = [];
  const servers: net.Server[] = [];
  let attempt = 0;

  before(async () => {
    await ensureWorkerImage();
  });

  after(async () => {
    for (const w of workers) w.detach();
    await cleanupSession(session);
    await Promise.all(servers.map((s) => closeServer(s)));
    for (const repo of repos) await removeRepo(repo);
  });

  async function serve(host: string, body: string): Promise<number> {
    const { server, port } = await httpServer(host, body);
    servers.push(server);
    return port;
  }

  async function start(
    command: string[],
    extra: Partial<DockerWorkerOptions> = {},
    prepare?: (repo: TestRepo) => Promise<void>,
  ): Promise<{ worker: DockerWorker; repo: TestRepo; out: Output }> {
    attempt += 1;
    const attemptId = `task-01-a${attempt}`;
    const repo = await makeRepo(attemptId);
    repos.push(repo);
    await prepare?.(repo);
    const worker = await DockerWorker.create({
      session,
      taskId: 'task-01',
      attemptId,
      command,
      env: {},
      worktree: repo.worktree,
      objectsDir: repo.objectsDir,
      runDir: repo.runDir,
      config: testWorkerConfig({ network: 'model-only' }),
      cols: 200,
      rows: 30,
      ...extra,
    });
    workers.push(worker);
    return { worker, repo, out: new Output(worker) };
  }

  /** `curl` from the container: the model's health URL, then other addresses (`$4`, `$5`), an outside IP and a name. */
  const CURL_PROBES = [
    'curl -sS -m 3 -o /dev/null -w "CURL-MODEL:%{http_code}\\n" "$ANTHROPIC_BASE_URL/health"',
    'curl -sS -m 3 -o /dev/null "$4" 2>/dev/null && echo CURL-gateway:OK || echo CURL-gateway:FAILED',
    'curl -sS -m 3 -o /dev/null "$5" 2>/dev/null && echo CURL-loopback:OK || echo CURL-loopback:FAILED',
    'curl -sS -m 3 -o /dev/null http://1.1.1.1/ 2>/dev/null && echo CURL-outside:OK || echo CURL-outside:FAILED',
    'curl -sS -m 3 -o /dev/null https://example.com/ 2>/dev/null && echo CURL-name:OK || echo CURL-name:FAILED',
  ].join('; ');

  test('reaches the model endpoint on the host loopback and nothing else: no host, no route, no DNS', async () => {
    const model = await startScriptedModelServer({ scenario: { turns: [] } });
    try {
      const bridge = await dockerBridgeNetwork(docker);
      const otherLoopback = await serve('127.0.0.1', 'other-loopback');
      const onBridgeGateway = await serve(bridge.gateway, 'bridge-gateway');
      const wildcard = await serve('0.0.0.0', 'wildcard');
      const lan = lanAddress();
      const onLan = lan ? await serve(lan, 'lan') : undefined;
      const probes: [string, string, number][] = [
        ['otherLoopback', '127.0.0.1', otherLoopback],
        ['otherLoopbackViaGateway', bridge.gateway, otherLoopback],
        ['bridgeGateway', bridge.gateway, onBridgeGateway],
        ['wildcardViaGateway', bridge.gateway, wildcard],
        ['wildcardViaLoopback', '127.0.0.1', wildcard],
        ['outside', '1.1.1.1', 80],
        ['outsideDns', '8.8.8.8', 53],
      ];
      if (lan && onLan) probes.push(['lan', lan, onLan], ['wildcardViaLan', lan, wildcard]);
      // The same servers answer from the host, so a failure in the container means isolation.
      for (const [label, host, port] of probes) {
        if (label.startsWith('outside') || label.startsWith('otherLoopback') || host === '127.0.0.1')
          continue;
        const res = await fetch(`http://${host}:${port}/`);
        assert.equal(res.status, 200, label);
      }

      const bash = `exec 3<>/dev/tcp/${bridge.gateway}/${onBridgeGateway} && echo BASH-CONNECTED || echo BASH-REFUSED`;
      const { worker, out } = await start(
        [
          'sh',
          '-c',
          `node --no-warnings -e "$1" "$2"; bash -c "$3" 2>/dev/null; ${CURL_PROBES}`,
          'probe',
          PROBE_SCRIPT,
          JSON.stringify(probes),
          bash,
          `http://${bridge.gateway}:${onBridgeGateway}/`,
          `http://127.0.0.1:${otherLoopback}/`,
        ],
        { env: anthropicEnv(model) },
      );
      assert.equal((await exitOf(worker, 30_000)).exitCode, 0, out.text);
      const result = parseResult(out.text);

      assert.equal(result.model.ok, true, JSON.stringify(result));
      assert.match(result.model.value ?? '', /"status":"ok"/);
      for (const [label] of probes) {
        const probe = result.tcp[label];
        assert.equal(probe?.ok, false, `${label} must not connect: ${JSON.stringify(probe)}`);
        // Refused or unreachable at once, no waiting for a timeout.
        assert.ok((probe?.ms ?? Infinity) < 1000, `${label} failed slowly: ${JSON.stringify(probe)}`);
      }
      assert.equal(result.tcp.outside?.code, 'ENETUNREACH');
      assert.equal(result.tcp.bridgeGateway?.code, 'ENETUNREACH');
      assert.equal(result.lookup.ok, false, 'no DNS');
      assert.equal(result.resolve.ok, false, 'no name server');
      assert.equal(result.fetchName.ok, false);
      assert.equal(result.routes, 0, 'no route at all');
      assert.deepEqual(result.interfaces, ['lo']);
      assert.match(out.text, /BASH-REFUSED/);
      // curl, as a person would try it: the model endpoint answers, nothing else does.
      assert.match(out.text, /CURL-MODEL:200/);
      for (const target of ['gateway', 'loopback', 'outside', 'name']) {
        assert.match(out.text, new RegExp(`CURL-${target}:FAILED`), out.text);
      }

      const info = await docker.getContainer(worker.id).inspect();
      assert.equal(info.HostConfig.NetworkMode, 'none');
      assert.ok(info.Config.Env.includes(`ANTHROPIC_BASE_URL=${model.url}`), 'the URL is unchanged');
      const [record, ...more] = parseModelForwards(info.Config.Labels['orchestra.forwards']);
      assert.deepEqual(more, []);
      assert.deepEqual(record?.names, ['ANTHROPIC_BASE_URL']);
      assert.deepEqual(record?.target, { host: '127.0.0.1', port: Number(new URL(model.url).port) });
      assert.match(record?.socket ?? '', /^[0-9a-f]{8}-0\.sock$/);
    } finally {
      await model.close();
    }
  });

  test('the same probes from a bridge worker do reach the host (the probes are not vacuous)', async () => {
    const bridge = await dockerBridgeNetwork(docker);
    const onBridgeGateway = await serve(bridge.gateway, 'bridge-gateway');
    const probes: [string, string, number][] = [['bridgeGateway', bridge.gateway, onBridgeGateway]];
    const { worker, out } = await start(
      ['node', '--no-warnings', '-e', PROBE_SCRIPT, JSON.stringify(probes)],
      {
        config: testWorkerConfig({ network: 'bridge' }),
      },
    );
    assert.equal((await exitOf(worker, 30_000)).exitCode, 0, out.text);
    assert.equal(parseResult(out.text).tcp.bridgeGateway?.ok, true, out.text);
  });

  test('the default endpoint: api.anthropic.com resolves to its loopback alias, where the relay listens', async () => {
    const { worker, out } = await start([
      'sh',
      '-c',
      "grep api.anthropic.com /etc/hosts; node --no-warnings -e \"require('net').connect(443, 'api.anthropic.com').on('connect', () => { console.log('relay:listening'); process.exit(0); }).on('error', (e) => console.log('relay:' + e.code))\"",
    ]);
    assert.equal((await exitOf(worker, 30_000)).exitCode, 0, out.text);
    assert.match(out.text, /127\.77\.0\.1\s+api\.anthropic\.com/);
    // The relay accepts; the host forwarder then finds no internet here, which ends the connection.
    assert.match(out.text, /relay:listening/);
  });

  test('an endpoint on a host name keeps its name, and TLS verifies end to end', async (t) => {
    const name = os.hostname();
    const address = await lookup(name).then(
      (a) => a.address,
      () => undefined,
    );
    const openssl = await run('openssl', ['version']).then(
      () => true,
      () => false,
    );
    if (!address || !openssl || isLoopbackHost(name) || net.isIP(name)) {
      t.skip(`needs openssl and a resolvable host name that is not loopback (${name} -> ${address})`);
      return;
    }
    const certDir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-tls-'));
    try {
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name}`,
        '-keyout',
        path.join(certDir, 'key.pem'),
        '-out',
        path.join(certDir, 'cert.pem'),
      ]);
      const cert = await readFile(path.join(certDir, 'cert.pem'));
      const server = https.createServer(
        { key: await readFile(path.join(certDir, 'key.pem')), cert },
        (req, res) => res.end(`tls-ok host=${req.headers.host} ${req.url}`),
      );
      await new Promise<void>((resolve) => server.listen(0, address, resolve));
      servers.push(server);
      const port = (server.address() as AddressInfo).port;
      const url = `https://${name}:${port}/v1`;
      const { worker, out } = await start(
        [
          'node',
          '--no-warnings',
          '-e',
          "fetch(process.env.OPENAI_BASE_URL + '/models').then((r) => r.text()).then((t) => console.log('body:' + t), (e) => console.log('fail:' + e.cause))",
        ],
        {
          env: {
            ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
            OPENAI_BASE_URL: url,
            NODE_EXTRA_CA_CERTS: '/run/orchestra/ca.pem',
          },
        },
        (repo) => writeFile(path.join(repo.runDir, 'ca.pem'), cert),
      );
      await out.waitFor(/body:|fail:/, 20_000);
      assert.match(out.text, new RegExp(`body:tls-ok host=${name}:${port} /v1/models`));
      await exitOf(worker, 20_000);
      const info = await docker.getContainer(worker.id).inspect();
      assert.ok(info.Config.Env.includes(`OPENAI_BASE_URL=${url}`), 'the URL keeps its name');
      assert.deepEqual(info.HostConfig.ExtraHosts, [`${name.toLowerCase()}:127.77.0.1`]);
    } finally {
      await rm(certDir, { recursive: true, force: true });
    }
  });

  test('an endpoint on a non-loopback address of the host goes through its alias', {
    skip: !lanAddress(),
  }, async () => {
    const lan = lanAddress() ?? '';
    const port = await serve(lan, 'lan-endpoint');
    const { worker, out } = await start(
      [
        'node',
        '--no-warnings',
        '-e',
        "console.log('url:' + process.env.OPENAI_BASE_URL); fetch(process.env.OPENAI_BASE_URL + '/models').then((r) => r.text()).then((t) => console.log('body:' + t), (e) => console.log('fail:' + e.cause))",
      ],
      { env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', OPENAI_BASE_URL: `http://${lan}:${port}/v1` } },
    );
    assert.equal((await exitOf(worker, 30_000)).exitCode, 0, out.text);
    assert.ok(out.text.includes(`url:http://127.77.0.1:${port}/v1`), out.text);
    assert.ok(out.text.includes('body:lan-endpoint /v1/models'), out.text);
  });

  test('a reattached worker gets its sockets back; stop removes them', async () => {
    const port = await serve('127.0.0.1', 'still-here');
    const fetchOnEnter =
      "node --no-warnings -e \"fetch(process.env.ANTHROPIC_BASE_URL).then((r) => r.text()).then((t) => console.log('body:' + t), (e) => console.log('fail:' + (e.cause && e.cause.code)))\"";
    const {
      worker: first,
      out: out1,
      repo,
    } = await start(['sh', '-c', `echo ready; while read x; do ${fetchOnEnter}; done`], {
      env: { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` },
    });
    const info = await docker.getContainer(first.id).inspect();
    const [record] = parseModelForwards(info.Config.Labels['orchestra.forwards']);
    const socket = path.join(repo.runDir, MODEL_FORWARD_DIR, record?.socket ?? 'missing');
    await out1.waitFor('ready');
    first.write('\r');
    await out1.waitFor('body:still-here /');
    first.detach();
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(stat(socket), /ENOENT/, 'a detached worker leaves no listener behind');

    const second = await DockerWorker.reattach(first.id, { cols: 80, rows: 24 });
    workers.push(second);
    const out2 = new Output(second);
    assert.ok((await stat(socket)).isSocket());
    second.write('\r');
    await out2.waitFor(/body:|fail:/);
    assert.ok(out2.text.includes('body:still-here'), out2.text);
    await second.stop('SIGKILL', 0);
    await assert.rejects(stat(socket), /ENOENT/, 'stop removes the socket');
  });

  test('the built-in agent works a task to completion through the relay', async () => {
    const model = await startScriptedModelServer({
      scenario: {
        turns: [
          turn.tool('bash', {
            command: 'echo agent-was-here > agent.txt && git add agent.txt && git commit -qm "agent commit"',
          }),
          turn.tool('task_complete', { summary: 'added agent.txt' }),
        ],
      },
    });
    try {
      attempt += 1;
      const attemptId = `task-01-a${attempt}`;
      const repo = await makeRepo(attemptId);
      repos.push(repo);
      await writeFile(
        path.join(repo.runDir, 'task-01.md'),
        '# task-01: Leave a mark\n\n## Goal\nCreate agent.txt and commit it.\n',
      );
      const worker = await DockerWorker.create({
        session,
        taskId: 'task-01',
        attemptId,
        command: ['orchestra', 'agent', '--task', '/run/orchestra/task-01.md', '--run-dir', '/run/orchestra'],
        env: {
          ...anthropicEnv(model),
          GIT_AUTHOR_NAME: 'Agent',
          GIT_AUTHOR_EMAIL: 'agent@example.invalid',
          GIT_COMMITTER_NAME: 'Agent',
          GIT_COMMITTER_EMAIL: 'agent@example.invalid',
        },
        worktree: repo.worktree,
        objectsDir: repo.objectsDir,
        runDir: repo.runDir,
        config: testWorkerConfig({ network: 'model-only' }),
        cols: 100,
        rows: 30,
      });
      workers.push(worker);
      const out = new Output(worker);
      assert.equal((await exitOf(worker, 30_000)).exitCode, 0, out.text);
      assert.equal(model.turnsLeft().default, 0, 'both scripted turns were asked for');
      // The worktree belongs to the worker's uid (orchestra as root hands it over).
      assert.equal(
        await git(repo.worktree, '-c', 'safe.directory=*', 'log', '-1', '--format=%s', repo.branch),
        'agent commit',
        out.text,
      );
    } finally {
      await model.close();
    }
  });
});
