/**
 * What tests need from the scripted Messages API server: start it, build turns briefly, and hand its
 * address to an agent process.
 *
 *   const server = await startScriptedModelServer({ scenario: { turns: [turn.tool('bash', { command: 'ls' }), turn.text('done')] } });
 *   const env = { ...process.env, ...anthropicEnv(server) };
 */

import type { ScriptedTurn } from '../../src/model-server/scenario.js';
import type { ScriptedModelServer } from '../../src/model-server/scripted-server.js';

export type { ApiMessage, SseEvent } from '../../src/model-server/message-events.js';
export type {
  NamedScenario,
  Scenario,
  ScenarioFile,
  ScenarioMatch,
  ScriptedToolUse,
  ScriptedTurn,
  ScriptedUsage,
} from '../../src/model-server/scenario.js';
export { loadScenarioFile, parseScenario } from '../../src/model-server/scenario.js';
export type {
  RecordedRequest,
  ScriptedModelServer,
  ScriptedModelServerOptions,
} from '../../src/model-server/scripted-server.js';
export { startScriptedModelServer } from '../../src/model-server/scripted-server.js';

/** The API key tests give the SDK; the scripted server accepts any. */
export const TEST_API_KEY = 'test-key';

/** Builders for common turns; `extra` adds or overrides any other turn field. */
export const turn = {
  /** A text answer; an array streams each element as its own text_delta. */
  text(text: string | string[], extra: Partial<ScriptedTurn> = {}): ScriptedTurn {
    return { text, ...extra };
  },
  /** One tool call (stop reason tool_use), optionally after some text. */
  tool(name: string, input: Record<string, unknown>, extra: Partial<ScriptedTurn> = {}): ScriptedTurn {
    return { toolUses: [{ name, input }], ...extra };
  },
  /** An HTTP error answer, e.g. `turn.error(429, 'rate_limit_error', 'slow down', { retryAfterSeconds: 1 })`. */
  error(
    status: number,
    type: string,
    message: string,
    extra: { retryAfterSeconds?: number } = {},
  ): ScriptedTurn {
    return { error: { status, type, message, ...extra } };
  },
  /** The API's 529 overloaded answer. */
  overloaded(): ScriptedTurn {
    return { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } };
  },
};

/** Environment variables that point an agent process (or the SDK) at `server`. */
export function anthropicEnv(server: ScriptedModelServer): {
  ANTHROPIC_BASE_URL: string;
  ANTHROPIC_API_KEY: string;
} {
  return { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: TEST_API_KEY };
}
