import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ORCHESTRA_BIN } from '../../src/agents/adapters/orchestra.js';

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
    child.kill('SIGTERM');
    await exited;
    assert.ok(sizes.length >= 20, `the probe reported from the running server (${sizes.length} readings)`);
    const most = Math.max(...sizes) / 1024 / 1024;
    assert.ok(most <= 2, `new space stayed at its first size: at most ${most} MiB (without the flag: 8 MiB)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
