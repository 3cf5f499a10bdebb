import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { baseEnv, exitState, programOf, screenState } from './common.js';
import { type StatusLine, statusCommand } from './status-command.js';
import type {
  AgentAdapter,
  AgentLaunch,
  AgentLaunchContext,
  AgentLaunchFile,
  PromptPatterns,
} from './types.js';

/**
 * Claude Code (`claude`), interactive, with the task as its first prompt. Its hooks append
 * `status` lines to `$ORCHESTRA_RUN_DIR/events.jsonl` through a settings file in the run
 * directory, passed with `--settings`.
 *
 * Needs: Claude Code (`npm install -g @anthropic-ai/claude-code`) on PATH, and either a logged-in
 * user (local) or `ANTHROPIC_API_KEY` passed by the worker (container).
 *
 * Flags, checked against `claude --help` of Claude Code 2.1.197:
 * - `--session-id <uuid>`: "Use a specific session ID for the conversation (must be a valid UUID)".
 * - `-r, --resume [value]`: "Resume a conversation by session ID"; `-c, --continue`: "Continue the
 *   most recent conversation in the current directory" (each attempt has its own worktree).
 * - `--settings <file-or-json>`: "Path to a settings JSON file ... to load additional settings from".
 * - `--dangerously-skip-permissions`: "Bypass all permission checks. Recommended only for sandboxes
 *   with no internet access" — only in a container.
 * - `[prompt]` positional, after `--` so a prompt starting with `-` is not read as an option.
 *
 * Hooks (https://docs.claude.com/en/docs/claude-code/hooks): `{"hooks": {"<Event>": [{"matcher":
 * "...", "hooks": [{"type": "command", "command": "..."}]}]}}`; commands inherit Claude Code's
 * environment, so `$ORCHESTRA_RUN_DIR` reaches them. Seen firing in this order against a scripted
 * Messages API server: SessionStart, UserPromptSubmit, Stop, SessionEnd.
 *
 * In a container, where nobody can answer its start-up dialogs, Claude Code also gets (each one
 * found by running 2.1.197 on a fresh home):
 * - `CLAUDE_CONFIG_DIR=<run dir>/claude-config` holding a `.claude.json` that marks onboarding done
 *   (else it checks api.anthropic.com and shows a welcome screen) and trusts the worktree (else
 *   "Is this a project you created or one you trust?"). Sessions then live in the run directory
 *   too, so `--resume` works after the container is replaced.
 * - `IS_SANDBOX=1`: without it `--dangerously-skip-permissions` exits when the uid is 0.
 * - `skipDangerousModePermissionPrompt` in the settings: skips the bypass-mode confirmation.
 * - With no `ANTHROPIC_API_KEY` on the host, the user's own login: `CLAUDE_CODE_OAUTH_TOKEN` from
 *   the host's environment, else the access token of their login file ({@link claudeLoginFile}),
 *   handed over as that secret — Claude Code 2.1.197 then sends it as `Authorization: Bearer` to
 *   `ANTHROPIC_BASE_URL` (seen against a scripted server). Only the access token goes in, never
 *   the refresh token: when it expires, the container's agent gets 401s until the host signs in
 *   again and the attempt is resumed.
 * - Else the API key through `apiKeyHelper` from `ORCHESTRA_ANTHROPIC_API_KEY` ({@link AgentLaunch.renameEnv}):
 *   with `ANTHROPIC_API_KEY` itself in its environment Claude Code asks "Do you want to use this
 *   API key?", defaulting to No, unless a fragment of the key is stored in `.claude.json`.
 */

/** The settings file in the run directory. */
export const CLAUDE_SETTINGS_FILE = 'claude-settings.json';
/** Claude Code's config directory in the run directory (containers only). */
export const CLAUDE_CONFIG_DIR = 'claude-config';
/** The name the API key reaches Claude Code under in a container. */
export const CLAUDE_KEY_ENV = 'ORCHESTRA_ANTHROPIC_API_KEY';

