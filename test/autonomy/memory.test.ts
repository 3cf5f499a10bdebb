import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import {
  type ArchivedTaskLesson,
  learnFromTask,
  MEMORY_FILE,
  MEMORY_MAX_BYTES,
  readMemory,
  WRITE_MEMORY_TOOL_NAME,
} from '../../src/autonomy/memory.js';
import { isOrchestraError } from '../../src/common/errors.js';
import { configSchema, type OrchestraConfig } from '../../src/config/schema.js';
import {
  anthropicEnv,
  type ScriptedModelServer,
  type ScriptedTurn,
  startScriptedModelServer,
  turn,
} from '../support/scripted-model.js';

let root: string;
let memoryPath: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'orchestra-memory-'));
  memoryPath = path.join(root, MEMORY_FILE);
  await mkdir(path.dirname(memoryPath), { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readMemory', () => {
  test("is '' without a file and the text itself within the bound", async () => {
    assert.equal(await readMemory(root), '');
    await writeFile(memoryPath, '# Memory\n\n- tests need `npm run build` first\n');
    assert.equal(await readMemory(root), '# Memory\n\n- tests need `npm run build` first\n');
    const full = `${'x'.repeat(MEMORY_MAX_BYTES - 1)}\n`;
    await writeFile(memoryPath, full);
    assert.equal(await readMemory(root), full);
  });

  test('an oversize file gives its first part at a line end, and says so', async () => {
    const line = `- ${'lesson '.repeat(13)}\n`;
    await writeFile(memoryPath, line.repeat(Math.ceil((MEMORY_MAX_BYTES * 3) / line.length)));
    const text = await readMemory(root);
    const [kept, note] = [text.slice(0, text.lastIndexOf('[')), text.slice(text.lastIndexOf('['))];
    assert.ok(Buffer.byteLength(kept) <= MEMORY_MAX_BYTES);
    assert.ok(Buffer.byteLength(kept) > MEMORY_MAX_BYTES - line.length);
    assert.equal(kept, line.repeat(kept.length / line.length));
    assert.equal(note, `[${MEMORY_FILE} is over 8 KiB; only its first part is shown]\n`);

    // One long line of multi-byte characters: cut at the bound, never inside a character.
    await writeFile(memoryPath, 'é'.repeat(MEMORY_MAX_BYTES));
    const cut = await readMemory(root);
    const body = cut.slice(0, cut.indexOf('\n'));
    assert.equal(body, 'é'.repeat(MEMORY_MAX_BYTES / 2));
  });

  test('a symlink is refused, not read through', async () => {
    const secret = path.join(root, 'secret.txt');
    await writeFile(secret, 'do not read');
    await symlink(secret, memoryPath);
    await assert.rejects(readMemory(root), (error: unknown) => {
      assert.ok(isOrchestraError(error, 'STATE_CORRUPT'));
      assert.match(error.message, /cannot read \.orchestra\/memory\.md/);
      assert.match(error.hint ?? '', /regular, readable file/);
      return true;
    });
  });
});

