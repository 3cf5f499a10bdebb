import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { ConfigError } from '../../src/config/config-error.js';
import { loadConfig, parseConfigText, userConfigPath } from '../../src/config/load.js';
import { defaultConfig } from '../../src/config/schema.js';

/** Runs `fn` and returns the ConfigError it throws; fails the test when it throws nothing else. */
async function configError(fn: () => unknown): Promise<ConfigError> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfigText', () => {
  test('accepts line and block comments and trailing commas', () => {
    const text = [
      '// orchestra config',
      '{',
      '  /* the branch */ "baseBranch": "trunk", // trailing comment',
      '  "setup": ["npm ci",],',
      '}',
    ].join('\n');
    assert.deepEqual(parseConfigText(text, 'orchestra.json'), { baseBranch: 'trunk', setup: ['npm ci'] });
  });

  test('a file of only comments or whitespace reads as an empty object', () => {
    assert.deepEqual(parseConfigText('// nothing yet\n/* really */\n', 'f'), {});
    assert.deepEqual(parseConfigText('', 'f'), {});
    assert.deepEqual(parseConfigText('\ufeff{"theme": "dark"}', 'f'), { theme: 'dark' });
  });

  test('a syntax error is reported with file:line:column', async () => {
    const text = '{\n  "baseBranch": "main"\n  "maxParallel": 3\n}\n';
    const error = await configError(() => parseConfigText(text, '.orchestra/orchestra.json'));
    assert.ok(isOrchestraError(error, 'CONFIG_INVALID'));
    assert.equal(error.message, '.orchestra/orchestra.json:3:3: expected ","');
    assert.deepEqual(error.problems, [error.message]);
    assert.match(error.hint ?? '', /fix the syntax in \.orchestra\/orchestra\.json/);
  });

  test('every syntax error is listed, columns counted from 1', async () => {
    const error = await configError(() => parseConfigText('{\n"a": ,\n"b": 1\n"c": 2}', 'f'));
    assert.deepEqual(error.problems, ['f:2:6: expected a value', 'f:4:1: expected ","']);
  });

  test('an unterminated block comment is an error, not an empty file', async () => {
    const error = await configError(() => parseConfigText('{ /* open\n"a": 1 }', 'f'));
    assert.match(error.message, /^f:1:3: unterminated \/\* comment/);
  });

  test('a "__proto__" key is refused instead of changing the prototype', async () => {
    const error = await configError(() => parseConfigText('{\n  "__proto__": { "maxParallel": 9 }\n}', 'f'));
    assert.equal(error.message, 'f:2:3: the key "__proto__" is not allowed');
  });
});

describe('userConfigPath', () => {
  test('uses XDG_CONFIG_HOME when it is absolute, else ~/.config', () => {
    assert.equal(
      userConfigPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }),
      '/x/cfg/orchestra/config.json',
    );
    assert.equal(userConfigPath({ HOME: '/home/u' }), '/home/u/.config/orchestra/config.json');
    assert.equal(
      userConfigPath({ XDG_CONFIG_HOME: 'relative/cfg', HOME: '/home/u' }),
      '/home/u/.config/orchestra/config.json',
    );
  });
});

