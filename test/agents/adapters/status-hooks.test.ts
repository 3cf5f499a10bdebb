import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { aiderAdapter } from '../../../src/agents/adapters/aider.js';
import { type ClaudeSettings, claudeAdapter } from '../../../src/agents/adapters/claude.js';
import { codexAdapter } from '../../../src/agents/adapters/codex.js';
import { statusCommand, statusScript } from '../../../src/agents/adapters/status-command.js';
import { agentConfig, launchContext, run, writeLaunchFiles } from './helpers.js';

/** What Claude Code pipes into a hook's stdin (hooks reference, "Hook Input"). */
const CLAUDE_HOOK_INPUT = JSON.stringify({
  session_id: '3b241101-e2bb-4255-8caf-4136c566a962',
  transcript_path: '/tmp/x.jsonl',
  cwd: '/work/tree',
  hook_event_name: 'Stop',
  stop_hook_active: false,
});

interface StatusEvent {
  ts: string;
  type: string;
  state: string;
  summary: string;
  source: string;
}

async function readEvents(runDir: string): Promise<StatusEvent[]> {
  const text = await readFile(join(runDir, 'events.jsonl'), 'utf8');
  assert.ok(text.endsWith('\n'), 'each line ends with a newline');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as StatusEvent);
}

function assertFreshTs(ts: string): void {
  assert.match(ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.ok(Math.abs(Date.parse(ts) - Date.now()) < 120_000, `ts ${ts} is not now`);
}

describe('status hooks', () => {
  let dir: string;
  let runDir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
    // Spaces, a quote and a dollar sign: the run dir must arrive as one path, unexpanded.
    runDir = join(dir, "run dir's $HOME");
    await mkdir(runDir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the Claude Code settings file is valid JSON of the hooks shape, and points --settings at it', async () => {
    const launch = claudeAdapter.launch(launchContext(agentConfig('claude'), { runDir }));
    await writeLaunchFiles(launch, runDir);
    const settingsPath = join(runDir, 'claude-settings.json');
    assert.equal(launch.command[launch.command.indexOf('--settings') + 1], settingsPath);
    const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as ClaudeSettings;
    assert.deepEqual(Object.keys(settings), ['hooks']);
    assert.deepEqual(Object.keys(settings.hooks).sort(), [
      'Notification',
      'PostToolUse',
      'SessionEnd',
      'SessionStart',
      'Stop',
      'UserPromptSubmit',
    ]);
    for (const [event, groups] of Object.entries(settings.hooks)) {
      assert.ok(Array.isArray(groups) && groups.length === 1, event);
      for (const group of groups) {
        assert.deepEqual(
          Object.keys(group).filter((k) => k !== 'matcher'),
          ['hooks'],
          event,
        );
        assert.ok(group.matcher === undefined || typeof group.matcher === 'string');
        for (const hook of group.hooks) {
          assert.equal(hook.type, 'command');
          assert.equal(typeof hook.timeout, 'number');
          assert.match(hook.command, /^sh -c '[^'\n]+'$/, 'one single-quoted sh -c line');
          assert.doesNotMatch(hook.command, /\bjq\b|\bnode\b/);
        }
      }
    }
    assert.equal(settings.hooks.SessionStart?.[0]?.matcher, 'resume|clear');
  });

  test("running Claude Code's hook commands appends valid status lines", async () => {
    const launch = claudeAdapter.launch(launchContext(agentConfig('claude'), { runDir }));
    const settings = JSON.parse(launch.files[0]?.content ?? '') as ClaudeSettings;
    const expected: [string, string][] = [
      ['UserPromptSubmit', 'working'],
      ['Stop', 'done'],
      ['Notification', 'waiting'],
      ['SessionEnd', 'done'],
    ];
    await rm(join(runDir, 'events.jsonl'), { force: true });
    for (const [event] of expected) {
      const command = settings.hooks[event]?.[0]?.hooks[0]?.command ?? '';
      // Claude Code runs a hook's command through a shell with its own environment and JSON on stdin.
      const result = await run(['/bin/sh', '-c', command], {
        env: { PATH: process.env.PATH, ...launch.env },
        input: CLAUDE_HOOK_INPUT,
      });
      assert.equal(result.code, 0, result.stderr);
    }
    const events = await readEvents(runDir);
    assert.deepEqual(
      events.map((e) => [e.source.replace('claude-code:', ''), e.state]),
      expected,
    );
    for (const event of events) {
      assert.equal(event.type, 'status');
      assertFreshTs(event.ts);
    }
  });

  test('a hook exits 0 even when it cannot write, so it never blocks the CLI', async () => {
    const command = statusCommand({ state: 'waiting', summary: 'turn finished', source: 'claude-code:Stop' });
    const result = await run(['/bin/sh', '-c', command], {
      env: { PATH: process.env.PATH, ORCHESTRA_RUN_DIR: join(dir, 'no', 'such', 'dir') },
    });
    assert.equal(result.code, 0);
    assert.match(result.stderr, /events\.jsonl/);
  });

  test("Codex's notify argv, with its JSON payload appended, appends a done line", async () => {
    await rm(join(runDir, 'events.jsonl'), { force: true });
    const launch = codexAdapter.launch(launchContext(agentConfig('codex'), { runDir }));
    const value = (launch.command[2] ?? '').replace(/^notify=/, '');
    // TOML parses this array like JSON: the same strings reach Codex.
    const argv = JSON.parse(value) as string[];
    const payload = JSON.stringify({ type: 'agent-turn-complete', 'last-assistant-message': "it's $(done)" });
    const result = await run([...argv, payload], { env: { PATH: process.env.PATH, ...launch.env } });
    assert.equal(result.code, 0, result.stderr);
    const [event, ...rest] = await readEvents(runDir);
    assert.equal(rest.length, 0);
    assert.equal(event?.state, 'done');
    assert.equal(event?.source, 'codex:notify');
    assertFreshTs(event?.ts ?? '');
  });

  test("Aider's notifications command, run through the shell as Aider does, appends a waiting line", async () => {
    await rm(join(runDir, 'events.jsonl'), { force: true });
    const launch = aiderAdapter.launch(launchContext(agentConfig('aider'), { runDir }));
    const command = launch.command[launch.command.indexOf('--notifications-command') + 1] ?? '';
    for (let i = 0; i < 2; i++) {
      const result = await run(['/bin/sh', '-c', command], {
        env: { PATH: process.env.PATH, ...launch.env },
      });
      assert.equal(result.code, 0, result.stderr);
    }
    const events = await readEvents(runDir);
    assert.deepEqual(
      events.map((e) => e.state),
      ['waiting', 'waiting'],
    );
  });

  test('status text that would need escaping is refused', () => {
    assert.throws(() => statusScript({ state: 'done', summary: `it's "done"`, source: 'x' }), /escaping/);
    assert.throws(() => statusScript({ state: 'done', summary: '100%', source: 'x' }), /escaping/);
    assert.throws(() => statusScript({ state: 'done', summary: 'ok', source: '$(id)' }), /escaping/);
  });
});
