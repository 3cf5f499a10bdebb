import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../src/common/atomic-write.js';
import { orchestraPaths } from '../../src/common/paths.js';
import { deepMerge } from '../../src/config/deep-merge.js';
import { loadConfig, parseConfigText, validateConfig } from '../../src/config/load.js';
import { configSchema, defaultConfig } from '../../src/config/schema.js';
import { configTemplate, TEMPLATE_EXAMPLES } from '../../src/config/template.js';

/** Removes the `// ` in front of every commented-out setting (lines whose code starts with `"`, `}` or `]`). */
function uncommentSettings(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/^(\s*)\/\/ (\s*["}\]])/, '$1$2'))
    .join('\n');
}

test('the template validates as written and equals the defaults with its base branch', () => {
  const text = configTemplate({ baseBranch: 'trunk' });
  const config = validateConfig(parseConfigText(text, 'orchestra.json'), 'orchestra.json');
  assert.deepEqual(config, { ...defaultConfig(), baseBranch: 'trunk' });
});

test('the live keys are the common ones, each under a comment', () => {
  const lines = configTemplate({ baseBranch: 'main' }).split('\n');
  const live = lines.filter((line) => /^ {2}"/.test(line)).map((line) => /^ {2}"(\w+)"/.exec(line)?.[1]);
  assert.deepEqual(live, ['baseBranch', 'setup', 'check', 'maxParallel', 'sandbox', 'defaultAgent']);
  for (const key of live) {
    const at = lines.findIndex((line) => line.startsWith(`  "${key}":`));
    assert.match(lines[at - 1]!, /^ {2}\/\/ \S/, `no comment above ${key}`);
  }
});

test('every top-level key appears in the template', () => {
  const text = configTemplate({ baseBranch: 'main' });
  const missing = Object.keys(configSchema.shape).filter((key) => !text.includes(`"${key}":`));
  assert.deepEqual(missing, []);
});

test('uncommenting every setting still validates and gives the defaults shown', () => {
  const text = uncommentSettings(configTemplate({ baseBranch: 'trunk' }));
  assert.notEqual(text, configTemplate({ baseBranch: 'trunk' }));
  const raw = parseConfigText(text, 'orchestra.json');
  // Every schema key is now live, so nothing is hidden behind a comment the check below misses.
  assert.deepEqual(Object.keys(raw as object).sort(), Object.keys(configSchema.shape).sort());
  const config = validateConfig(raw, 'orchestra.json');
  const expected = validateConfig(deepMerge({ baseBranch: 'trunk' }, TEMPLATE_EXAMPLES), 'expected');
  assert.deepEqual(config, expected);
});

test('the base branch is written as a JSON string, whatever it contains', () => {
  const baseBranch = 'release/"v2" \\ next';
  const text = configTemplate({ baseBranch });
  assert.equal(validateConfig(parseConfigText(text, 'f'), 'f').baseBranch, baseBranch);
});

test('a written template loads as the repository config', async () => {
  const root = await mkdtemp(join(tmpdir(), 'orchestra-'));
  try {
    await writeFileAtomic(orchestraPaths(root).config, configTemplate({ baseBranch: 'develop' }));
    const { config, files } = await loadConfig(root, { userConfigPath: join(root, 'no-user-config.json') });
    assert.deepEqual(files, [orchestraPaths(root).config]);
    assert.deepEqual(config, { ...defaultConfig(), baseBranch: 'develop' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