describe('loadConfig', () => {
  let dir: string;
  let root: string;
  let xdg: string;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh repository directory and XDG_CONFIG_HOME for each test. */
  async function fresh(files: { repo?: string; user?: string }): Promise<NodeJS.ProcessEnv> {
    n++;
    root = join(dir, `repo-${n}`);
    xdg = join(dir, `xdg-${n}`);
    await mkdir(join(root, '.orchestra'), { recursive: true });
    await mkdir(join(xdg, 'orchestra'), { recursive: true });
    if (files.repo !== undefined) await writeFile(join(root, '.orchestra', 'orchestra.json'), files.repo);
    if (files.user !== undefined) await writeFile(join(xdg, 'orchestra', 'config.json'), files.user);
    return { XDG_CONFIG_HOME: xdg, HOME: join(dir, 'home') };
  }

  test('no files at all gives the defaults and no file list', async () => {
    const env = await fresh({});
    const { config, files } = await loadConfig(root, { env });
    assert.deepEqual(config, defaultConfig());
    assert.deepEqual(files, []);
  });

  test('the user file lies under the repository file, key by key', async () => {
    const env = await fresh({
      user: `{
        // my defaults for every repository
        "maxParallel": 6,
        "worker": { "cpus": 4, "memoryMb": 8192 },
        "agents": { "claude": { "args": ["--verbose"] }, "mine": { "type": "shell" } },
        "setup": ["echo user"],
      }`,
      repo: `{
        "baseBranch": "trunk",
        "worker": { "memoryMb": 2048 },
        "agents": { "claude": { "env": { "MODE": "repo" } } },
        "setup": ["npm ci"],
      }`,
    });
    const { config, files } = await loadConfig(root, { env });
    assert.deepEqual(files, [
      join(xdg, 'orchestra', 'config.json'),
      join(root, '.orchestra', 'orchestra.json'),
    ]);
    assert.equal(config.baseBranch, 'trunk');
    assert.equal(config.maxParallel, 6);
    assert.equal(config.worker.cpus, 4);
    assert.equal(config.worker.memoryMb, 2048);
    assert.equal(config.worker.pids, 512);
    // Arrays replace rather than concatenate: the repository's setup is the setup.
    assert.deepEqual(config.setup, ['npm ci']);
    assert.deepEqual(config.agents.claude, { type: 'claude', args: ['--verbose'], env: { MODE: 'repo' } });
    assert.equal(config.agents.mine?.type, 'shell');
    assert.equal(config.agents.codex?.type, 'codex');
  });

  test('opts.userConfigPath overrides the XDG location', async () => {
    const env = await fresh({ user: '{ "theme": "xdg" }' });
    const other = join(dir, `other-${n}.json`);
    await writeFile(other, '{ "theme": "other" }');
    const { config, files } = await loadConfig(root, { env, userConfigPath: other });
    assert.equal(config.theme, 'other');
    assert.deepEqual(files, [other]);
  });

  test('a problem in the user file names the user file', async () => {
    const env = await fresh({ user: '{ "maxParallel": "many" }', repo: '{ "maxParallel": 3 }' });
    const error = await configError(() => loadConfig(root, { env }));
    assert.equal(
      error.message,
      `${join(xdg, 'orchestra', 'config.json')}: maxParallel: expected number, received string`,
    );
  });

  test('a user file under HOME is named with ~', async () => {
    const home = join(dir, `home-${++n}`);
    root = join(dir, `repo-${n}`);
    await mkdir(join(home, '.config', 'orchestra'), { recursive: true });
    await writeFile(join(home, '.config', 'orchestra', 'config.json'), '{ "bogus": 1 }');
    const error = await configError(() => loadConfig(root, { env: { HOME: home } }));
    assert.match(error.message, /^~\/\.config\/orchestra\/config\.json: bogus: unknown key/);
  });

  test('a problem in the repository file names it relative to the repository', async () => {
    const env = await fresh({
      repo: '{\n  "worker": { "memoryMb": "4g" },\n  "profiles": { "coder": { "maxTurns": -1 } }\n}',
    });
    const error = await configError(() => loadConfig(root, { env }));
    assert.ok(isOrchestraError(error, 'CONFIG_INVALID'));
    assert.deepEqual(error.problems, [
      '.orchestra/orchestra.json: worker.memoryMb: expected number, received string',
      '.orchestra/orchestra.json: profiles.coder.maxTurns: expected a number >= 1, received -1',
    ]);
    assert.match(error.hint ?? '', /fix the key in \.orchestra\/orchestra\.json/);
  });

  test('a syntax error in the repository file stops loading with line:column', async () => {
    const env = await fresh({ repo: '{\n  "baseBranch": main\n}' });
    const error = await configError(() => loadConfig(root, { env }));
    assert.match(error.message, /^\.orchestra\/orchestra\.json:2:17: /);
  });

  test('defaultAgent may name an agent the same file defines, but not a missing one', async () => {
    let env = await fresh({ repo: '{ "defaultAgent": "claude-opus" }' });
    const error = await configError(() => loadConfig(root, { env }));
    assert.match(error.message, /^\.orchestra\/orchestra\.json: defaultAgent: "claude-opus" names no agent/);
    env = await fresh({
      repo: '{ "defaultAgent": "claude-opus", "agents": { "claude-opus": { "type": "claude", "args": ["--model", "opus"] } } }',
    });
    assert.equal((await loadConfig(root, { env })).config.defaultAgent, 'claude-opus');
  });

  test('a config path that cannot be read is CONFIG_UNREADABLE', async () => {
    const env = await fresh({});
    // A directory where the file should be fails to read for root too, unlike a chmod 000 file.
    await mkdir(join(root, '.orchestra', 'orchestra.json'));
    await assert.rejects(loadConfig(root, { env }), (error: unknown) => {
      assert.ok(isOrchestraError(error, 'CONFIG_UNREADABLE'));
      assert.match(error.message, /^cannot read \.orchestra\/orchestra\.json: /);
      assert.match(error.hint ?? '', /remove it/);
      return true;
    });
  });
});
