import { join } from 'node:path';
import { appendNoFollow } from '../common/no-follow.js';
import { runCommands } from '../workers/shells.js';
import type { WorkerShell } from '../workers/worker-shell.js';

/** How long all of an attempt's check commands may take together, ms. */
export const CHECK_TIMEOUT_MS = 15 * 60_000;

/** Characters of check output kept for the agent, the store and the archive. */
export const CHECK_TAIL_CHARS = 6000;

/** What a check run came to. */
export interface CheckResult {
  passed: boolean;
  /** The command that failed first, when one did. */
  failed?: string;
  /** The whole output, as shown in the pane. */
  output: string;
}

/** The last `chars` characters of `text`, cut at a line start. */
export function tail(text: string, chars = CHECK_TAIL_CHARS): string {
  if (text.length <= chars) return text;
  const cut = text.slice(-chars);
  const newline = cut.indexOf('\n');
  return newline >= 0 ? cut.slice(newline + 1) : cut;
}

/**
 * Runs the check gate's commands (the config's `check`, then the task's test plan) in `shell` —
 * the attempt's tool container, or the host without secrets for `sandbox: local` — in the
 * attempt's repository (issue 6, "Check gate"). Output goes to `onOutput` (the pane) and to
 * `<run-dir>/checks.log`.
 *
 * @param stopOnFirstFailure skip the remaining commands after one fails (config)
 */
export async function runChecks(options: {
  commands: string[];
  shell: WorkerShell;
  runDir: string;
  round: number;
  stopOnFirstFailure: boolean;
  onOutput: (chunk: string) => void;
}): Promise<CheckResult> {
  const result = await runCommands(options.shell, options.commands, {
    timeoutMs: CHECK_TIMEOUT_MS,
    onOutput: options.onOutput,
    keepGoing: !options.stopOnFirstFailure,
  });
  await appendNoFollow(
    join(options.runDir, 'checks.log'),
    `── round ${options.round} ──\n${result.output}\n`,
  ).catch(() => {
    // The run directory may be gone (gc); the pane and the store still have the output.
  });
  return result.ok
    ? { passed: true, output: result.output }
    : { passed: false, ...(result.failed ? { failed: result.failed } : {}), output: result.output };
}
