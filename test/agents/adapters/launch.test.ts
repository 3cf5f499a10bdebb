import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { aiderAdapter } from '../../../src/agents/adapters/aider.js';
import { CLAUDE_KEY_ENV, claudeAdapter, claudeLoginFile } from '../../../src/agents/adapters/claude.js';
import { codexAdapter } from '../../../src/agents/adapters/codex.js';
import { customAdapter } from '../../../src/agents/adapters/custom.js';
import { ORCHESTRA_BIN, orchestraAdapter } from '../../../src/agents/adapters/orchestra.js';
import { ADAPTERS, adapterFor, resolveAgent } from '../../../src/agents/adapters/registry.js';
import { FALLBACK_SHELL, shellAdapter } from '../../../src/agents/adapters/shell.js';
import type { AgentLaunch } from '../../../src/agents/adapters/types.js';
import { isOrchestraError } from '../../../src/common/errors.js';
import { AGENT_TYPES, configSchema, defaultConfig } from '../../../src/config/schema.js';
import { agentConfig, launchContext, SECRETS } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RUN = '/repo/.orchestra/runs/task-03-a1';
const WT = '/repo/.orchestra/worktrees/task-03-a1';

function fileNamed(launch: AgentLaunch, path: string): string {
  const file = launch.files.find((f) => f.path === path);
  assert.ok(file, `no file ${path}`);
  return file.content;
}

describe('registry', () => {
  test('every agent type has an adapter that says what it needs', () => {
    for (const type of AGENT_TYPES) {
      assert.equal(ADAPTERS[type].type, type);
      assert.ok(ADAPTERS[type].requirements.length > 10, type);
    }
    assert.equal(adapterFor(agentConfig('claude')), claudeAdapter);
  });

  test("resolveAgent takes the task's agent, else defaultAgent", () => {
    const config = configSchema.parse({
      defaultAgent: 'claude',
      agents: { mine: { type: 'custom', command: 'x {prompt}' } },
    });
    assert.equal(resolveAgent(config).name, 'claude');
    assert.equal(resolveAgent(config).adapter, claudeAdapter);
    const mine = resolveAgent(config, 'mine');
    assert.equal(mine.adapter, customAdapter);
    assert.equal(mine.agent.command, 'x {prompt}');
    assert.equal(resolveAgent(defaultConfig()).adapter, orchestraAdapter);
  });

  test('an unknown agent name is a task error that lists the agents', () => {
    assert.throws(
      () => resolveAgent(defaultConfig(), 'gemini'),
      (error: unknown) =>
        isOrchestraError(error, 'TASK_INVALID') &&
        /gemini/.test(error.message) &&
        /aider, claude/.test(error.hint ?? ''),
    );
  });

  test('exit 0 is done; a failure code or a signal is an error', () => {
    for (const adapter of Object.values(ADAPTERS)) {
      assert.equal(adapter.stateFromExit(0), 'done');
      assert.equal(adapter.stateFromExit(1), 'error');
      assert.equal(adapter.stateFromExit(null), 'error');
    }
  });
});

describe('orchestra adapter', () => {
  const agent = agentConfig('orchestra');

  test('local: this Node runs bin/orchestra agent with task, run dir and profile', () => {
    const launch = orchestraAdapter.launch(launchContext(agent));
    assert.deepEqual(launch.command, [
      process.execPath,
      ORCHESTRA_BIN,
      'agent',
      '--task',
      '/repo/.orchestra/tasks/task-03.md',
      '--run-dir',
      RUN,
      '--profile',
      'coder',
    ]);
    assert.match(ORCHESTRA_BIN, /\/bin\/orchestra$/);
    assert.equal(launch.cwd, WT);
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: RUN });
    assert.deepEqual(launch.files, []);
    assert.equal(launch.hooks, true);
    assert.equal(orchestraAdapter.reportsUsage, true);
  });

  test('container and resume: `orchestra` from the image PATH, --resume, a profile override', () => {
    const launch = orchestraAdapter.launch(
      launchContext(agent, {
        inContainer: true,
        resume: true,
        runDir: '/run/orchestra',
        profile: 'reviewer',
      }),
    );
    assert.deepEqual(launch.command, [
      'orchestra',
      'agent',
      '--task',
      '/repo/.orchestra/tasks/task-03.md',
      '--run-dir',
      '/run/orchestra',
      '--resume',
      '--profile',
      'reviewer',
    ]);
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: '/run/orchestra', ORCHESTRA_RESUME: '1' });
  });

  test("the config's env and args are used", () => {
    const custom = agentConfig('orchestra', {
      type: 'orchestra',
      args: ['--verbose'],
      env: { LOG_LEVEL: 'debug' },
    });
    const launch = orchestraAdapter.launch(launchContext(custom));
    assert.equal(launch.command.at(-1), '--verbose');
    assert.deepEqual(launch.env, { LOG_LEVEL: 'debug', ORCHESTRA_RUN_DIR: RUN });
  });
});

