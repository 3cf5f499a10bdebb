/**
 * The one error type a user can meet. It carries a stable `code`, a one-line `message` and a
 * `hint` saying what to do next. The CLI prints `error: <message>` and `hint: <hint>`, never a stack
 * trace unless `--debug` is given.
 */

/** Stable codes, so scripts and tests can tell failures apart without matching on prose. */
export type OrchestraErrorCode =
  | 'NOT_A_REPO'
  | 'NOT_INITIALIZED'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'TASK_INVALID'
  | 'TASK_NOT_FOUND'
  | 'PATH_ESCAPE'
  | 'STATE_CORRUPT'
  | 'STATE_TOO_NEW'
  | 'STATE_LOCKED'
  | 'GIT_FAILED'
  | 'BASE_BRANCH_MISSING'
  | 'WORKTREE_EXISTS'
  | 'SETUP_FAILED'
  | 'COPY_FAILED'
  | 'EXPORT_FAILED'
  | 'SOCKET_DIR_UNSAFE'
  | 'SERVER_UNREACHABLE'
  | 'SERVER_EXISTS'
  | 'PROTOCOL_MISMATCH'
  | 'PANE_NOT_FOUND'
  | 'SPAWN_FAILED'
  | 'DOCKER_UNAVAILABLE'
  | 'IMAGE_MISSING'
  | 'IMAGE_BUILD_FAILED'
  | 'SERVICE_ENABLED'
  | 'USAGE'
  | 'INTERNAL';

/** Process exit codes of the CLI: 0 ok, 1 failure, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure a user can act on: `code` for machines, `message` and `hint` for people. */
export class OrchestraError extends Error {
  readonly code: OrchestraErrorCode;
  readonly hint: string | undefined;

  /**
   * @param code stable machine-readable code
   * @param message one line, no trailing period needed
   * @param options.hint what the user should do next
   * @param options.cause the underlying error, kept for `--debug`
   */
  constructor(code: OrchestraErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OrchestraError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The exit code the CLI uses for this error: 2 for usage errors, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

/** True when `error` is an {@link OrchestraError}, optionally with the given code. */
export function isOrchestraError(error: unknown, code?: OrchestraErrorCode): error is OrchestraError {
  return error instanceof OrchestraError && (code === undefined || error.code === code);
}

/** The message of any thrown value, for logs and one-line reports. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
