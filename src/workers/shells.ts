import { lchown, lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerConfig } from '../config/schema.js';
import { parseUser } from './container-spec.js';
import { ToolContainer, type ToolRole } from './tool-container.js';
import { LocalShell, type WorkerShell } from './worker-shell.js';

/**
 * Opening the right {@link WorkerShell} for an attempt's setup, checks, export or merge gate, and
 * running a list of commands in one. Docker attempts get a tool container of their own (no
 * secrets, no TTY); local ones a {@link LocalShell} (secrets removed, nothing more).
 */

/** Where an attempt's commands run. */
export interface ShellPlace {
  sandbox: 'docker' | 'local';
  session: string;
  /** The host repository's top level (absolute), for the containers' repository label. */
  repo?: string;
  taskId: string;
  attemptId: string;
  /** The attempt's repository folder (absolute). */
  worktree: string;
  /** The attempt's run directory (absolute). */
  runDir: string;
  /** The host's object directory (absolute), the repository's alternate. */
  objectsDir: string;
  config: WorkerConfig;
  /** `uid:gid` of the worker (Docker). */
  user: string;
  /** The server's environment: a local shell takes it without secrets; a container gets none of it. */
  env: NodeJS.ProcessEnv;
}

/**
 * The host's extra CA file for containers: `NODE_EXTRA_CA_CERTS` of the server's environment when
 * it names a regular file by an absolute path (what Node on the host adds to its trust store).
 * Anything else — missing, a folder, relative — is left out: Node on the host only warns about
 * it, and a folder would put a tree of the host into the container.
 */
export async function hostCaFile(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file?.startsWith('/')) return undefined;
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ? file : undefined;
}

/**
 * The network for the check gate: `bridge` only when the worker has it; with `model-only` or
 * `none` checks get no network (they need no model, and must not reach one with the agent's key).
 */
export function checksNetwork(config: WorkerConfig): string {
  return config.network === 'bridge' ? 'bridge' : 'none';
}

/**
 * A shell for `role` at `place`. An attempt's setup gets `bridge` (installs need the network, and it
 * runs the base's code, before any agent); checks and the merge gate, which run what an agent
 * wrote, get {@link checksNetwork}.
 *
 * @throws OrchestraError IMAGE_MISSING or SPAWN_FAILED from the engine
 */
export async function openShell(place: ShellPlace, role: ToolRole): Promise<WorkerShell> {
  const network = role === 'setup' ? 'bridge' : checksNetwork(place.config);
  if (place.sandbox === 'local') return new LocalShell(place.worktree, place.env);
  const caFile = await hostCaFile(place.env);
  return ToolContainer.start({
    session: place.session,
    ...(place.repo ? { repo: place.repo } : {}),
    taskId: place.taskId,
    attemptId: place.attemptId,
    role,
    worktree: place.worktree,
    objectsDir: place.objectsDir,
    runDir: place.runDir,
    config: place.config,
    user: place.user,
    network,
    // Only setup writes the cache: it runs the base's commands before any agent.
    packageCache: role === 'setup' && place.config.packageCache,
    ...(caFile ? { caFile } : {}),
  });
}

/** Runs `fn` with a shell for `role` and disposes of it afterwards, whatever happens. */
export async function withShell<T>(
  place: ShellPlace,
  role: ToolRole,
  fn: (shell: WorkerShell) => Promise<T>,
): Promise<T> {
  const shell = await openShell(place, role);
  try {
    return await fn(shell);
  } finally {
    await shell.dispose();
  }
}

/**
 * Makes `paths` (recursively, symlinks not followed) belong to the worker's `uid:gid`, so an
 * unprivileged worker can write the attempt's files. Only when the server runs as root and the
 * worker's uid is another; otherwise a no-op.
 */
export async function handOver(paths: string[], user: string): Promise<void> {
  const { uid, gid } = parseUser(user);
  if (process.getuid?.() !== 0 || uid === 0) return;
  const walk = async (path: string): Promise<void> => {
    const info = await lstat(path);
    if (info.uid !== uid || info.gid !== gid) await lchown(path, uid, gid);
    if (!info.isDirectory()) return;
    for (const name of await readdir(path)) await walk(join(path, name));
  };
  for (const path of paths) await walk(path);
}

/** Characters of command output kept by {@link runCommands} (the tail): far more than any caller shows. */
const MAX_OUTPUT_CHARS = 1024 * 1024;

/** What {@link runCommands} came to. */
export interface CommandsResult {
  ok: boolean;
  /** The first command that failed. */
  failed?: string;
  /** One line: the failed command and how it failed. */
  detail?: string;
  /** `$ <command>`, its output and a `✓`/`✗` line for each command, as shown live. */
  output: string;
}

/**
 * Runs `commands` one after another in `shell` within one budget, showing `$ <command>`, the
 * output and `✓ <command>` or `✗ <command> exited N` for each.
 *
 * @param options.keepGoing run the rest after a failure (the check gate's `stopOnFirstFailure` off)
 * @param options.timeoutMs budget for all of them together, ms
 */
export async function runCommands(
  shell: WorkerShell,
  commands: string[],
  options: { timeoutMs: number; onOutput?: (chunk: string) => void; keepGoing?: boolean },
): Promise<CommandsResult> {
  let output = '';
  const emit = (chunk: string) => {
    // Only a tail is kept: a check that prints gigabytes must not exhaust the server's memory.
    output = (output + chunk).slice(-MAX_OUTPUT_CHARS);
    options.onOutput?.(chunk);
  };
  const started = Date.now();
  let failed: string | undefined;
  let detail: string | undefined;
  for (const command of commands) {
    emit(`$ ${command}\n`);
    const left = options.timeoutMs - (Date.now() - started);
    const result = await shell.run(command, { timeoutMs: Math.max(1000, left), onOutput: emit });
    if (result.exitCode === 0) {
      emit(`✓ ${command}\n`);
      continue;
    }
    const how = result.timedOut
      ? `timed out after ${Math.round(options.timeoutMs / 60_000)} min`
      : result.exitCode === null
        ? 'was killed by a signal'
        : `exit ${result.exitCode}`;
    emit(`\n✗ ${command} ${result.exitCode === null ? how : `exited ${result.exitCode}`}\n`);
    if (failed === undefined) {
      failed = command;
      detail = `"${command}" failed (${how})`;
    }
    if (!options.keepGoing || result.timedOut) break;
  }
  return failed === undefined
    ? { ok: true, output }
    : { ok: false, failed, ...(detail ? { detail } : {}), output };
}