describe('claude adapter', () => {
  const agent = agentConfig('claude');

  test('local: a new session with the task as first prompt and the hook settings, no permission bypass', () => {
    const ctx = launchContext(agent);
    const launch = claudeAdapter.launch(ctx);
    assert.match(launch.sessionId ?? '', UUID);
    assert.deepEqual(launch.command, [
      'claude',
      '--session-id',
      launch.sessionId,
      '--settings',
      `${RUN}/claude-settings.json`,
      '--',
      ctx.prompt,
    ]);
    assert.ok(!launch.command.includes('--dangerously-skip-permissions'));
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: RUN });
    assert.deepEqual(
      launch.files.map((f) => f.path),
      ['claude-settings.json'],
    );
    const settings = JSON.parse(fileNamed(launch, 'claude-settings.json'));
    assert.equal(settings.apiKeyHelper, undefined);
    assert.equal(settings.skipDangerousModePermissionPrompt, undefined);
    assert.equal(launch.hooks, true);
    assert.equal(launch.renameEnv, undefined);
    // Two launches never share a session.
    assert.notEqual(claudeAdapter.launch(ctx).sessionId, launch.sessionId);
  });

  test('a given session id is used for a fresh start too', () => {
    const id = '3b241101-e2bb-4255-8caf-4136c566a962';
    const launch = claudeAdapter.launch(launchContext(agent, { sessionId: id }));
    assert.deepEqual(launch.command.slice(1, 3), ['--session-id', id]);
    assert.equal(launch.sessionId, id);
  });

  test('resume: --resume <id> and no prompt; --continue when the id was lost', () => {
    const id = '3b241101-e2bb-4255-8caf-4136c566a962';
    const launch = claudeAdapter.launch(launchContext(agent, { resume: true, sessionId: id }));
    assert.deepEqual(launch.command, ['claude', '--resume', id, '--settings', `${RUN}/claude-settings.json`]);
    assert.equal(launch.sessionId, id);
    assert.equal(launch.env.ORCHESTRA_RESUME, '1');
    const lost = claudeAdapter.launch(launchContext(agent, { resume: true }));
    assert.deepEqual(lost.command, ['claude', '--continue', '--settings', `${RUN}/claude-settings.json`]);
    assert.equal(lost.sessionId, undefined);
  });

  test("container without an API key: the access token of the user's login file, as CLAUDE_CODE_OAUTH_TOKEN; no apiKeyHelper", () => {
    const agent = agentConfig('claude');
    const inContainer = (hostEnv: NodeJS.ProcessEnv) =>
      claudeAdapter.launch(launchContext(agent, { inContainer: true, runDir: '/run/orchestra', hostEnv }));
    const launch = inContainer({ HOME: '/home/u', PATH: '/bin' });
    assert.equal(launch.loginToken?.file, '/home/u/.claude/.credentials.json');
    assert.equal(launch.loginToken?.env, 'CLAUDE_CODE_OAUTH_TOKEN');
    const file = JSON.stringify({
      claudeAiOauth: { accessToken: 'sk-ant-oat01-a', refreshToken: 'sk-ant-ort01-r' },
    });
    assert.equal(launch.loginToken?.read(file), 'sk-ant-oat01-a', 'the access token only');
    assert.equal(launch.loginToken?.read('not json'), undefined);
    assert.equal(launch.loginToken?.read('{"claudeAiOauth":{}}'), undefined);
    assert.equal(launch.renameEnv, undefined);
    const settings = JSON.parse(launch.files[0]?.content ?? '{}') as { apiKeyHelper?: string };
    assert.equal(settings.apiKeyHelper, undefined);
    // Claude Code's own rule: CLAUDE_CONFIG_DIR first.
    assert.equal(
      claudeLoginFile({ CLAUDE_CONFIG_DIR: '/srv/claude', HOME: '/home/u' }),
      '/srv/claude/.credentials.json',
    );
    assert.equal(claudeLoginFile({}), undefined);
    // A key on the host wins; a token in the environment needs no file; locally nothing is read.
    const keyed = inContainer({ HOME: '/home/u', ANTHROPIC_API_KEY: 'sk-ant-api03-x' });
    assert.equal(keyed.loginToken, undefined);
    assert.deepEqual(keyed.renameEnv, { [CLAUDE_KEY_ENV]: 'ANTHROPIC_API_KEY' });
    assert.equal(
      inContainer({ HOME: '/home/u', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-b' }).loginToken,
      undefined,
    );
    assert.equal(
      claudeAdapter.launch(launchContext(agent, { hostEnv: { HOME: '/home/u' } })).loginToken,
      undefined,
    );
  });

  test('container: bypass flag, config dir and trust in the run dir, key through apiKeyHelper', () => {
    const ctx = launchContext(agent, { inContainer: true, runDir: '/run/orchestra', worktree: '/work/tree' });
    const launch = claudeAdapter.launch(ctx);
    assert.deepEqual(launch.command, [
      'claude',
      '--session-id',
      launch.sessionId,
      '--settings',
      '/run/orchestra/claude-settings.json',
      '--dangerously-skip-permissions',
      '--',
      ctx.prompt,
    ]);
    assert.deepEqual(launch.env, {
      ORCHESTRA_RUN_DIR: '/run/orchestra',
      CLAUDE_CONFIG_DIR: '/run/orchestra/claude-config',
      IS_SANDBOX: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });
    assert.deepEqual(launch.renameEnv, { [CLAUDE_KEY_ENV]: 'ANTHROPIC_API_KEY' });
    const settings = JSON.parse(fileNamed(launch, 'claude-settings.json'));
    assert.equal(settings.apiKeyHelper, `printenv ${CLAUDE_KEY_ENV}`);
    assert.equal(settings.skipDangerousModePermissionPrompt, true);
    const state = JSON.parse(fileNamed(launch, 'claude-config/.claude.json'));
    assert.deepEqual(state, {
      hasCompletedOnboarding: true,
      projects: { '/work/tree': { hasTrustDialogAccepted: true } },
    });
    assert.equal(launch.files.find((f) => f.path === 'claude-config/.claude.json')?.mode, 0o600);
  });

  test("the config's command replaces `claude`, its args come before the prompt", () => {
    const custom = agentConfig('claude', {
      type: 'claude',
      command: "npx '@anthropic-ai/claude-code'",
      args: ['--model', 'sonnet'],
    });
    const ctx = launchContext(custom);
    const launch = claudeAdapter.launch(ctx);
    assert.deepEqual(launch.command.slice(0, 2), ['npx', '@anthropic-ai/claude-code']);
    assert.deepEqual(launch.command.slice(-4), ['--model', 'sonnet', '--', ctx.prompt]);
  });
});

