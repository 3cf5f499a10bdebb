import { access, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { orchestraPaths } from '../common/paths.js';
import type { OrchestraConfig } from '../config/schema.js';
import { userConfigPath } from '../config/user-config-path.js';
import { ensureSocketDir } from '../ipc/socket-dir.js';
import { probeSocket, withSessionLock } from '../ipc/socket-lock.js';
import type { Logger } from '../log/logger.js';
import { nullLogger } from '../log/null-logger.js';
import { socketPath } from '../protocol/socket-path.js';
import type { StateStore } from '../store/store.js';
import { SessionServer } from './session-server.js';

export interface StartServerOptions {
  session: string;
  /** Repository root; its `.orchestra/` holds the store, config and log when initialised. */
  root?: string;
  version: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts the session server in this process: checks the socket directory, takes the session
 * lock, refuses when a live server already has the socket, removes a stale one, then listens and
 * restores the saved layout.
 *
 * @throws OrchestraError SERVER_EXISTS when the session already has a live server,
 *   SOCKET_DIR_UNSAFE for an unsafe socket directory, CONFIG_INVALID for a bad config
 */
export async function startServer(options: StartServerOptions): Promise<SessionServer> {
  const env = options.env ?? process.env;
  const dir = await ensureSocketDir(env);
  const path = socketPath(options.session, env);
  let store: StateStore | undefined;
  let logger: Logger = nullLogger();
  let scrollback: number | undefined;
  let config: OrchestraConfig | undefined;
  if (options.root) {
    const paths = orchestraPaths(options.root);
    const initialised = await access(paths.dir).then(
      () => true,
      () => false,
    );
    if (initialised) {
      // Config, log and store are loaded only for a repository's session: a plain session (panes,
      // no tasks) starts without pino, lowdb, the config, the scheduler or Docker (issue 12; zod/mini
      // stays: the server checks every client command against protocol/messages.ts).
      const [{ loadConfig }, { createLogger }, { StateStore }] = await Promise.all([
        import('../config/load.js'),
        import('../log/logger.js'),
        import('../store/store.js'),
      ]);
      ({ config } = await loadConfig(options.root, { env }));
      scrollback = config.scrollback;
      logger = createLogger(paths.log, { component: 'server', bindings: { session: options.session } });
      const log = logger;
      store = await StateStore.open(paths.state, {
        onCorrupt: ({ movedTo, reason }) =>
          log.error({ movedTo, reason }, 'state file was unusable and was set aside'),
        onDiskFull: (error) => log.warn({ err: error }, 'the disk is full: the state waits for room'),
      });
    }
  }
  if (!config) {
    config = await userConfigOnly(env);
    if (config) scrollback = config.scrollback;
  }
  const server = await withSessionLock(`${dir}/${options.session}.lock`, async () => {
    const state = await probeSocket(path);
    if (state === 'live') {
      throw new OrchestraError('SERVER_EXISTS', `session ${options.session} already has a server`, {
        hint: `attach to it with \`orchestra attach -t ${options.session}\``,
      });
    }
    if (state === 'stale') await unlink(path).catch(() => {});
    const created = new SessionServer({
      session: options.session,
      socketPath: path,
      version: options.version,
      env,
      logger,
      ...(options.root ? { root: options.root } : {}),
      ...(store ? { store } : {}),
      ...(scrollback ? { scrollback } : {}),
      ...(config
        ? {
            ui: {
              ...(config.keys.prefix ? { prefix: config.keys.prefix } : {}),
              bindings: config.keys.bindings,
              theme: config.theme,
            },
            ...(config.notify ? { notify: config.notify } : {}),
          }
        : {}),
      onShutdown: () => {
        logger.close();
        void store?.close();
      },
    });
    // A repository's session gets its queue after it listens: task commands wait for it.
    if (options.root && store && config) created.expectTasks();
    await created.listen();
    return created;
  }).catch(async (error: unknown) => {
    logger.close();
    await store?.close();
    throw error;
  });
  // Task commands wait for the queue (expectTasks); once it is up, or whatever failed on the way,
  // they go on (giveUpTasks does nothing to a queue that is there).
  try {
    await server.restore();
    if (options.root && store && config) {
      const [{ Scheduler }, { mergeTask }, { pickWinner, taskDiff }] = await Promise.all([
        import('../scheduler/scheduler.js'),
        import('../scheduler/merge-task.js'),
        import('../scheduler/task-diff.js'),
      ]);
      const scheduler = new Scheduler({
        root: options.root,
        paths: orchestraPaths(options.root),
        config,
        store,
        server,
        session: options.session,
        env,
        logger: logger.child({ component: 'scheduler' }),
      });
      const ctx = {
        root: options.root,
        paths: orchestraPaths(options.root),
        config,
        store,
        env,
        session: options.session,
      };
      server.tasks = {
        board: () => scheduler.board(),
        // Reloaded: a `task pick` from the CLI changed the file behind this server's snapshot.
        diff: async (task, attempt) =>
          taskDiff(ctx.root, await store.reload(), task, attempt ? { attempt } : {}),
        pick: (task, attempt) => pickWinner(store, task, attempt),
        retry: (task) => scheduler.retry(task),
        merge: (task) => mergeTask(ctx, task),
        missingEnv: () => scheduler.missingEnv(),
        envChanged: () => scheduler.envChanged(),
        autonomyCommand: (action) => scheduler.autonomyCommand(action),
      };
      server.onShutdown(() => scheduler.stop());
      try {
        await scheduler.start();
      } catch (error) {
        // A server listening without its queue would look alive and run nothing: it goes instead,
        // and the next start tries again.
        await server.shutdown(`the queue could not start: ${errorMessage(error)}`);
        throw error;
      }
    }
  } finally {
    server.giveUpTasks();
  }
  logger.info({ pid: process.pid }, 'server started');
  return server;
}

/**
 * A plain session's config (no `.orchestra/` to read): the user-level file's keys, theme and
 * notify command, loaded only when that file exists — most people have none, and a session without
 * tasks then starts without the config code (issue 12).
 *
 * @throws ConfigError when the user-level file is there but invalid (nothing starts with a bad config)
 */
async function userConfigOnly(env: NodeJS.ProcessEnv): Promise<OrchestraConfig | undefined> {
  const path = userConfigPath(env);
  if (
    !(await access(path).then(
      () => true,
      () => false,
    ))
  )
    return undefined;
  const { loadConfig } = await import('../config/load.js');
  // A root with no .orchestra/: only the user-level file is read.
  return (await loadConfig(dirname(path), { env, userConfigPath: path })).config;
}
