import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';

/**
 * Tries to connect to a Unix socket.
 * @returns 'live' when a server accepts, 'stale' when the file exists but nobody listens, 'none'
 */
export function probeSocket(path: string, timeoutMs = 1000): Promise<'live' | 'stale' | 'none'> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('live'); // accepted but silent is still someone listening
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code === 'ECONNREFUSED' ? 'stale' : 'none');
    });
  });
}

/**
 * Holds a lock file next to the sockets while `task` runs, so that two processes starting the same
 * session end with one server (DESIGN.md, "Sockets and sessions").
 */
export async function withSessionLock<T>(lockPath: string, task: () => Promise<T>): Promise<T> {
  await writeFile(lockPath, '', { flag: 'a', mode: 0o600 });
  // Loaded on use: only a client that starts a server takes the lock, not every command.
  const { default: lockfile } = await import('proper-lockfile');
  const release = await lockfile.lock(lockPath, {
    realpath: false,
    stale: 10_000,
    retries: { retries: 200, minTimeout: 10, maxTimeout: 100 },
  });
  try {
    return await task();
  } finally {
    await release().catch(() => {
      // The lock may have gone stale under a frozen process; the next starter takes it over.
    });
  }
}
