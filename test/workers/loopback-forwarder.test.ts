import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  forwardLoopbackEnv,
  inSubnet,
  isLoopbackHost,
  LoopbackForwarder,
  LoopbackForwarderPool,
  parseLoopbackUrl,
} from '../../src/workers/loopback-forwarder.js';

test('recognises loopback hosts', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', 'api.localhost', '::1', '[::1]']) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ['128.0.0.1', 'example.com', '172.17.0.1', '0.0.0.0', 'localhost.example.com', '::2']) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

test('parses loopback URLs and leaves everything else alone', () => {
  assert.deepEqual(parseLoopbackUrl('http://127.0.0.1:8080'), {
    prefix: 'http://',
    rest: '',
    target: { host: '127.0.0.1', port: 8080 },
  });
  assert.deepEqual(parseLoopbackUrl('https://user:pw@localhost/v1?x=1'), {
    prefix: 'https://user:pw@',
    rest: '/v1?x=1',
    target: { host: '127.0.0.1', port: 443 },
  });
  assert.deepEqual(parseLoopbackUrl('http://[::1]:9/'), {
    prefix: 'http://',
    rest: '/',
    target: { host: '::1', port: 9 },
  });
  for (const value of [
    'https://api.anthropic.com',
    'sk-ant-secret',
    '127.0.0.1:80',
    'ftp://127.0.0.1/',
    'http://127.0.0.1.evil.com/',
  ]) {
    assert.equal(parseLoopbackUrl(value), undefined, value);
  }
});

test('checks IPv4 subnets', () => {
  assert.ok(inSubnet('172.17.0.5', '172.17.0.0/16'));
  assert.ok(inSubnet('::ffff:172.17.3.4', '172.17.0.0/16'));
  assert.ok(!inSubnet('172.18.0.5', '172.17.0.0/16'));
  assert.ok(!inSubnet('127.0.0.1', '172.17.0.0/16'));
  assert.ok(inSubnet('10.1.2.3', '0.0.0.0/0'));
  assert.ok(!inSubnet('nonsense', '172.17.0.0/16'));
});

test('refuses to listen on a wildcard address', async () => {
  await assert.rejects(
    LoopbackForwarder.start({ listenHost: '0.0.0.0', target: { host: '127.0.0.1', port: 1 } }),
    /wildcard/,
  );
  await assert.rejects(
    LoopbackForwarder.start({ listenHost: '::', target: { host: '127.0.0.1', port: 1 } }),
    /wildcard/,
  );
});

async function withHttpServer(fn: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer((req, res) => res.end(`hello ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

test('forwards connections, and drops those from outside the allowed subnet', async () => {
  await withHttpServer(async (port) => {
    const open = await LoopbackForwarder.start({
      listenHost: '127.0.0.2',
      target: { host: '127.0.0.1', port },
    });
    try {
      assert.equal(open.host, '127.0.0.2');
      const res = await fetch(`http://127.0.0.2:${open.port}/health`);
      assert.equal(await res.text(), 'hello /health');
    } finally {
      await open.close();
    }
    const guarded = await LoopbackForwarder.start({
      listenHost: '127.0.0.2',
      target: { host: '127.0.0.1', port },
      allowSubnet: '172.17.0.0/16',
    });
    try {
      await assert.rejects(fetch(`http://127.0.0.2:${guarded.port}/health`));
    } finally {
      await guarded.close();
    }
  });
});

test('rewrites loopback env URLs through one shared forwarder per target', async () => {
  await withHttpServer(async (port) => {
    let resolved = 0;
    const pool = new LoopbackForwarderPool(async () => {
      resolved += 1;
      return { gateway: '127.0.0.3' };
    });
    try {
      const { env, forwarded } = await forwardLoopbackEnv(
        {
          ANTHROPIC_BASE_URL: `http://localhost:${port}/`,
          OTHER_URL: `http://127.0.0.1:${port}/api?q=1`,
          ANTHROPIC_API_KEY: 'sk-ant-not-a-url',
          REMOTE: 'https://api.anthropic.com',
        },
        pool,
      );
      const forwarder = await pool.forward({ host: '127.0.0.1', port });
      assert.equal(env.ANTHROPIC_BASE_URL, `http://127.0.0.3:${forwarder.port}/`);
      assert.equal(env.OTHER_URL, `http://127.0.0.3:${forwarder.port}/api?q=1`);
      assert.equal(env.ANTHROPIC_API_KEY, 'sk-ant-not-a-url');
      assert.equal(env.REMOTE, 'https://api.anthropic.com');
      assert.deepEqual(
        forwarded.map((f) => f.name),
        ['ANTHROPIC_BASE_URL', 'OTHER_URL'],
      );
      assert.equal(resolved, 1);
      assert.equal(await (await fetch(`${env.OTHER_URL}`)).text(), 'hello /api?q=1');
    } finally {
      await pool.closeAll();
    }
  });
});

test('a requested port gets its own listener; the first serves calls without a port', async () => {
  await withHttpServer(async (port) => {
    const pool = new LoopbackForwarderPool(async () => ({ gateway: '127.0.0.4' }));
    try {
      const free = await LoopbackForwarder.start({
        listenHost: '127.0.0.4',
        target: { host: '127.0.0.1', port },
      });
      const wanted = free.port;
      await free.close();
      const pinned = await pool.forward({ host: '127.0.0.1', port }, wanted);
      assert.equal(pinned.port, wanted);
      assert.equal(await pool.forward({ host: '127.0.0.1', port }), pinned);
      assert.equal(await pool.forward({ host: '127.0.0.1', port }, wanted), pinned);
      const other = await pool.forward({ host: '127.0.0.1', port }, 0);
      assert.notEqual(other.port, wanted);
      assert.equal(await (await fetch(`http://127.0.0.4:${other.port}/x`)).text(), 'hello /x');
    } finally {
      await pool.closeAll();
    }
  });
});
