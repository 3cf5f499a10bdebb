import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentArgv } from '../../src/workers/agent-argv.js';

test('parses the worker agent command line', () => {
  assert.deepEqual(
    parseAgentArgv(['agent', '--task', 't.md', '--run-dir', '/run/x', '--resume', '--profile', 'fast'], {}),
    {
      task: 't.md',
      runDir: '/run/x',
      resume: true,
      profile: 'fast',
    },
  );
  assert.deepEqual(parseAgentArgv(['agent', '--task=t.md', '--run-dir=/r'], {}), {
    task: 't.md',
    runDir: '/r',
    resume: false,
  });
});

test('--run-dir falls back to ORCHESTRA_RUN_DIR', () => {
  assert.deepEqual(parseAgentArgv(['agent', '--task', 't.md'], { ORCHESTRA_RUN_DIR: '/run/orchestra' }), {
    task: 't.md',
    runDir: '/run/orchestra',
    resume: false,
  });
});

test('every argument problem is one line', () => {
  assert.deepEqual(parseAgentArgv([], {}), { error: 'missing command "agent"' });
  assert.deepEqual(parseAgentArgv(['tui'], {}), { error: 'unknown command "tui"' });
  assert.deepEqual(parseAgentArgv(['agent', '--run-dir', '/r'], {}), { error: 'missing --task <file>' });
  assert.match(
    (parseAgentArgv(['agent', '--task', 't.md'], {}) as { error: string }).error,
    /missing --run-dir/,
  );
  const unknown = parseAgentArgv(['agent', '--task', 't', '--run-dir', 'r', '--yolo'], {}) as {
    error: string;
  };
  assert.match(unknown.error, /--yolo/);
  assert.ok(!unknown.error.includes('\n'));
  assert.match(
    (parseAgentArgv(['agent', 'extra', '--task', 't', '--run-dir', 'r'], {}) as { error: string }).error,
    /extra/,
  );
});
