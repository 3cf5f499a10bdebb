import { runSetup } from '../git/run-setup.js';
import { isSecretKey, SECRET_ENV_VARS } from '../log/redact.js';

/**
 * Where the commands that a task's code can influence run (DESIGN.md, "Security"): setup, the
 * check gate, the merge gate, and the export of an attempt's work. A shell runs `sh -c` in one
 * attempt repository, never with a secret in its environment. Docker attempts get a tool
 * container (`tool-container.ts`); `sandbox: local` runs them on the host, which is not a sandbox:
 * the secrets are taken out of their environment and that is all.
 */

/** What one command in a worker came to. */
export interface ShellResult {
  /** null when it was ended by a signal or the timeout, or could not start. */
  exitCode: number | null;
  timedOut: boolean;
  /** Standard output as bytes, when `captureStdout` was asked for. */
  stdout?: Buffer;
}

/** Options of {@link WorkerShell.run}. */
export interface ShellRunOptions {
  /** Extra variables (never secrets). */
  env?: Record<string, string>;
  /** Budget for the command, ms. */
  timeoutMs: number;
  /** Live stdout and stderr (only stderr with `captureStdout`). */
  onOutput?: (chunk: string) => void;
  /** Keep standard output as bytes in the result instead of showing it. */
  captureStdout?: boolean;
}

/** A place to run commands in one attempt's repository. */
export interface WorkerShell {
  /** `local` on the host, `docker` in a tool container. */
  readonly kind: 'local' | 'docker';
  /** The repository folder commands run in (absolute; the same path inside a container). */
  readonly worktree: string;
  /** Runs `sh -c command` in {@link worktree}. Failures come back as data; it throws only for a broken engine. */
  run(command: string, options: ShellRunOptions): Promise<ShellResult>;
  /** Removes what the shell started (its container); idempotent. */
  dispose(): Promise<void>;
}

/**
 * True when an environment variable holds a secret: the known API keys and tokens, and any name
 * whose last word says so (`*_TOKEN`, `*_SECRET`, `*_PASSWORD`, `*_API_KEY`; see `isSecretKey`).
 */
export function isSecretEnv(name: string): boolean {
  return (SECRET_ENV_VARS as readonly string[]).includes(name) || isSecretKey(name);
}

/** A copy of `env` without its secrets ({@link isSecretEnv}) and without a test runner's context. */
export function withoutSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || isSecretEnv(name)) continue;
    out[name] = value;
  }
  // A server started inside a `node --test` run would hand its test context down, and a nested
  // `node --test` then reports success whatever happens.
  delete out.NODE_TEST_CONTEXT;
  return out;
}

/**
 * `sandbox: local`: commands run on the host in the attempt's folder, as the server's user, with
 * the server's environment minus its secrets. Not a sandbox (README, "sandbox: local").
 */
export class LocalShell implements WorkerShell {
  readonly kind = 'local';
  private readonly env: Record<string, string>;

  /** @param env the server's environment; secrets are removed here */
  constructor(
    readonly worktree: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.env = withoutSecrets(env);
  }

  async run(command: string, options: ShellRunOptions): Promise<ShellResult> {
    const result = await runSetup(this.worktree, [command], {
      timeoutMs: options.timeoutMs,
      quiet: true,
      env: { ...replaceAll(this.env), ...withoutSecrets(options.env ?? {}) },
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
      ...(options.captureStdout ? { captureStdout: true } : {}),
    });
    const step = result.steps[0];
    return {
      exitCode: step?.exitCode ?? null,
      timedOut: step?.timedOut === true,
      ...(step?.stdout ? { stdout: step.stdout } : {}),
    };
  }

  async dispose(): Promise<void> {
    // Nothing was started that outlives a command.
  }
}

/**
 * `runSetup` adds its `env` to `process.env`; this makes the shell's environment replace it
 * instead: every variable of `process.env` that is not in `env` is removed (undefined).
 */
function replaceAll(env: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of Object.keys(process.env)) out[name] = undefined;
  return Object.assign(out, env);
}
