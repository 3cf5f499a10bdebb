import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionHandlers, ServerConnection } from '../../src/client/connection.js';
import type { Hello, PaneInfo } from '../../src/protocol/messages.js';
import { socketPath } from '../../src/protocol/socket-path.js';
import type { SessionServer } from '../../src/server/session-server.js';
import { startServer } from '../../src/server/start.js';

/**
 * Helpers for the server tests: a real session server started in this process, its sockets in a
 * temp dir of their own (ORCHESTRA_TMPDIR), and real clients over the Unix socket.
 */

export const TEST_VERSION = '0.0.0-test';

/** Polls `check` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 5_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** True while a process with this pid exists (zombies included until reaped). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A session server in this process, with what a test needs to reach and clean it up. */
export interface TestSession {
  server: SessionServer;
  session: string;
  env: NodeJS.ProcessEnv;
  /** The temp dir holding the socket directory. */
  tmp: string;
  socket: string;
  /** Opens a client; closed again by {@link TestSession.cleanup}. */
  connect(hello?: Partial<Omit<Hello, 'protocol'>>, handlers?: ConnectionHandlers): Promise<ServerConnection>;
  /** Shuts the server down (if still up), closes clients and removes the temp dir. */
  cleanup(): Promise<void>;
}

/** A temp dir for ORCHESTRA_TMPDIR; realpath'd so socket paths compare equal. */
export async function tempDir(): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), 'orchestra-')));
}

/**
 * Starts a server for `session` with its socket under a fresh temp dir.
 * @param options.root a repository whose `.orchestra/` holds the store (layout persistence)
 * @param options.tmp reuse this temp dir (to restart a session in the same place)
 */
export async function startTestSession(
  session: string,
  options: { root?: string; tmp?: string } = {},
): Promise<TestSession> {
  const tmp = options.tmp ?? (await tempDir());
  const env: NodeJS.ProcessEnv = { ...process.env, ORCHESTRA_TMPDIR: tmp, ORCHESTRA_SESSION: '' };
  const server = await startServer({
    session,
    version: TEST_VERSION,
    env,
    ...(options.root ? { root: options.root } : {}),
  });
  const socket = socketPath(session, env);
  const clients: ServerConnection[] = [];
  return {
    server,
    session,
    env,
    tmp,
    socket,
    async connect(hello = {}, handlers = {}) {
      const connection = await ServerConnection.open(
        socket,
        {
          version: TEST_VERSION,
          mode: 'command',
          cols: 80,
          rows: 24,
          term: 'xterm-256color',
          readOnly: false,
          ...hello,
        },
        handlers,
      );
      clients.push(connection);
      return connection;
    },
    async cleanup() {
      for (const client of clients) client.rawSocket.destroy();
      await server.shutdown('test cleanup');
      if (!options.tmp) await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** The panes of a session as clients see them. */
export function listPanes(client: ServerConnection): Promise<PaneInfo[]> {
  return client.request<PaneInfo[]>({ cmd: 'list-panes' });
}

/** `capture-pane` of one pane; `start` as in tmux's -S. */
export async function capture(client: ServerConnection, pane: string, start?: number): Promise<string> {
  const { text } = await client.request<{ text: string }>({
    cmd: 'capture-pane',
    pane,
    ...(start !== undefined ? { start } : {}),
  });
  return text;
}

/** Types `text` into a pane, as `send-keys -l` does. */
export function sendText(client: ServerConnection, pane: string, text: string): Promise<unknown> {
  return client.request({ cmd: 'send-keys', pane, data: Buffer.from(text).toString('base64') });
}
