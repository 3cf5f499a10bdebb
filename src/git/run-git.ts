import { spawn } from 'node:child_process';
import { type SimpleGit, simpleGit } from 'simple-git';
import { errorMessage, OrchestraError } from '../common/errors.js';

/**
 * The one way this folder talks to git: a simple-git instance with a controlled environment, and
 * the mapping of git's failures to {@link OrchestraError}.
 *
 * simple-git 4 strips every ambient `GIT_*` variable (and EDITOR, PAGER, ...) from the child
 * environment and rejects any it is handed explicitly unless named in `allowEnvironment`. That also
 * protects us from a `GIT_DIR` / `GIT_INDEX_FILE` leaking in when orchestra runs from a git hook.
 * We let through only the commit identity variables, so a user's `GIT_AUTHOR_NAME` still counts.
 */

/** Ambient variables that keep their meaning for git: commit identity only. */
const PASSED_GIT_ENV = [
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_AUTHOR_DATE',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_COMMITTER_DATE',
];

/** Non-`GIT_` names simple-git's environment guard also rejects (its `GitEnvKeys` set). */
const GUARDED_PLAIN_ENV = new Set(['editor', 'pager', 'prefix', 'ssh_askpass', 'visual']);

/** The environment of every git child: the ambient one minus guarded names, plus `extra`. */
function gitEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    const lower = key.toLowerCase();
    const guarded = lower.startsWith('git_') || GUARDED_PLAIN_ENV.has(lower);
    if (guarded && !PASSED_GIT_ENV.includes(key)) continue;
    env[key] = value;
  }
  // Messages in English, because a few are recognised by text ("not a git repository").
  env.LC_ALL = 'C';
  return { ...env, ...extra };
}

/**
 * `git -c` settings for every host-side git call (DESIGN.md, "Security"). Workers never see the
 * host's `.git` (they get repositories of their own, see `attempt-repo.ts`), so nothing here should
 * be needed; it is the second wall, in case a config or hook ever is written by someone else:
 * no hooks, no fsmonitor, no ssh program, no credential helper, and no transport but local files
 * (a bundle is fetched over the `file` transport; `ext::` and the network are refused).
 */
export const HARDENED_CONFIG = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.sshCommand=/bin/false',
  'credential.helper=',
  'protocol.allow=never',
  'protocol.file.allow=always',
  'fetch.fsckObjects=true',
  'transfer.fsckObjects=true',
];

/**
 * A simple-git instance rooted at `cwd` (which must exist), with {@link HARDENED_CONFIG}.
 *
 * @param options.env extra variables, e.g. `GIT_INDEX_FILE`; they are allowed through the guard
 * @param options.config `key=value` pairs passed as `git -c key=value`
 */
export function git(
  cwd: string,
  options: { env?: Record<string, string>; config?: string[] } = {},
): SimpleGit {
  const extra = options.env ?? {};
  return simpleGit({
    baseDir: cwd,
    config: [...HARDENED_CONFIG, ...(options.config ?? [])],
    // simple-git refuses these keys in `-c` unless told: here they switch programs off, not on.
    unsafe: {
      allowUnsafeHooksPath: true,
      allowUnsafeFsMonitor: true,
      allowUnsafeSshCommand: true,
      allowUnsafeCredentialHelper: true,
      allowUnsafeProtocolOverride: true,
    },
    allowEnvironment: [...PASSED_GIT_ENV, ...Object.keys(extra)],
  }).env(gitEnv(extra));
}

/** What {@link gitExec} came to: git's exit code and its output. */
export interface GitExecResult {
  code: number;
  /** Standard output, at most `keepBytes` of it when that was given. */
  stdout: string;
  stderr: string;
  /** Bytes git wrote to standard output in all, kept or not. */
  stdoutBytes: number;
}

/** Most of git's output held when no `keepBytes` is given, bytes; more is an error, not a result. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/**
 * Runs `git <args>` in `cwd` with the same environment and {@link HARDENED_CONFIG} as {@link git},
 * for the commands whose exit code carries the answer (`merge-tree` exits 1 on a conflict,
 * `merge-base --is-ancestor` answers only in its code), which simple-git does not hand back, and
 * for output an agent decides the size of (a diff of its commit).
 *
 * @param options.okCodes exit codes that are answers, not failures (default `[0]`)
 * @param options.keepBytes keep only the first this many bytes of standard output and read the
 *   rest without holding it (its size is still counted); without it, output over 64 MiB fails
 * @throws OrchestraError GIT_FAILED when git cannot start, exits with any other code, or says too much
 */
export function gitExec(
  cwd: string,
  args: string[],
  options: { okCodes?: number[]; env?: Record<string, string>; keepBytes?: number } = {},
): Promise<GitExecResult> {
  const okCodes = options.okCodes ?? [0];
  const keep = options.keepBytes ?? MAX_OUTPUT_BYTES;
  const argv = [...HARDENED_CONFIG.flatMap((c) => ['-c', c]), ...args];
  const failed = (why: string) => gitFailed(args[0] ?? 'command', new Error(why));
  return new Promise((resolve, reject) => {
    const child = spawn('git', argv, {
      cwd,
      env: gitEnv(options.env ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let tooMuch = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < keep) out.push(chunk.subarray(0, keep - outBytes));
      outBytes += chunk.length;
      if (options.keepBytes === undefined && outBytes > keep && !tooMuch) {
        tooMuch = true;
        child.kill();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // git's complaints are short; a flood is cut, not held.
      if (errBytes < 64 * 1024) err.push(chunk);
      errBytes += chunk.length;
    });
    child.on('error', (error) => reject(failed(errorMessage(error))));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (tooMuch) return reject(failed(`its output passed ${keep} bytes`));
      const exit = code ?? -1;
      if (!okCodes.includes(exit)) return reject(failed(stderr || `exit ${exit}`));
      resolve({ code: exit, stdout: Buffer.concat(out).toString('utf8'), stderr, stdoutBytes: outBytes });
    });
  });
}

/** The line of git's output that says what went wrong, without its `fatal: ` prefix. */
export function gitReason(error: unknown): string {
  const lines = errorMessage(error)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const line = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0] ?? 'unknown error';
  return line.replace(/^(fatal|error):\s*/, '').slice(0, 300);
}

/** True when the failure is git itself missing (spawn ENOENT), not a git command failing. */
function gitMissing(error: unknown): boolean {
  return /spawn git ENOENT/.test(errorMessage(error));
}

/**
 * Wraps a failed git command as `GIT_FAILED` with git's own reason.
 *
 * @param action what we were doing, e.g. `worktree add`
 * @param hint overrides the default hint
 */
export function gitFailed(action: string, error: unknown, hint?: string): OrchestraError {
  if (gitMissing(error)) {
    return new OrchestraError('GIT_FAILED', 'git is not installed or not on PATH', {
      hint: 'install git (2.30 or newer) and try again',
      cause: error,
    });
  }
  return new OrchestraError('GIT_FAILED', `git ${action} failed: ${gitReason(error)}`, {
    hint: hint ?? 'run the same git command yourself to see the full output',
    cause: error,
  });
}

/** Refuses a ref or branch name that git would read as an option. */
export function assertNotOption(name: string, what: string): void {
  if (name === '' || name.startsWith('-')) {
    throw new OrchestraError('GIT_FAILED', `invalid ${what} "${name}"`, {
      hint: `a ${what} cannot be empty or start with "-"`,
    });
  }
}
