import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ORCHESTRA_BIN } from '../../src/agents/adapters/orchestra.js';

const execFileAsync = promisify(execFile);

/**
 * Issue 12, server and client RSS: `bin/orchestra` keeps V8's new space at its first size while
 * orchestra starts (src/common/young-generation.ts). Loading the bundle and starting a server is
 * enough of a burst to grow it to 8 MiB without that, and V8 does not give it back. A preloaded
 * probe reads the real server's heap as it starts and idles after releasing the hold.
 */
test('a session server started through bin/orchestra keeps new space at its first size', {
  timeout: 30_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'orchestra-young-'));
  try {
    const probe = join(dir, 'probe.cjs');
    const out = join(dir, 'probe.out');
    await writeFile(
      probe,
      `const v8 = require('node:v8'); const fs = require('node:fs');
       setInterval(() => {
         const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
         fs.appendFileSync(${JSON.stringify(out)}, space.space_size + '\\n');
       }, 100).unref();`,
    );
    const child = spawn(process.execPath, ['--require', probe, ORCHESTRA_BIN, 'server', '-s', 'young'], {
      cwd: dir,
      env: { ...process.env, ORCHESTRA_TMPDIR: join(dir, 'sockets') },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let sizes: number[] = [];
    for (let i = 0; i < 100 && sizes.length < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      sizes = (await readFile(out, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
    }
    assert.ok(sizes.length >= 20, `the probe reported from the running server (${sizes.length} readings)`);
    const idle = Math.max(...sizes) / 1024 / 1024;
    // Released once running: a flood of pane output may grow it again.
    const env = { ...process.env, ORCHESTRA_TMPDIR: join(dir, 'sockets') };
    await execFileAsync(
      process.execPath,
      [ORCHESTRA_BIN, 'new-pane', '-t', 'young', '--', 'seq', '1', '400000'],
      {
        cwd: dir,
        env,
      },
    );
    let flooded = 0;
    for (let i = 0; i < 100 && flooded <= 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const all = (await readFile(out, 'utf8')).split('\n').filter(Boolean).map(Number);
      flooded = Math.max(...all.slice(sizes.length)) / 1024 / 1024;
    }
    child.kill('SIGTERM');
    await exited;
    assert.ok(
      idle <= 2,
      `new space stayed at its first size while starting: at most ${idle} MiB (held from the first line: 1 MiB; unheld: 8 MiB)`,
    );
    assert.ok(flooded > 2, `released, new space grows under pane output (${flooded} MiB)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('only the long-lived commands hold new space', async () => {
  // Each call that holds sets a V8 flag in this process; the release puts the default back.
  const { holdYoungGeneration, releaseYoungGeneration } = await import(
    '../../src/common/young-generation.js'
  );
  try {
    for (const argv of [['tui'], ['attach', '-t', 's'], ['a'], ['--debug', 'server', '-s', 'x']])
      assert.equal(holdYoungGeneration(['node', 'orchestra', ...argv]), true, argv.join(' '));
    for (const argv of [['agent', 'run'], ['model-server'], ['ls'], ['merge', '3'], []])
      assert.equal(holdYoungGeneration(['node', 'orchestra', ...argv]), false, argv.join(' ') || '(none)');
  } finally {
    releaseYoungGeneration();
  }
});
