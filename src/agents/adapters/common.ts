import { commandFromTemplate } from './command-template.js';
import type { AgentLaunchContext, ExitState, PromptPatterns, ScreenState } from './types.js';

/**
 * The environment every adapter sets: the config's `env`, then `ORCHESTRA_RUN_DIR` (where
 * `events.jsonl` goes) and, when resuming, `ORCHESTRA_RESUME=1` (so a custom agent can tell).
 */
export function baseEnv(ctx: AgentLaunchContext): Record<string, string> {
  const env: Record<string, string> = { ...ctx.agent.env, ORCHESTRA_RUN_DIR: ctx.runDir };
  if (ctx.resume) env.ORCHESTRA_RESUME = '1';
  return env;
}

/**
 * The program part of a CLI's argv: the config's `command` (split like a shell would, without
 * placeholders) or the CLI's usual name.
 */
export function programOf(ctx: AgentLaunchContext, defaultName: string): string[] {
  return ctx.agent.command === undefined ? [defaultName] : commandFromTemplate(ctx.agent.command);
}

/** Exit code 0 is done; any other code, or a signal (null), is an error. */
export function exitState(code: number | null): ExitState {
  return code === 0 ? 'done' : 'error';
}

/**
 * `waiting` is checked first: a question or dialog on screen means a person is needed even when
 * a busy indicator is also visible.
 */
export function screenState(patterns: PromptPatterns, text: string): ScreenState | undefined {
  if (patterns.waiting?.test(text)) return 'waiting';
  if (patterns.working?.test(text)) return 'working';
  return undefined;
}

/** The last line of screen text that is not blank, trimmed at the end. */
export function lastNonBlankLine(text: string): string {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trimEnd();
    if (line.trim() !== '') return line;
  }
  return '';
}