describe('codex adapter', () => {
  const agent = agentConfig('codex');

  test('local: the task as first prompt, notify hook, no bypass, nothing written', () => {
    const ctx = launchContext(agent);
    const launch = codexAdapter.launch(ctx);
    assert.equal(launch.command[0], 'codex');
    assert.equal(launch.command[1], '-c');
    assert.match(launch.command[2] ?? '', /^notify=\["sh","-c",".*events\.jsonl.*","orchestra-status"\]$/);
    assert.deepEqual(launch.command.slice(3), ['--', ctx.prompt]);
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: RUN });
    assert.deepEqual(launch.files, []);
    assert.equal(launch.hooks, false);
    assert.ok(launch.promptPatterns?.waiting && launch.promptPatterns.working);
  });

  test('resume: `codex resume --last`, or the stored session id', () => {
    const launch = codexAdapter.launch(launchContext(agent, { resume: true }));
    assert.deepEqual([launch.command[0], launch.command[1]], ['codex', 'resume']);
    assert.equal(launch.command.at(-1), '--last');
    assert.ok(!launch.command.includes('--'));
    const byId = codexAdapter.launch(launchContext(agent, { resume: true, sessionId: 'abc-123' }));
    assert.equal(byId.command.at(-1), 'abc-123');
    assert.equal(byId.sessionId, 'abc-123');
  });

  test('container: bypass flag, CODEX_HOME in the run dir with a trusted worktree and an env-key provider', () => {
    const ctx = launchContext(agent, {
      inContainer: true,
      runDir: '/run/orchestra',
      worktree: '/work/tree',
      hostEnv: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', ...SECRETS },
    });
    const launch = codexAdapter.launch(ctx);
    assert.ok(launch.command.includes('--dangerously-bypass-approvals-and-sandbox'));
    assert.equal(launch.env.CODEX_HOME, '/run/orchestra/codex-home');
    const toml = fileNamed(launch, 'codex-home/config.toml');
    assert.match(toml, /^model_provider = "orchestra-openai"$/m);
    assert.match(toml, /^env_key = "OPENAI_API_KEY"$/m);
    assert.match(toml, /^base_url = "http:\/\/127\.0\.0\.1:9\/v1"$/m);
    assert.match(toml, /^\[projects\."\/work\/tree"\]\ntrust_level = "trusted"$/m);
  });
});

