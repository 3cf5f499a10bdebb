import { baseEnv, exitState, programOf, screenState } from './common.js';
import { statusCommand } from './status-command.js';
import type { AgentAdapter, AgentLaunch, AgentLaunchContext, PromptPatterns } from './types.js';

/**
 * Aider (`aider`), interactive. Aider takes no first prompt on its command line (`--message`
 * answers one message and exits), so the task file is added read-only with `--read` and a one-line
 * request is typed into its prompt once it first waits ({@link AgentLaunch.initialInput}). Its
 * notifications command runs whenever it waits for input after the model answered, so it appends
 * a `waiting` line to `events.jsonl`; the rest comes from the screen.
 *
 * Needs: Aider (`python -m pip install aider-install && aider-install`, command `aider`) on PATH,
 * configured for a model (its own config file or `ANTHROPIC_API_KEY` / `OPENAI_API_KEY` passed by
 * the worker). PyPI is out of reach from these machines, so this adapter was not run against a
 * real Aider: flags are from Aider's `aider/args.py`, behaviour from `aider/io.py` (both on GitHub,
 * Aider-AI/aider).
 *
 * Flags used (help texts from args.py):
 * - `--read FILE`: "specify a read-only file".
 * - `--chat-history-file`, `--input-history-file`: kept in the run directory, not the worktree.
 * - `--restore-chat-history` (resume): "Restore the previous chat history messages".
 * - `--no-gitignore`: else Aider offers to add `.aider*` to the worktree's .gitignore.
 * - `--notifications --notifications-command CMD`: CMD runs through the shell when Aider waits
 *   for input after the model answered (io.py, `ring_bell`).
 * - Container only: `--yes-always` ("Always say yes to every confirmation"), `--no-check-update`,
 *   `--no-show-release-notes` and `--analytics-disable`, so no question blocks an unattended start.
 */

export const AIDER_CHAT_HISTORY = 'aider.chat.history.md';
export const AIDER_INPUT_HISTORY = 'aider.input.history';

/**
 * Aider's prompts, from io.py: the input prompt is `> ` after an optional edit-format word and
 * `multi` (`architect> `, `multi> `), and questions end in `(Y)es/(N)o ... [Yes]: `. Aider prints
 * line by line, so it waits exactly when one of them is the last line on screen (a person may have
 * typed after it); any other last line is output in progress.
 */
export const AIDER_PROMPT_PATTERNS: PromptPatterns = {
  waiting: /(?:^|\n)(?:(?:[\w-]+(?: multi)?)?>(?: [^\n]*)?|[^\n]*\(Y\)es\/\(N\)o[^\n]*\]: ?[^\n]*)\s*$/,
  working: /\S/,
};

export const aiderAdapter: AgentAdapter = {
  type: 'aider',
  requirements: 'Aider (`aider-install`, command `aider`) on PATH, configured for a model',
  reportsUsage: false,
  launch(ctx: AgentLaunchContext): AgentLaunch {
    const notify = statusCommand({
      state: 'waiting',
      summary: 'waiting for input',
      source: 'aider:notifications',
    });
    const command = [
      ...programOf(ctx, 'aider'),
      '--read',
      ctx.taskFile,
      '--chat-history-file',
      `${ctx.runDir}/${AIDER_CHAT_HISTORY}`,
      '--input-history-file',
      `${ctx.runDir}/${AIDER_INPUT_HISTORY}`,
      '--no-gitignore',
      '--notifications',
      '--notifications-command',
      notify,
      ...(ctx.resume ? ['--restore-chat-history'] : []),
      ...(ctx.inContainer
        ? ['--yes-always', '--no-check-update', '--no-show-release-notes', '--analytics-disable']
        : []),
      ...ctx.agent.args,
    ];
    const launch: AgentLaunch = {
      command,
      cwd: ctx.worktree,
      env: baseEnv(ctx),
      files: [],
      promptPatterns: AIDER_PROMPT_PATTERNS,
      hooks: false,
    };
    if (!ctx.resume) {
      launch.initialInput = `Please complete the task described in ${ctx.taskFile} (added to this chat read-only).`;
    }
    return launch;
  },
  stateFromScreen: (text) => screenState(AIDER_PROMPT_PATTERNS, text),
  stateFromExit: exitState,
};
