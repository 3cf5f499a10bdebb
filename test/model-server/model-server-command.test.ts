import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { isOrchestraError } from '../../src/common/errors.js';
import { runModelServerCommand } from '../../src/model-server/model-server-command.js';
import { TEST_API_KEY } from '../support/scripted-model.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const COMMAND = fileURLToPath(new URL('../../src/model-server/model-server-command.ts', import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('serves a YAML scenario file in its own process until SIGTERM', async () => {
  const scenario = join(dir, 'demo.yaml');
  await writeFile(scenario, 'turns:\n  - text: ["from ", "the file"]\n');
  const script = [
    `import { runModelServerCommand } from ${JSON.stringify(COMMAND)};`,
    `await runModelServerCommand({ scenario: process.argv[1], port: 0 });`,
    `console.log('stopped');`,
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, scenario], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /^model server listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      exited.then((code) => reject(new Error(`exited ${code} before listening\n${stdout}\n${stderr}`)));
    });
    const sdk = new Anthropic({ baseURL: url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const text = await sdk.messages
      .stream({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      .finalText();
    assert.equal(text, 'from the file');
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(stdout.trim().split('\n'), [`model server listening on ${url}`, 'stopped']);
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
});

test('stops on its abort signal and reports a bad scenario file as an OrchestraError', async () => {
  const scenario = join(dir, 'one.json');
  await writeFile(scenario, JSON.stringify({ turns: [{ text: 'x' }] }));
  const lines: string[] = [];
  const controller = new AbortController();
  const running = runModelServerCommand(
    { scenario, host: '127.0.0.1' },
    { out: (l) => lines.push(l), signal: controller.signal },
  );
  while (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
  const url = lines[0]?.replace('model server listening on ', '') ?? '';
  assert.equal((await fetch(`${url}/health`)).status, 200);
  controller.abort();
  await running;
  await assert.rejects(fetch(`${url}/health`));

  await assert.rejects(runModelServerCommand({ scenario: join(dir, 'absent.json') }), (error: unknown) => {
    return isOrchestraError(error, 'CONFIG_UNREADABLE');
  });
});
