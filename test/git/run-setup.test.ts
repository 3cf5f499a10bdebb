import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OUTPUT_TAIL_CHARS, runSetup } from '../../src/git/run-setup.js';
import { removeDir, tempDir } from './fixtures.js';

describe('runSetup', () => {
  let dir: string;

  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await removeDir(dir);
  });

  test('runs each command in the given directory with the extra env', async () => {
    const chunks: string[] = [];
    const result = await runSetup(dir, ['printf "%s" "$PWD" > where.txt', 'echo "value=$SETUP_VALUE"'], {
      env: { SETUP_VALUE: 'forty-two' },
      onOutput: (chunk) => chunks.push(chunk),
    });
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.steps.map((s) => s.exitCode),
      [0, 0],
    );
    assert.equal(await readFile(join(dir, 'where.txt'), 'utf8'), dir);
    assert.equal(result.steps[1]?.outputTail, 'value=forty-two\n');
    assert.ok(result.steps.every((s) => s.durationMs >= 0));
    const live = chunks.join('');
    assert.match(live, /\$ echo "value=\$SETUP_VALUE"\nvalue=forty-two\n/);
  });

  test('stops at the first failure and reports its exit code and output', async () => {
    const result = await runSetup(dir, [
      'echo first > first.txt',
      'echo broken >&2; exit 7',
      'echo never > never.txt',
    ]);
    assert.equal(result.ok, false);
    assert.equal(result.steps.length, 2);
    assert.equal(result.steps[1]?.exitCode, 7);
    assert.equal(result.steps[1]?.outputTail, 'broken\n');
    assert.equal(await readFile(join(dir, 'first.txt'), 'utf8'), 'first\n');
    await assert.rejects(readFile(join(dir, 'never.txt')), { code: 'ENOENT' });
  });

  test('an undefined env value removes the variable', async () => {
    process.env.ORCHESTRA_SETUP_TEST_VAR = 'present';
    try {
      const result = await runSetup(dir, ['printenv ORCHESTRA_SETUP_TEST_VAR || echo unset'], {
        env: { ORCHESTRA_SETUP_TEST_VAR: undefined },
      });
      assert.equal(result.steps[0]?.outputTail, 'unset\n');
    } finally {
      delete process.env.ORCHESTRA_SETUP_TEST_VAR;
    }
  });

  test('a timeout ends the command and everything it started', async () => {
    const started = Date.now();
    const result = await runSetup(dir, ['sleep 30 & sleep 30; echo after'], { timeoutMs: 300 });
    assert.ok(Date.now() - started < 5000, 'did not wait for the sleeps');
    assert.equal(result.ok, false);
    const step = result.steps[0];
    assert.equal(step?.timedOut, true);
    assert.equal(step?.exitCode, null);
    assert.equal(step?.signal, 'SIGTERM');
    assert.match(step?.outputTail ?? '', /timed out/);
  });

  test('a background process holding the pipe does not hold up a finished command', async () => {
    const started = Date.now();
    const result = await runSetup(dir, ['(sleep 3; echo late) & echo done']);
    assert.ok(Date.now() - started < 2000, 'returned after the shell exited');
    assert.equal(result.ok, true);
    assert.match(result.steps[0]?.outputTail ?? '', /^done\n/);
  });

  test('keeps only the tail of long output', async () => {
    const result = await runSetup(dir, ['i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done']);
    const tail = result.steps[0]?.outputTail ?? '';
    assert.equal(tail.length, OUTPUT_TAIL_CHARS);
    assert.ok(tail.endsWith('line 2999\n'));
  });

  test('a missing directory fails as data, not an exception', async () => {
    const result = await runSetup(join(dir, 'missing'), ['true']);
    assert.equal(result.ok, false);
    assert.equal(result.steps[0]?.exitCode, null);
    assert.match(result.steps[0]?.outputTail ?? '', /failed to start/);
  });

  test('no commands is a success', async () => {
    assert.deepEqual(await runSetup(dir, []), { ok: true, steps: [] });
  });
});
