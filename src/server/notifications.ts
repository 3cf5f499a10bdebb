import { spawn } from 'node:child_process';
import { parseAttemptId } from '../common/ids.js';
import { printable } from '../common/printable.js';
import type { Logger } from '../log/logger.js';
import type { Notice } from '../protocol/messages.js';

/** Agent states a person is told about: the agent waits for them, or it has ended. */
export const NOTIFY_STATES: ReadonlySet<string> = new Set(['waiting', 'done', 'error']);

/** The most characters of an agent's summary a notification carries. */
const SUMMARY_CHARS = 200;

/** How long a `notify` command may run before it is killed, ms. */
const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * The notice for a state an agent reported, or undefined when it is not one a person is told
 * about. `summary` is the agent's text (hostile input): made printable and cut short.
 */
export function noticeFor(
  pane: { id: number; name: string; attemptId?: string | undefined },
  state: string,
  summary: unknown,
): Notice | undefined {
  if (!NOTIFY_STATES.has(state)) return undefined;
  const text = typeof summary === 'string' ? [...printable(summary)].slice(0, SUMMARY_CHARS).join('') : '';
  const task = pane.attemptId ? parseAttemptId(pane.attemptId)?.taskId : undefined;
  return {
    pane: pane.id,
    name: printable(pane.name),
    state,
    summary: text,
    ...(pane.attemptId ? { attempt: pane.attemptId } : {}),
    ...(task ? { task } : {}),
  };
}

/**
 * The config's `notify` argv for `notice`: `{task}`, `{attempt}`, `{state}` and `{summary}`
 * replaced inside each argument ('' when the pane has no task), never split or passed to a shell.
 */
export function notifyArgv(template: readonly string[], notice: Notice): string[] {
  const values: Record<string, string> = {
    task: notice.task ?? '',
    attempt: notice.attempt ?? '',
    state: notice.state,
    summary: notice.summary,
  };
  return template.map((arg) =>
    arg.replace(/\{(task|attempt|state|summary)\}/g, (_, key: string) => values[key]!),
  );
}

/**
 * Runs the config's `notify` command for `notice`, detached from the server's output; a command
 * that fails or runs longer than 10 s is logged (and killed), never fatal.
 */
export function runNotifyCommand(template: readonly string[], notice: Notice, logger?: Logger): void {
  const [file, ...args] = notifyArgv(template, notice);
  if (!file) return;
  const child = spawn(file, args, { stdio: 'ignore', timeout: NOTIFY_TIMEOUT_MS, killSignal: 'SIGKILL' });
  child.on('error', (error) =>
    logger?.warn({ err: error, command: file }, 'the notify command could not start'),
  );
  child.on('exit', (code, signal) => {
    if (code !== 0) logger?.warn({ command: file, code, signal }, 'the notify command failed');
  });
}
