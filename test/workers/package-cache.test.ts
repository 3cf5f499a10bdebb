import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workerUser } from '../../src/workers/container-spec.js';
import { hostIds } from '../../src/workers/docker-worker.js';
import { hostCaFile, openShell, type ShellPlace } from '../../src/workers/shells.js';
import type { ToolRole } from '../../src/workers/tool-container.js';
import type { WorkerShell } from '../../src/workers/worker-shell.js';
import {
  cleanupSession,
  dockerSkipReason,
  ensureWorkerImage,
  makeRepo,
  removeRepo,
  type TestRepo,
  testSession,
  testWorkerConfig,
} from './docker-support.js';

/**
 * The session's package cache (issue 13.3): a Docker volume every attempt's setup mounts, npm's
 * cache inside it, writable by the worker's uid, and absent from containers that run agent code.
 * The host's extra CA file reaches containers read-only. (The npm ci timing is `npm run bench`'s.)
 */
test('the CA file is taken only when NODE_EXTRA_CA_CERTS names a regular file by an absolute path', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-ca-'));
  try {
    const file = path.join(dir, 'ca.pem');
    await writeFile(file, 'pem');
    assert.equal(await hostCaFile({ NODE_EXTRA_CA_CERTS: file }), file);
    assert.equal(await hostCaFile({ NODE_EXTRA_CA_CERTS: dir }), undefined, 'a folder would mount a tree');
    assert.equal(await hostCaFile({ NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') }), undefined);
    assert.equal(await hostCaFile({ NODE_EXTRA_CA_CERTS: 'ca.pem' }), undefined);
    assert.equal(await hostCaFile({}), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const skip = await dockerSkipReason();

describe('the package cache and the CA file', { skip }, () => {
  const session = testSession('cache');
  let repo: TestRepo;
  let caFile: string;

  before(async () => {
    await ensureWorkerImage();
    repo = await makeRepo();
    caFile = path.join(repo.dir, 'corp-ca.pem');
    await writeFile(caFile, '-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n');
  });
  after(async () => {
    await cleanupSession(session);
    await removeRepo(repo);
  });

  function place(attemptId: string): ShellPlace {
    return {
      sandbox: 'docker',
      session,
      repo: repo.root,
      taskId: attemptId.replace(/-a\d+$/, ''),
      attemptId,
      worktree: repo.worktree,
      runDir: repo.runDir,
      objectsDir: repo.objectsDir,
      config: testWorkerConfig(),
      user: workerUser(undefined, hostIds()),
      env: { PATH: '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: caFile },
    };
  }

  async function output(attemptId: string, role: ToolRole, command: string): Promise<string> {
    const shell: WorkerShell = await openShell(place(attemptId), role);
    try {
      let text = '';
      const result = await shell.run(command, { timeoutMs: 30_000, onOutput: (chunk) => (text += chunk) });
      assert.equal(result.exitCode, 0, text);
      return text;
    } finally {
      await shell.dispose();
    }
  }

  test("one attempt's setup fills the cache, the next attempt's setup finds it; checks never see it", async () => {
    const first = await output(
      'task-01-a1',
      'setup',
      'echo "cache=$npm_config_cache"; mkdir -p "$npm_config_cache" && echo kept > "$npm_config_cache/marker" && echo wrote',
    );
    assert.match(first, /cache=\/var\/cache\/orchestra\/npm/);
    assert.match(first, /wrote/, 'the worker uid can write the new volume');
    const second = await output('task-02-a1', 'setup', 'cat "$npm_config_cache/marker"');
    assert.match(second, /kept/);
    const checks = await output(
      'task-02-a1',
      'checks',
      'echo "cache=${npm_config_cache:-unset}"; ls -A /var/cache/orchestra 2>/dev/null | wc -l',
    );
    assert.match(checks, /cache=unset\n0\n/);
  });

  test("the host's NODE_EXTRA_CA_CERTS file is there read-only, and named for Node", async () => {
    const text = await output(
      'task-01-a1',
      'checks',
      'echo "ca=$NODE_EXTRA_CA_CERTS"; head -1 "$NODE_EXTRA_CA_CERTS"; (echo x >> "$NODE_EXTRA_CA_CERTS") 2>/dev/null && echo writable || echo read-only',
    );
    assert.match(text, /ca=\/etc\/orchestra\/extra-ca\.pem\n-----BEGIN CERTIFICATE-----\nread-only/);
  });
});