/** One `command` hook entry of Claude Code's settings. */
export interface ClaudeHookGroup {
  matcher?: string;
  hooks: { type: 'command'; command: string; timeout?: number }[];
}

/** The part of Claude Code's settings.json that orchestra writes. */
export interface ClaudeSettings {
  hooks: Record<string, ClaudeHookGroup[]>;
  apiKeyHelper?: string;
  skipDangerousModePermissionPrompt?: boolean;
}

/** Seconds a status hook may take; it is one printf, so a hang means a broken file system. */
const HOOK_TIMEOUT_S = 10;

function hook(line: StatusLine, matcher?: string): ClaudeHookGroup {
  return {
    ...(matcher !== undefined ? { matcher } : {}),
    hooks: [{ type: 'command', command: statusCommand(line), timeout: HOOK_TIMEOUT_S }],
  };
}

/**
 * The hook table: which Claude Code event means which state.
 * - UserPromptSubmit: a prompt was sent (the first one included) — working.
 * - PostToolUse: a tool ran, e.g. after a person allowed it — working again after Notification.
 * - Stop: Claude finished its turn — done: the round is over and the check gate runs (a failure
 *   goes back as its next prompt). It stays at its prompt for a person who wants to type more.
 * - Notification: it asks for a permission or has idled at its prompt — waiting.
 * - SessionStart on resume or /clear: the conversation is back, nothing is running — waiting.
 * - SessionEnd: the session is over (exit, logout) — done.
 */
export function claudeHooks(): Record<string, ClaudeHookGroup[]> {
  const source = (event: string) => `claude-code:${event}`;
  return {
    UserPromptSubmit: [
      hook({ state: 'working', summary: 'prompt submitted', source: source('UserPromptSubmit') }),
    ],
    PostToolUse: [hook({ state: 'working', summary: 'tool finished', source: source('PostToolUse') }, '*')],
    Stop: [hook({ state: 'done', summary: 'turn finished', source: source('Stop') })],
    Notification: [hook({ state: 'waiting', summary: 'needs attention', source: source('Notification') })],
    SessionStart: [
      hook({ state: 'waiting', summary: 'session restored', source: source('SessionStart') }, 'resume|clear'),
    ],
    SessionEnd: [hook({ state: 'done', summary: 'session ended', source: source('SessionEnd') })],
  };
}

/**
 * Claude Code's settings for one attempt. In a container, the API key comes through
 * `apiKeyHelper` — unless `login` says it signs in with the user's own login (an OAuth token) instead.
 */
export function claudeSettings(inContainer: boolean, login: 'key' | 'login' = 'key'): ClaudeSettings {
  const settings: ClaudeSettings = { hooks: claudeHooks() };
  if (inContainer) {
    if (login === 'key') settings.apiKeyHelper = `printenv ${CLAUDE_KEY_ENV}`;
    settings.skipDangerousModePermissionPrompt = true;
  }
  return settings;
}

/**
 * Where Claude Code keeps its login on this machine, as Claude Code itself looks for it:
 * `$CLAUDE_CONFIG_DIR/.credentials.json`, else `~/.claude/.credentials.json` (Linux; on macOS
 * the login is in the Keychain and there is no file). Undefined without either variable.
 */
export function claudeLoginFile(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.CLAUDE_CONFIG_DIR || (env.HOME ? path.join(env.HOME, '.claude') : undefined);
  return dir && path.isAbsolute(dir) ? path.join(dir, '.credentials.json') : undefined;
}

