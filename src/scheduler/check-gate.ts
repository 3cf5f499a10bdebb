import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runSetup } from '../git/run-setup.js';
import { execInContainer } from '../workers/docker-exec.js';

/** How long all of an attempt's check commands may take together, ms. */
export const CHECK_TIMEOUT_MS = 15 * 60_000;

/** Characters of check output kept for the agent, the store and the archive. */
export const CHECK_TAIL_CHARS = 6000;

/** Where the check commands run: on the host in the worktree, or in the attempt's container. */
export type CheckWorker = { kind: 'local' } | { kind: 'docker'; containerId: string };

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
 * Runs the check gate's commands (the config's `check`, then the task's test plan) in the
 * attempt's worker, in its worktree (issue 6, "Check gate"). Output goes to `onOutput` (the
 * pane) and to `<run-dir>/checks.log`.
 *
 * @param stopOnFirstFailure skip the remaining commands after one fails (config)
 */
export async function runChecks(options: {
  commands: string[];
  worktree: string;
  runDir: string;
  round: number;
  worker: CheckWorker;
  env?: Record<string, string>;
  stopOnFirstFailure: boolean;
  onOutput: (chunk: string) => void;
}): Promise<CheckResult> {
  let output = '';
  const emit = (chunk: string) => {
    output += chunk;
    options.onOutput(chunk);
  };
  const log = join(options.runDir, 'checks.log');
  let failed: string | undefined;
  const started = Date.now();
  for (const command of options.commands) {
    const left = CHECK_TIMEOUT_MS - (Date.now() - started);
    let exitCode: number | null;
    if (options.worker.kind === 'docker') {
      emit(`$ ${command}\n`);
      const result = await execInContainer(options.worker.containerId, ['sh', '-c', command], {
        workingDir: options.worktree,
        onOutput: emit,
        timeoutMs: Math.max(1000, left),
        ...(options.env ? { env: options.env } : {}),
      });
      exitCode = result.exitCode;
      if (result.timedOut) emit(`\n(timed out after ${Math.round(CHECK_TIMEOUT_MS / 60_000)} min)\n`);
    } else {
      const result = await runSetup(options.worktree, [command], {
        timeoutMs: Math.max(1000, left),
        onOutput: emit,
        // A server started inside a `node --test` run would hand its test context down, and a
        // nested `node --test` then reports success whatever happens.
        env: { NODE_TEST_CONTEXT: undefined, ...options.env },
      });
      exitCode = result.steps[0]?.exitCode ?? null;
    }
    if (exitCode !== 0) {
      emit(`✗ ${command} exited ${exitCode ?? 'by a signal or timeout'}\n`);
      failed ??= command;
      if (options.stopOnFirstFailure) break;
    } else {
      emit(`✓ ${command}\n`);
    }
  }
  await appendFile(log, `── round ${options.round} ──\n${output}\n`).catch(() => {
    // The run directory may be gone (gc); the pane and the store still have the output.
  });
  return failed === undefined ? { passed: true, output } : { passed: false, failed, output };
}
