import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

/**
 * The setup step of an attempt (DESIGN.md, "Attempt lifecycle": preparing = worktree, setup
 * command, worker): the repository's own commands, e.g. `npm ci`, run in the fresh worktree
 * before the agent starts. Failures come back as data, so the caller can record them on the
 * attempt; nothing here throws for a failing command.
 */

/** Default budget for all setup commands together: a cold `npm ci` of a big project fits. */
export const DEFAULT_SETUP_TIMEOUT_MS = 10 * 60_000;

/** Characters of output kept per command: the last screenful (about 50 lines) of a failing install. */
export const OUTPUT_TAIL_CHARS = 4096;

/** After SIGTERM on timeout, how long a command's process group gets before SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * How long to keep reading after the shell exits, for output still in the pipe. A background
 * process left behind can hold the pipe open forever, so we do not wait for it to close.
 * 250 ms is VS Code's flush delay after a pty exits.
 */
const EXIT_FLUSH_MS = 250;

/** One command's outcome. */
export interface SetupStep {
  command: string;
  /** Exit code, or null when the command was ended by a signal or could not be started. */
  exitCode: number | null;
  /** The signal that ended it, e.g. `SIGTERM` after a timeout. */
  signal?: NodeJS.Signals;
  /** True when the setup budget ran out during this command. */
  timedOut?: boolean;
  durationMs: number;
  /** The last {@link OUTPUT_TAIL_CHARS} characters of stdout and stderr, interleaved. */
  outputTail: string;
  /** Standard output as bytes, with `captureStdout` (then only stderr is in the tail). */
  stdout?: Buffer;
}

/** The outcome of {@link runSetup}: `ok` when every command exited 0. */
export interface SetupResult {
  ok: boolean;
  steps: SetupStep[];
}

/** Options of {@link runSetup}. */
export interface SetupOptions {
  /** Variables added to (undefined: removed from) `process.env` for the commands. */
  env?: Record<string, string | undefined>;
  /** Budget for all commands together, ms (default {@link DEFAULT_SETUP_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Live output: a `$ <command>` line before each command, then its stdout and stderr as they come. */
  onOutput?: (chunk: string) => void;
  /** Keep each command's standard output as bytes (`SetupStep.stdout`) instead of showing it. */
  captureStdout?: boolean;
  /** Print no `$ <command>` line before each command. */
  quiet?: boolean;
}

/**
 * Runs `commands` one after another with `sh -c` in `worktree`, stopping at the first that fails
 * (non-zero exit, signal, timeout, or failure to start). stdin is closed. Each command runs in its
 * own process group so a timeout ends everything it started; processes it leaves running in the
 * background after a successful exit are not killed.
 *
 * @returns one step per command that was started; `ok` is true when all of them succeeded
 */
export async function runSetup(
  worktree: string,
  commands: string[],
  options: SetupOptions = {},
): Promise<SetupResult> {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const steps: SetupStep[] = [];
  for (const command of commands) {
    if (!options.quiet) options.onOutput?.(`$ ${command}\n`);
    const step = await runStep(
      worktree,
      command,
      env,
      deadline - Date.now(),
      options.onOutput,
      options.captureStdout === true,
    );
    steps.push(step);
    if (step.exitCode !== 0) return { ok: false, steps };
  }
  return { ok: true, steps };
}

function runStep(
  cwd: string,
  command: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onOutput: ((chunk: string) => void) | undefined,
  captureStdout: boolean,
): Promise<SetupStep> {
  const started = Date.now();
  let tail = '';
  const append = (text: string) => {
    if (text === '') return;
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
    onOutput?.(text);
  };

  return new Promise((resolve) => {
    // detached: the shell leads a new process group, so a timeout can signal all of it at once.
    const child = spawn('sh', ['-c', command], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')] as const;
    const captured: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      if (captureStdout) captured.push(chunk);
      else append(decoders[0].write(chunk));
    });
    child.stderr.on('data', (chunk: Buffer) => append(decoders[1].write(chunk)));

    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone; nothing left to stop.
      }
    };

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, startError?: Error) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      append(decoders[0].end());
      append(decoders[1].end());
      child.stdout.destroy();
      child.stderr.destroy();
      if (startError) append(`failed to start: ${startError.message}\n`);
      const step: SetupStep = { command, exitCode, durationMs: Date.now() - started, outputTail: tail };
      if (signal) step.signal = signal;
      if (timedOut) step.timedOut = true;
      if (captureStdout) step.stdout = Buffer.concat(captured);
      resolve(step);
    };

    timers.push(
      setTimeout(
        () => {
          timedOut = true;
          append(`\n[orchestra: setup timed out, stopping "${command}"]\n`);
          signalGroup('SIGTERM');
          timers.push(setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS));
        },
        Math.max(0, timeoutMs),
      ),
    );

    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
    child.on('exit', (code, signal) => {
      timers.push(setTimeout(() => finish(code, signal), EXIT_FLUSH_MS));
    });
  });
}
