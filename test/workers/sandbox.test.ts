import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { chooseSandbox } from '../../src/workers/sandbox.js';
import { dockerSkipReason, ensureWorkerImage, TEST_IMAGE } from './docker-support.js';

const skip = await dockerSkipReason();
const NO_ENGINE = { DOCKER_HOST: 'unix:///nonexistent/orchestra-test.sock' };

test('local never asks Docker, even when the engine is unreachable', async () => {
  const untouchable = async (): Promise<never> => {
    throw new Error('Docker was asked');
  };
  assert.deepEqual(
    await chooseSandbox('local', undefined, {
      image: TEST_IMAGE,
      probe: untouchable,
      imagePresent: untouchable,
    }),
    {
      kind: 'local',
    },
  );
  // A profile's override wins over the config.
  assert.deepEqual(await chooseSandbox('docker', 'local', { image: TEST_IMAGE, probe: untouchable }), {
    kind: 'local',
  });
});

test('docker refuses clearly when the engine does not answer', async () => {
  await assert.rejects(chooseSandbox('docker', undefined, { image: TEST_IMAGE, env: NO_ENGINE }), {
    code: 'DOCKER_UNAVAILABLE',
    message: /sandbox is "docker" but no Docker engine socket at unix:\/\/\/nonexistent/,
    hint: /start the Docker engine/,
  });
  await assert.rejects(chooseSandbox('auto', 'docker', { image: TEST_IMAGE, env: NO_ENGINE }), {
    code: 'DOCKER_UNAVAILABLE',
  });
});

test('auto falls back to local with a warning when the engine does not answer', async () => {
  const choice = await chooseSandbox('auto', undefined, { image: TEST_IMAGE, env: NO_ENGINE });
  assert.equal(choice.kind, 'local');
  assert.match(
    (choice as { warning?: string }).warning ?? '',
    /Docker unavailable \(no Docker engine socket/,
  );
});

describe('with a running engine', { skip }, () => {
  before(() => ensureWorkerImage());

  test('auto and docker choose Docker when the image is present', async () => {
    assert.deepEqual(await chooseSandbox('auto', undefined, { image: TEST_IMAGE }), {
      kind: 'docker',
      image: TEST_IMAGE,
    });
    assert.deepEqual(await chooseSandbox('local', 'docker', { image: TEST_IMAGE }), {
      kind: 'docker',
      image: TEST_IMAGE,
    });
  });

  test('a missing image: auto warns and runs locally, docker refuses', async () => {
    const image = 'orchestra-no-such-image:none';
    const choice = await chooseSandbox('auto', undefined, { image });
    assert.equal(choice.kind, 'local');
    assert.match(
      (choice as { warning?: string }).warning ?? '',
      /orchestra-no-such-image:none is not built.*orchestra image build/,
    );
    await assert.rejects(chooseSandbox('docker', undefined, { image }), {
      code: 'IMAGE_MISSING',
      hint: /orchestra image build/,
    });
  });
});
