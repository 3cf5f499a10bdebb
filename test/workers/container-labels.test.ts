import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workerContainerName } from '../../src/workers/container-labels.js';

test('container names carry the repository, so same-named sessions on one engine never share one', () => {
  const here = workerContainerName('main', 'task-01-a1', '/home/me/one/main');
  const there = workerContainerName('main', 'task-01-a1', '/home/me/two/main');
  assert.match(here, /^orchestra-main-[0-9a-f]{8}-task-01-a1$/);
  assert.notEqual(here, there);
  assert.equal(
    workerContainerName('main', 'task-01-a1', '/home/me/one/main'),
    here,
    'the same repository, the same name',
  );
  assert.equal(
    workerContainerName('main', 'task-01-a1'),
    'orchestra-main-task-01-a1',
    'no repository: the old form',
  );
  assert.throws(() => workerContainerName('bad name', 'task-01-a1'), /not a valid container name/);
});
