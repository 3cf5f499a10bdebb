import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { orchestraPaths } from '../common/paths.js';
import { sanitizeSessionName, socketPath } from '../protocol/socket-path.js';

/** A parsed `-t` target: a session, and optionally a pane in it (index, `%id` or name). */
export interface Target {
  session: string;
  pane?: string;
  /** Repository the session belongs to, when it is the current repository's own session. */
  root?: string;
}

/**
 * The session `orchestra tui` runs for the repository at `root`: the config's `sessionName`, else
 * the repository's directory name, made safe for a socket name.
 */
export function repoSessionName(root: string, config: { sessionName?: string | undefined }): string {
  return sanitizeSessionName(config.sessionName ?? basename(root));
}

/**
 * The session a command means when none is given: `$ORCHESTRA_SESSION` inside a pane, else the
 * current repository's (the config's `sessionName`, else its directory name, as `orchestra tui`
 * names it), else `default`.
 */
export async function defaultSession(
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ session: string; root?: string }> {
  if (env.ORCHESTRA_SESSION) return { session: sanitizeSessionName(env.ORCHESTRA_SESSION) };
  let root: string;
  try {
    // Loaded here, not at the top: a command that names its session (`-t`) never starts git.
    const { findRepoRoot } = await import('../git/repo.js');
    root = await findRepoRoot(cwd);
  } catch {
    return { session: 'default' };
  }
  return { session: await configuredSessionName(root, env), root };
}

/**
 * The repository's session name as `orchestra tui` names it ({@link repoSessionName}): the config
 * is loaded (and checked) only when one of its files mentions `sessionName`, so the common case
 * costs two small reads, not the config code.
 * @throws ConfigError when a config file that sets it is invalid
 */
async function configuredSessionName(root: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { userConfigPath } = await import('../config/user-config-path.js');
  const files = [orchestraPaths(root).config, userConfigPath(env)];
  const texts = await Promise.all(files.map((file) => readFile(file, 'utf8').catch(() => '')));
  if (!texts.some((text) => text.includes('sessionName'))) return sanitizeSessionName(basename(root));
  const { loadConfig } = await import('../config/load.js');
  return repoSessionName(root, (await loadConfig(root, { env })).config);
}

/**
 * Parses tmux-style targets: `session:pane`, `session:`, `:pane`, or a bare word, which names a
 * session when one of that name is running and a pane of the current session otherwise (tmux
 * resolves a bare target-pane the same way).
 */
export async function parseTarget(
  target: string | undefined,
  cwd: string,
  env: NodeJS.ProcessEnv,
  wantPane: boolean,
): Promise<Target> {
  // The current session is looked up (a `git rev-parse`) only when the target leaves it out.
  const fallback = () => defaultSession(cwd, env);
  if (target === undefined || target === '') return { ...(await fallback()) };
  const colon = target.indexOf(':');
  if (colon >= 0) {
    const session = target.slice(0, colon);
    const pane = target.slice(colon + 1);
    const base = session === '' ? await fallback() : { session: sanitizeSessionName(session) };
    return pane === '' ? base : { ...base, pane };
  }
  if (!wantPane) return { session: sanitizeSessionName(target) };
  if (existsSync(socketPath(sanitizeSessionName(target), env)))
    return { session: sanitizeSessionName(target) };
  return { ...(await fallback()), pane: target };
}
