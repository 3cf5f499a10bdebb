import type { CommandEnv } from '../cli/command-env.js';
import { VERSION } from '../cli/version.js';
import { defaultSession } from '../ipc/session-target.js';
import { sanitizeSessionName } from '../protocol/socket-path.js';
import { startServer } from './start.js';

/**
 * `orchestra server`: runs the session server in this process until `kill-server` or SIGTERM.
 * SIGHUP is ignored: a closing terminal or SSH logout must not end the session.
 */
export async function runServerForeground(
  env: CommandEnv,
  opts: { session?: string; repo?: string },
): Promise<void> {
  const fallback = await defaultSession(opts.repo ?? env.cwd, { ...env.env, ORCHESTRA_SESSION: '' });
  const session = sanitizeSessionName(opts.session ?? fallback.session);
  const root = opts.repo ?? fallback.root;
  const server = await startServer({ session, version: VERSION, env: env.env, ...(root ? { root } : {}) });
  process.on('SIGHUP', () => {
    // Ignored on purpose: the server outlives the terminal that started it.
  });
  // One pane's, attempt's or client's bug must not end every pane: it is logged and shown, and
  // the server goes on (Node's default would exit).
  process.on('unhandledRejection', (reason) => server.containError('an unhandled promise rejection', reason));
  process.on('uncaughtException', (error) => server.containError('an uncaught exception', error));
  await new Promise<void>((resolve) => {
    const stop = (reason: string) => {
      server.shutdown(reason).then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    server.closed.then(() => resolve());
  });
  // Whatever still holds the event loop (a log stream, a watcher) must not keep a dead server alive.
  setTimeout(() => process.exit(0), 1000);
}
