import { baseEnv, exitState, programOf, screenState } from './common.js';
import { statusScript } from './status-command.js';
import type {
  AgentAdapter,
  AgentLaunch,
  AgentLaunchContext,
  AgentLaunchFile,
  PromptPatterns,
} from './types.js';

/**
 * OpenAI Codex CLI (`codex`), interactive, with the task as its first prompt. Codex's `notify`
 * program runs at the end of every turn, so it appends a `done` line to `events.jsonl` (the round
 * is over: the check gate runs, and a failure goes back as its next prompt); busy and dialog
 * states come from the screen.
 *
 * Needs: Codex CLI (`npm install -g @openai/codex`) on PATH, and either a logged-in user (local)
 * or `OPENAI_API_KEY` passed by the worker (container).
 *
 * Flags, checked against `codex --help` and `codex resume --help` of codex-cli 0.169.0:
 * - `[PROMPT]` positional: "Optional user prompt to start the session", after `--`.
 * - `resume [SESSION_ID] --last`: "Continue the most recent session without showing the picker";
 *   sessions are filtered by working directory, and each attempt has its own worktree.
 * - `-c key=value`: "Override a configuration value ... The value portion is parsed as TOML";
 *   used for `notify`, which Codex runs as argv with a JSON payload appended (ignored here).
 * - `--dangerously-bypass-approvals-and-sandbox`: "Skip all confirmation prompts and execute
 *   commands without sandboxing ... Intended solely for running in environments that are
 *   externally sandboxed" — only in a container.
 *
 * In a container `CODEX_HOME=<run dir>/codex-home` (sessions survive the container; the user's
 * login does not exist there) with a `config.toml` that trusts the worktree (else "Trust this
 * folder?") and reads the key from `OPENAI_API_KEY` through a model provider with `env_key` (else
 * Codex shows its sign-in screen). Both found by running 0.169.0 on a fresh home against a
 * scripted Responses API server.
 */

/** Codex's home in the run directory (containers only). */
export const CODEX_HOME_DIR = 'codex-home';
/** The model provider orchestra defines in a container: OpenAI's Responses API with an env key. */
export const CODEX_PROVIDER = 'orchestra-openai';
const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The `-c notify=[...]` value: argv as a TOML array (JSON string syntax is valid TOML here). */
export function codexNotifyConfig(): string {
  const script = statusScript({ state: 'done', summary: 'turn finished', source: 'codex:notify' });
  // Codex appends the JSON payload as one more argument: it becomes $1 of the script, unused.
  return `notify=${JSON.stringify(['sh', '-c', script, 'orchestra-status'])}`;
}

/** `$CODEX_HOME/config.toml` for a container. TOML basic strings share JSON's escapes. */
export function codexContainerConfig(worktree: string, baseUrl: string): string {
  return [
    `model_provider = ${JSON.stringify(CODEX_PROVIDER)}`,
    '',
    `[model_providers.${CODEX_PROVIDER}]`,
    'name = "OpenAI (API key)"',
    `base_url = ${JSON.stringify(baseUrl)}`,
    'env_key = "OPENAI_API_KEY"',
    'wire_api = "responses"',
    '',
    `[projects.${JSON.stringify(worktree)}]`,
    'trust_level = "trusted"',
    '',
  ].join('\n');
}

/**
 * Screens of codex-cli 0.169.0 (100x30, captured under node-pty and @xterm/headless; samples in
 * test/agents/adapters/fixtures/). `◦ Working (1s • esc to interrupt)` shows while it waits for the
 * model or runs a command, but not while an answer streams: then neither pattern matches and the
 * state stays as it was until `notify` reports the end of the turn.
 */
export const CODEX_PROMPT_PATTERNS: PromptPatterns = {
  waiting:
    /Would you like to run the following command\?|Press enter to confirm or esc to cancel|Trust this folder\?|Sign in with ChatGPT/,
  working: /esc to interrupt/,
};

export const codexAdapter: AgentAdapter = {
  type: 'codex',
  requirements: 'OpenAI Codex CLI (`npm install -g @openai/codex`, command `codex`) on PATH',
  reportsUsage: false,
  launch(ctx: AgentLaunchContext): AgentLaunch {
    const flags = [
      '-c',
      codexNotifyConfig(),
      ...(ctx.inContainer ? ['--dangerously-bypass-approvals-and-sandbox'] : []),
      ...ctx.agent.args,
    ];
    const command = ctx.resume
      ? [
          ...programOf(ctx, 'codex'),
          'resume',
          ...flags,
          ...(ctx.sessionId !== undefined ? [ctx.sessionId] : ['--last']),
        ]
      : [...programOf(ctx, 'codex'), ...flags, '--', ctx.prompt];
    const env = baseEnv(ctx);
    const files: AgentLaunchFile[] = [];
    if (ctx.inContainer) {
      env.CODEX_HOME = `${ctx.runDir}/${CODEX_HOME_DIR}`;
      const baseUrl = (ctx.hostEnv ?? process.env).OPENAI_BASE_URL || DEFAULT_OPENAI_BASE_URL;
      files.push({
        path: `${CODEX_HOME_DIR}/config.toml`,
        content: codexContainerConfig(ctx.worktree, baseUrl),
      });
    }
    const launch: AgentLaunch = {
      command,
      cwd: ctx.worktree,
      env,
      files,
      promptPatterns: CODEX_PROMPT_PATTERNS,
      hooks: false,
    };
    if (ctx.sessionId !== undefined) launch.sessionId = ctx.sessionId;
    return launch;
  },
  stateFromScreen: (text) => screenState(CODEX_PROMPT_PATTERNS, text),
  stateFromExit: exitState,
};
