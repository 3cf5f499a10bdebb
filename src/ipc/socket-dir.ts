import { lstat, mkdir } from 'node:fs/promises';
import { OrchestraError } from '../common/errors.js';
import { socketDir } from '../protocol/socket-path.js';

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
