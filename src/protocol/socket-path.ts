import { join } from 'node:path';

/**
 * Where session sockets live (DESIGN.md, "Sockets and sessions"): `$ORCHESTRA_TMPDIR` or `/tmp`,
 * then `orchestra-<uid>/`. The directory's owner and mode are the access boundary, so it must be
 * ours and closed to everyone else (tmux's rule for its `tmux-<uid>` directory; `ensureSocketDir`
 * in src/ipc/socket-dir.ts creates and checks it).
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
