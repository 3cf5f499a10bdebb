import type { SecretEnvName } from '../../common/secret-env.js';
import type { AgentConfig, AgentType } from '../../config/schema.js';

/**
 * The contract between the worker that starts an attempt and the adapter of its agent CLI
 * (DESIGN.md, "Processes" 4). An adapter is pure: it turns a context into argv, environment and
 * files; the caller writes the files, spawns the command on a TTY and watches it.
 */

/** What the worker knows when it starts an agent. Paths are as the agent sees them (inside the container when `inContainer`). */
export interface AgentLaunchContext {
  /** The task file the agent works on. */
  taskFile: string;
  /** The task file's text. */
  taskText: string;
  /** The task as a first prompt, for CLIs that take one. */
  prompt: string;
  /** The attempt's run directory (`/run/orchestra` in a container): `events.jsonl` lives here. */
  runDir: string;
  /** The attempt's worktree: the agent's working directory. */
  worktree: string;
  /** True in a Docker worker: the only place where unattended approval flags are used. */
  inContainer: boolean;
  /** Continue the attempt's earlier session instead of starting one. */
  resume: boolean;
  /** The CLI session to resume, as returned in {@link AgentLaunch.sessionId} by the first launch. */
  sessionId?: string;
  /** The agent's entry from the config. */
  agent: AgentConfig;
  /** Profile for the built-in agent; overrides `agent.profile`. */
  profile?: string;
  /** Environment the worker starts from, read only for non-secret settings such as `SHELL` (default: process.env). */
  hostEnv?: NodeJS.ProcessEnv;
}

/** A file the caller writes before starting the agent. */
export interface AgentLaunchFile {
  /** Relative to the attempt's run directory (never absolute, never `..`). */
  path: string;
  content: string;
  /** File mode (default 0o644). */
  mode?: number;
}

/**
 * The user's own login of a CLI, for a container when no API key is set (a subscription login):
 * the caller reads `file` on the host and hands the token `read` finds in it to the container as
 * the secret `env`, like any key. The file itself never enters the container (its refresh token
 * would let an agent keep the login, and could rotate the host's away).
 */
export interface AgentLoginToken {
  /** Absolute path on the host, e.g. `~/.claude/.credentials.json`. */
  file: string;
  /** The variable the CLI reads the token from, e.g. `CLAUDE_CODE_OAUTH_TOKEN`. */
  env: string;
  /** The token in the file's text; undefined when it holds none. */
  read(text: string): string | undefined;
}

/** Screen-text patterns for CLIs that cannot report their state themselves. */
export interface PromptPatterns {
  /** The agent waits for a person: its input prompt, a question or a dialog. Checked first. */
  waiting?: RegExp;
  /** The agent is busy. Checked when `waiting` does not match; neither matching means "cannot tell". */
  working?: RegExp;
}

/** How to start the agent: the adapter's answer. */
export interface AgentLaunch {
  /** argv; `command[0]` is looked up on PATH. Never contains a secret. */
  command: string[];
  /** Working directory: the worktree. */
  cwd: string;
  /**
   * Variables the adapter sets, over the worker's base environment. Always has `ORCHESTRA_RUN_DIR`.
   * Secrets are not here: the caller passes them (DESIGN.md, "Security").
   */
  env: Record<string, string>;
  /**
   * Secrets the CLI must receive under another name, `{ to: from }`: the caller passes its `from`
   * value as `to` and leaves `from` out. Claude Code in a container reads its API key this way.
   */
  renameEnv?: Record<string, string>;
  /** Written under the run directory before start, e.g. hook settings. */
  files: AgentLaunchFile[];
  /** The user's login to sign in with when no key is set (containers only). */
  loginToken?: AgentLoginToken;
  /** The CLI session this launch starts or resumes, to store for a later resume. */
  sessionId?: string;
  /** Patterns over the pane's screen text, for CLIs without hooks. */
  promptPatterns?: PromptPatterns;
  /**
   * One line to type into the agent once its screen first reads as waiting, for a CLI that cannot
   * take a first prompt on its command line (Aider). The caller sends Enter (`\r`) as a separate
   * write afterwards: TUIs such as Codex's take one burst of text ending in Enter for a paste and
   * keep the Enter as a newline (seen with codex-cli 0.169.0).
   */
  initialInput?: string;
  /** True when the CLI writes `status` events itself (through hooks), so the screen is only a fallback. */
  hooks: boolean;
}

/** The state a screen shows: busy, or waiting for a person; undefined when it cannot tell. */
export type ScreenState = 'working' | 'waiting';

/** The state a finished agent process leaves. */
export type ExitState = 'done' | 'error';

/** One agent CLI. */
export interface AgentAdapter {
  type: AgentType;
  /** What must be installed where the agent runs (the image, or the host for local workers). */
  requirements: string;
  /** True when the agent appends `usage` events, so its cost can be known. */
  reportsUsage: boolean;
  /**
   * Secrets the agent cannot run without: one of these must be set in the server's environment,
   * or its attempts wait (the queue says why). Absent: the agent may log in its own way.
   */
  requiredEnv?: readonly SecretEnvName[];
  /**
   * @throws OrchestraError CONFIG_INVALID when the agent's config cannot be turned into a command
   */
  launch(ctx: AgentLaunchContext): AgentLaunch;
  /** The state the pane's screen text shows, from the adapter's prompt patterns. */
  stateFromScreen?(text: string): ScreenState | undefined;
  /** Exit code 0 is done; anything else, or death by a signal (null), is an error. */
  stateFromExit(code: number | null): ExitState;
}