describe('aider adapter', () => {
  const agent = agentConfig('aider');

  test('local: the task read-only, histories in the run dir, notifications hook, a typed first request', () => {
    const launch = aiderAdapter.launch(launchContext(agent));
    const c = launch.command;
    assert.equal(c[0], 'aider');
    assert.deepEqual(c.slice(1, 3), ['--read', '/repo/.orchestra/tasks/task-03.md']);
    assert.equal(c[c.indexOf('--chat-history-file') + 1], `${RUN}/aider.chat.history.md`);
    assert.equal(c[c.indexOf('--input-history-file') + 1], `${RUN}/aider.input.history`);
    assert.ok(c.includes('--no-gitignore'));
    assert.match(c[c.indexOf('--notifications-command') + 1] ?? '', /^sh -c '.*events\.jsonl.*'$/);
    for (const flag of ['--yes-always', '--restore-chat-history', '--analytics-disable']) {
      assert.ok(!c.includes(flag), flag);
    }
    assert.equal(
      launch.initialInput,
      'Please complete the task described in /repo/.orchestra/tasks/task-03.md (added to this chat read-only).',
    );
  });

  test('resume restores the chat and types nothing; a container says yes to every question', () => {
    const resumed = aiderAdapter.launch(launchContext(agent, { resume: true }));
    assert.ok(resumed.command.includes('--restore-chat-history'));
    assert.equal(resumed.initialInput, undefined);
    const boxed = aiderAdapter.launch(launchContext(agent, { inContainer: true }));
    for (const flag of [
      '--yes-always',
      '--no-check-update',
      '--no-show-release-notes',
      '--analytics-disable',
    ]) {
      assert.ok(boxed.command.includes(flag), flag);
    }
  });
});

describe('shell adapter', () => {
  const agent = agentConfig('shell');

  test("local: the user's $SHELL in the worktree, else /bin/bash; a container always /bin/bash", () => {
    const launch = shellAdapter.launch(launchContext(agent));
    assert.deepEqual(launch.command, ['/usr/bin/zsh']);
    assert.equal(launch.cwd, WT);
    assert.deepEqual(launch.env, { ORCHESTRA_RUN_DIR: RUN });
    assert.deepEqual(shellAdapter.launch(launchContext(agent, { hostEnv: {} })).command, [FALLBACK_SHELL]);
    assert.deepEqual(shellAdapter.launch(launchContext(agent, { inContainer: true })).command, [
      FALLBACK_SHELL,
    ]);
    assert.equal(shellAdapter.stateFromScreen, undefined);
    assert.equal(launch.hooks, false);
  });
});

describe('secrets', () => {
  test('no adapter puts a secret in argv, files or its own env, in any mode', () => {
    const saved = { ...process.env };
    Object.assign(process.env, SECRETS);
    try {
      const agents = [
        agentConfig('orchestra'),
        agentConfig('claude'),
        agentConfig('codex'),
        agentConfig('aider'),
        agentConfig('shell'),
        agentConfig('mine', { type: 'custom', command: 'my-agent --task {task_file} {prompt} {run_dir}' }),
      ];
      let launches = 0;
      for (const agent of agents) {
        for (const inContainer of [false, true]) {
          for (const resume of [false, true]) {
            const launch = adapterFor(agent).launch(launchContext(agent, { inContainer, resume }));
            launches++;
            const visible = JSON.stringify([
              launch.command,
              launch.files,
              launch.env,
              launch.initialInput ?? '',
            ]);
            for (const [name, secret] of Object.entries(SECRETS)) {
              assert.ok(!visible.includes(secret), `${agent.type} ${inContainer} ${resume}: ${name} leaked`);
              assert.ok(!visible.includes(secret.slice(-20)), `${agent.type}: part of ${name} leaked`);
            }
          }
        }
      }
      assert.equal(launches, 24);
    } finally {
      for (const name of Object.keys(SECRETS)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
