import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
let dir: string;
let bundle: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  bundle = path.join(dir, 'orchestra-agent.mjs');
  // The script the build runs, as the build runs it.
  const { bundleAgent } = (await import(new URL('../../scripts/bundle-agent.mjs', import.meta.url).href)) as {
    bundleAgent: (o: { outfile: string }) => Promise<{ bytes: number }>;
  };
  const { bytes } = await bundleAgent({ outfile: bundle });
  assert.ok(bytes > 10_000);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function agent(args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, [bundle, ...args], { cwd: dir, env: { PATH: process.env.PATH, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

test('the bundle is one self-contained ES module for Node 18', async () => {
  const text = await readFile(bundle, 'utf8');
  assert.match(text, /^import \{ createRequire as __orchestraCreateRequire \} from 'node:module';/);
  // Nothing left to resolve from node_modules at run time: the image has none.
  const imports = text.split('\n').filter((line) => /^import .* from ['"]/.test(line));
  assert.ok(imports.length >= 1);
  for (const line of imports) assert.match(line, /from ['"]node:[a-z_/]+['"];$/, line);
});

test('the bundled agent parses its arguments', async () => {
  const usage = await agent(['agent']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: missing --task <file>\nusage: orchestra agent --task/);
  const unknown = await agent(['serve']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "serve"/);
});

test('the bundled agent loads every module it needs and reports a missing task file', async () => {
  const result = await agent(['agent', '--task', 'no-such-task.md', '--run-dir', path.join(dir, 'run')], {
    ANTHROPIC_API_KEY: 'test-key',
    NO_COLOR: '1',
  });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /cannot read the task file .*no-such-task\.md/);
  assert.doesNotMatch(result.stderr, /Cannot find module|ERR_/);
});
