import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { aiderAdapter } from '../../../src/agents/adapters/aider.js';
import { claudeAdapter } from '../../../src/agents/adapters/claude.js';
import { codexAdapter } from '../../../src/agents/adapters/codex.js';
import { screenState } from '../../../src/agents/adapters/common.js';
import type { AgentAdapter, ScreenState } from '../../../src/agents/adapters/types.js';
import { agentConfig, launchContext } from './helpers.js';

/** Screen samples; fixtures/screens/README.md says where each comes from. */
function screen(name: string): Promise<string> {
  return readFile(new URL(`./fixtures/screens/${name}.txt`, import.meta.url), 'utf8');
}

async function expectStates(
  adapter: AgentAdapter,
  cases: [string, ScreenState | undefined][],
): Promise<void> {
  const launch = adapter.launch(launchContext(agentConfig(adapter.type)));
  for (const [name, expected] of cases) {
    const text = await screen(name);
    assert.equal(adapter.stateFromScreen?.(text), expected, `${name}: stateFromScreen`);
    // The patterns handed to the worker say the same as the adapter.
    assert.equal(screenState(launch.promptPatterns ?? {}, text), expected, `${name}: promptPatterns`);
  }
}

describe('stateFromScreen', () => {
  test('Codex: busy indicator, dialogs, and no verdict while an answer streams', async () => {
    await expectStates(codexAdapter, [
      ['codex-working', 'working'],
      ['codex-approval', 'waiting'],
      ['codex-trust-dialog', 'waiting'],
      ['codex-signin', 'waiting'],
      // The end of a turn is reported by Codex's notify hook, not read off the screen.
      ['codex-turn-finished', undefined],
      ['codex-streaming', undefined],
    ]);
  });

  test('Claude Code: only the dialogs before its hooks run', async () => {
    await expectStates(claudeAdapter, [
      ['claude-trust-dialog', 'waiting'],
      ['claude-api-key-dialog', 'waiting'],
      ['claude-idle-after-turn', undefined],
    ]);
  });

  test('Aider: its prompt or a question on the last line waits; anything else is output in progress', async () => {
    await expectStates(aiderAdapter, [
      ['aider-prompt', 'waiting'],
      ['aider-turn-finished', 'waiting'],
      ['aider-confirm', 'waiting'],
      ['aider-streaming', 'working'],
    ]);
    const state = (text: string) => aiderAdapter.stateFromScreen?.(text);
    assert.equal(state('Readonly: task.md\narchitect multi> half a sentence'), 'waiting');
    assert.equal(state('ask> '), 'waiting');
    assert.equal(state('> quoted text\nstill streaming'), 'working');
    assert.equal(state('\n\n'), undefined);
  });
});
