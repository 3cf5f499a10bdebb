import { lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OrchestraError } from '../common/errors.js';

/**
 * Where session sockets live (DESIGN.md, "Sockets and sessions"): `$ORCHESTRA_TMPDIR` or `/tmp`,
 * then `orchestra-<uid>/`. The directory's owner and mode are the access boundary, so it must be
 * ours and closed to everyone else (tmux's rule for its `tmux-<uid>` directory).
 */
export function socketDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.ORCHESTRA_TMPDIR || '/tmp';
  return join(base, `orchestra-${process.getuid?.() ?? 0}`);
}

/** The socket of session `name`. */
export function socketPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(socketDir(env), name);
}

/** Session names become file names: letters, digits, `.`, `_`, `-`; at most 64 characters. */
export function sanitizeSessionName(name: string): string {
  const clean = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 64);
  return clean || 'default';
}

/**
 * Creates the socket directory (mode 0700) if needed and checks it.
 *
 * @returns the directory
 * @throws OrchestraError INTERNAL-coded refusal when it is not a directory, is owned by another
 *   user, or is open to group or others
 */
export async function ensureSocketDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = socketDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await checkSocketDir(dir);
  return dir;
}

/** Refuses a socket directory that is not ours alone. */
export async function checkSocketDir(dir: string): Promise<void> {
  const stats = await lstat(dir);
  const uid = process.getuid?.();
  if (!stats.isDirectory()) {
    throw new OrchestraError('SOCKET_DIR_UNSAFE', `${dir} is not a directory`, {
      hint: `remove it, or point ORCHESTRA_TMPDIR elsewhere`,
    });
  }
  if (uid !== undefined && stats.uid !== uid) {
    throw new OrchestraError(
      'SOCKET_DIR_UNSAFE',
      `${dir} is owned by uid ${stats.uid}, not by you (uid ${uid})`,
      {
        hint: 'another user may be listening there; set ORCHESTRA_TMPDIR to a directory of your own',
      },
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new OrchestraError(
      'SOCKET_DIR_UNSAFE',
      `${dir} has mode ${(stats.mode & 0o777).toString(8)}; others could reach your sessions`,
      { hint: `run \`chmod 700 ${dir}\`` },
    );
  }
}