describe('learnFromTask', () => {
  let server: ScriptedModelServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const serve = async (turns: ScriptedTurn[]) => {
    server = await startScriptedModelServer({ scenario: { turns } });
    return server;
  };
  const config = (profiles: Record<string, unknown> = {}): OrchestraConfig =>
    configSchema.parse({ profiles });
  const failed: ArchivedTaskLesson = {
    id: 'task-07',
    title: 'Close idle sessions',
    outcome: 'failed',
    reason: 'checks failed: npm test exited 1',
    result: '- outcome: failed\n\n```\nError: dist/ is stale; run npm run build\n```\n',
  };
  const usage = { input_tokens: 2000, output_tokens: 300 };
  const bodyOf = (s: ScriptedModelServer) =>
    s.requests[0]!.body as {
      model: string;
      system: string;
      tools: { name: string }[];
      tool_choice: unknown;
      messages: { content: string }[];
    };

  test('writes what write_memory gives; the memory profile and the task reach the model; cost in USD', async () => {
    await writeFile(memoryPath, '# Memory\n\n- old lesson\n');
    const written = '# Memory\n\n- old lesson\n- CLI tests run dist/: `npm run build` first\n';
    const s = await serve([turn.tool(WRITE_MEMORY_TOOL_NAME, { memory: written }, { usage })]);
    const result = await learnFromTask({
      root,
      config: config({ memory: { model: 'claude-haiku-4-5' } }),
      env: anthropicEnv(s),
      task: failed,
    });
    assert.equal(result.changed, true);
    assert.equal(result.refused, undefined);
    assert.equal(await readFile(memoryPath, 'utf8'), written);
    // Haiku 4.5: $1 in, $5 out per million tokens.
    assert.equal(result.usd, (2000 * 1 + 300 * 5) / 1_000_000);
    assert.deepEqual(
      result.usage.map((u) => [u.model, u.input_tokens, u.output_tokens]),
      [['claude-haiku-4-5', 2000, 300]],
    );

    const sent = bodyOf(s);
    assert.equal(sent.model, 'claude-haiku-4-5');
    assert.deepEqual(
      sent.tools.map((t) => t.name),
      [WRITE_MEMORY_TOOL_NAME],
    );
    assert.deepEqual(sent.tool_choice, { type: 'auto' });
    const prompt = JSON.stringify(sent.messages);
    for (const part of [
      'old lesson',
      'task-07',
      'Close idle sessions',
      'npm test exited 1',
      'dist/ is stale',
    ]) {
      assert.ok(prompt.includes(part), `the prompt has ${part}`);
    }
  });

  test("the reviewer's model without a memory profile; no tool call leaves the file alone", async () => {
    const s = await serve([turn.text('Nothing worth keeping.', { usage })]);
    // The memory profile is built in; a config object without it is what falls back.
    const noMemory = config({ reviewer: { model: 'claude-sonnet-4-5' } });
    delete noMemory.profiles.memory;
    const result = await learnFromTask({
      root,
      config: noMemory,
      env: anthropicEnv(s),
      task: { id: 'task-08', title: 'Rename a flag', outcome: 'done' },
    });
    assert.equal(bodyOf(s).model, 'claude-sonnet-4-5');
    assert.equal(result.changed, false);
    assert.equal(typeof result.usd, 'number');
    await assert.rejects(lstat(memoryPath), { code: 'ENOENT' });
  });

  test('an oversize memory is refused and nothing is written', async () => {
    await writeFile(memoryPath, '- keep me\n');
    const s = await serve([
      turn.tool(WRITE_MEMORY_TOOL_NAME, { memory: `- ${'x'.repeat(MEMORY_MAX_BYTES)}\n` }, { usage }),
    ]);
    const result = await learnFromTask({ root, config: config(), env: anthropicEnv(s), task: failed });
    assert.equal(result.changed, false);
    assert.match(result.refused ?? '', /over the 8192-byte limit/);
    assert.equal(await readFile(memoryPath, 'utf8'), '- keep me\n');
  });

  test('a planted symlink is neither read nor written through, and no request is made', async () => {
    const target = path.join(root, 'bashrc');
    await writeFile(target, 'original\n');
    await symlink(target, memoryPath);
    const s = await serve([turn.tool(WRITE_MEMORY_TOOL_NAME, { memory: 'pwned\n' }, { usage })]);
    await assert.rejects(
      learnFromTask({ root, config: config(), env: anthropicEnv(s), task: failed }),
      (error: unknown) => isOrchestraError(error, 'STATE_CORRUPT'),
    );
    assert.equal(s.requests.length, 0);
    assert.equal(await readFile(target, 'utf8'), 'original\n');
  });

  test('without an API key it says so', async () => {
    await assert.rejects(
      learnFromTask({ root, config: config(), env: {}, task: failed }),
      (error: unknown) => isOrchestraError(error, 'USAGE') && /memory cannot be updated/.test(error.message),
    );
  });
});