/** The OAuth access token of a Claude Code login file (`{"claudeAiOauth": {"accessToken": ...}}`). */
export function claudeAccessToken(text: string): string | undefined {
  try {
    const token = (JSON.parse(text) as { claudeAiOauth?: { accessToken?: unknown } }).claudeAiOauth
      ?.accessToken;
    return typeof token === 'string' && token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The variable Claude Code takes an OAuth token from (what `claude setup-token` prints is one). */
export const CLAUDE_TOKEN_ENV = 'CLAUDE_CODE_OAUTH_TOKEN';

/**
 * Screens Claude Code shows before any hook can run, as seen from 2.1.197 in a 100x30 terminal:
 * the workspace trust dialog and the API-key question. Everything later is reported by hooks.
 */
export const CLAUDE_PROMPT_PATTERNS: PromptPatterns = {
  waiting: /Yes, I trust this folder|Do you want to use this API key\?|Enter to confirm · Esc to cancel/,
};

export const claudeAdapter: AgentAdapter = {
  type: 'claude',
  requirements: 'Claude Code (`npm install -g @anthropic-ai/claude-code`, command `claude`) on PATH',
  reportsUsage: false,
  launch(ctx: AgentLaunchContext): AgentLaunch {
    const sessionId = ctx.sessionId ?? (ctx.resume ? undefined : randomUUID());
    const settingsPath = `${ctx.runDir}/${CLAUDE_SETTINGS_FILE}`;
    const session = ctx.resume
      ? sessionId !== undefined
        ? ['--resume', sessionId]
        : ['--continue']
      : ['--session-id', sessionId as string];
    const command = [
      ...programOf(ctx, 'claude'),
      ...session,
      '--settings',
      settingsPath,
      ...(ctx.inContainer ? ['--dangerously-skip-permissions'] : []),
      ...ctx.agent.args,
      ...(ctx.resume ? [] : ['--', ctx.prompt]),
    ];
    // With no API key on the host, a container signs in with the user's own login: a token in
    // the environment (passed on as a secret), else the one in their login file.
    const hostEnv = ctx.hostEnv ?? process.env;
    const useLogin = ctx.inContainer && !hostEnv.ANTHROPIC_API_KEY;
    const loginFile =
      useLogin && !hostEnv[CLAUDE_TOKEN_ENV] && !hostEnv.ANTHROPIC_AUTH_TOKEN
        ? claudeLoginFile(hostEnv)
        : undefined;
    const files: AgentLaunchFile[] = [
      {
        path: CLAUDE_SETTINGS_FILE,
        content: `${JSON.stringify(claudeSettings(ctx.inContainer, useLogin ? 'login' : 'key'), null, 2)}\n`,
      },
    ];
    const env = baseEnv(ctx);
    const launch: AgentLaunch = { command, cwd: ctx.worktree, env, files, hooks: true };
    if (sessionId !== undefined) launch.sessionId = sessionId;
    if (ctx.inContainer) {
      env.CLAUDE_CONFIG_DIR = `${ctx.runDir}/${CLAUDE_CONFIG_DIR}`;
      env.IS_SANDBOX = '1';
      // The container reaches the model endpoint only: no telemetry, error reports or update
      // checks to wait on, and no self-update of a binary in a read-only image.
      env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
      env.DISABLE_AUTOUPDATER = '1';
      if (!useLogin) launch.renameEnv = { [CLAUDE_KEY_ENV]: 'ANTHROPIC_API_KEY' };
      else if (loginFile)
        launch.loginToken = { file: loginFile, env: CLAUDE_TOKEN_ENV, read: claudeAccessToken };
      const state = {
        hasCompletedOnboarding: true,
        projects: { [ctx.worktree]: { hasTrustDialogAccepted: true } },
      };
      files.push({
        path: `${CLAUDE_CONFIG_DIR}/.claude.json`,
        content: `${JSON.stringify(state, null, 2)}\n`,
        mode: 0o600,
      });
    }
    launch.promptPatterns = CLAUDE_PROMPT_PATTERNS;
    return launch;
  },
  stateFromScreen: (text) => screenState(CLAUDE_PROMPT_PATTERNS, text),
  stateFromExit: exitState,
};
