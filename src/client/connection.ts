import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { orchestraEntry } from '../common/paths.js';
import { ensureSocketDir } from '../ipc/socket-dir.js';
import { probeSocket, withSessionLock } from '../ipc/socket-lock.js';
import { encodeFrame, FrameDecoder, FrameType, NO_PANE } from '../protocol/frame.js';
import type { Command, Hello, LayoutState, Notice, Snapshot, Welcome } from '../protocol/messages.js';
import type { ScreenUpdate } from '../protocol/screen.js';
import { socketPath } from '../protocol/socket-path.js';
import { PROTOCOL_VERSION, versionMismatchMessage } from '../protocol/version.js';
import { parseErrorPayload, parseServerControl, parseSnapshot, parseWelcome } from './server-messages.js';

/** How long a client waits for a server it started to accept connections, ms. */
const SERVER_START_TIMEOUT_MS = 10_000;

export interface ConnectionHandlers {
  onLayout?: (layout: LayoutState) => void;
  onSnapshot?: (pane: number, snapshot: Snapshot) => void;
  onOutput?: (pane: number, data: Buffer) => void;
  /** A SCREEN frame (HELLO `screen: 'cells'`); `bytes` is its payload size, for {@link ServerConnection.ackScreen}. */
  onScreen?: (pane: number, update: ScreenUpdate, bytes: number) => void;
  /** The connection ended; `reason` says why (server-exit reason, or the socket closing). */
  onClose?: (reason: string) => void;
  /** An agent started waiting for a person, or ended (attached clients only). */
  onNotice?: (notice: Notice) => void;
}

/** A client's connection to a session server: HELLO, then requests, events and pane streams. */
export class ServerConnection {
  private readonly decoder = new FrameDecoder();
  private nextRequest = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closeReason: string | undefined;
  welcome: Welcome | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly handlers: ConnectionHandlers,
  ) {}

  /**
   * Connects to the socket at `path` and says HELLO.
   * @throws OrchestraError SERVER_UNREACHABLE when nothing listens, PROTOCOL_MISMATCH when the server
   *   speaks another protocol version
   */
  static open(
    path: string,
    hello: Omit<Hello, 'protocol'>,
    handlers: ConnectionHandlers = {},
  ): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const connection = new ServerConnection(socket, handlers);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(error);
      };
      socket.once('error', (error: NodeJS.ErrnoException) =>
        fail(
          new OrchestraError('SERVER_UNREACHABLE', `no server at ${path} (${error.code ?? error.message})`, {
            hint: 'start one with `orchestra tui` or `orchestra server`',
          }),
        ),
      );
      socket.on('data', (chunk) => {
        let frames: ReturnType<FrameDecoder['push']>;
        try {
          frames = connection.decoder.push(chunk);
        } catch (error) {
          fail(new Error(errorMessage(error)));
          return;
        }
        for (const frame of frames) {
          if (connection.welcome) {
            try {
              connection.handleFrame(frame.type, frame.pane, frame.payload);
            } catch (error) {
              // A message this client cannot read ends the connection with the reason, never the
              // process with a stack trace (which would leave the person's terminal as it drew it).
              connection.closeReason = `the server sent what this client cannot read: ${errorMessage(error)}`;
              socket.destroy();
              return;
            }
            continue;
          }
          try {
            if (frame.type === FrameType.Welcome) {
              // Read the version before validating the rest: a server of another version may send
              // other fields.
              const protocol = protocolOf(frame.payload);
              if (protocol !== PROTOCOL_VERSION) {
                return fail(
                  new OrchestraError('PROTOCOL_MISMATCH', versionMismatchMessage(protocol, PROTOCOL_VERSION)),
                );
              }
              connection.welcome = parseWelcome(frame.payload);
              settled = true;
              socket.removeAllListeners('error');
              socket.on('error', () => {
                // 'close' follows and reports the end.
              });
              resolve(connection);
            } else if (frame.type === FrameType.Error) {
              const error = parseErrorPayload(frame.payload);
              return fail(
                new OrchestraError(
                  error.code === 'PROTOCOL_MISMATCH' ? 'PROTOCOL_MISMATCH' : 'SERVER_UNREACHABLE',
                  error.message,
                  error.hint ? { hint: error.hint } : {},
                ),
              );
            }
          } catch (error) {
            // An unreadable answer to HELLO fails the connection instead of throwing out of the
            // socket's event handler, which would crash the client with a stack trace.
            return fail(new OrchestraError('SERVER_UNREACHABLE', errorMessage(error)));
          }
        }
      });
      socket.on('close', () => {
        if (!settled)
          fail(new OrchestraError('SERVER_UNREACHABLE', 'the server closed the connection during HELLO'));
        connection.closed(connection.closeReason ?? 'the server closed the connection');
      });
      socket.once('connect', () => {
        socket.write(
          encodeFrame(FrameType.Hello, NO_PANE, JSON.stringify({ ...hello, protocol: PROTOCOL_VERSION })),
        );
      });
    });
  }

  private handleFrame(type: number, pane: number, payload: Buffer): void {
    switch (type) {
      case FrameType.Output:
        this.handlers.onOutput?.(pane, payload);
        return;
      case FrameType.Screen: {
        let update: ScreenUpdate;
        try {
          update = JSON.parse(payload.toString('utf8')) as ScreenUpdate;
        } catch {
          throw new Error('SCREEN: payload is not JSON');
        }
        this.handlers.onScreen?.(pane, update, payload.length);
        return;
      }
      case FrameType.Snapshot:
        this.handlers.onSnapshot?.(pane, parseSnapshot(payload));
        return;
      case FrameType.Control: {
        const message = parseServerControl(payload);
        if (message.kind === 'response') {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          if (!waiter) return;
          if (message.ok) waiter.resolve(message.result);
          else {
            const e = message.error ?? { code: 'INTERNAL', message: 'request failed' };
            waiter.reject(new OrchestraError(e.code as never, e.message, e.hint ? { hint: e.hint } : {}));
          }
        } else if (message.kind === 'event') {
          if (message.event.event === 'layout') this.handlers.onLayout?.(message.event.layout);
          else if (message.event.event === 'server-exit')
            this.closeReason = `server exited (${message.event.reason})`;
          else if (message.event.event === 'notify') {
            const { event: _, ...notice } = message.event;
            this.handlers.onNotice?.(notice);
          }
        }
        return;
      }
      case FrameType.Error: {
        const error = parseErrorPayload(payload);
        this.closeReason = error.message;
        return;
      }
      default:
        return;
    }
  }

  private closed(reason: string): void {
    for (const waiter of this.pending.values()) {
      waiter.reject(new OrchestraError('SERVER_UNREACHABLE', `connection closed: ${reason}`));
    }
    this.pending.clear();
    this.handlers.onClose?.(reason);
  }

  /**
   * Sends a command and waits for its answer.
   * @throws OrchestraError as the server reported it
   */
  request<T = unknown>(command: Command): Promise<T> {
    const id = this.nextRequest++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(
        encodeFrame(FrameType.Control, NO_PANE, JSON.stringify({ kind: 'request', id, command })),
      );
    });
  }

  /** Sends raw input bytes to a pane. */
  input(pane: number, data: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(FrameType.Input, pane, data));
  }

  /** Acknowledges `chars` parsed output characters of a pane (flow control). */
  ack(pane: number, chars: number): void {
    if (this.socket.destroyed) return;
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(chars >>> 0, 0);
    this.socket.write(encodeFrame(FrameType.Ack, pane, payload));
  }

  /** Says that `bytes` of SCREEN payload have been painted (flow control of a cells client). */
  ackScreen(bytes: number): void {
    if (this.socket.destroyed || bytes <= 0) return;
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(bytes >>> 0, 0);
    this.socket.write(encodeFrame(FrameType.Ack, NO_PANE, payload));
  }

  /** The underlying socket (tests use it to stop reading, as a stuck client would). */
  get rawSocket(): Socket {
    return this.socket;
  }

  close(): void {
    this.socket.end();
  }
}

/** The `protocol` field of a WELCOME payload, or -1 when it has none. */
function protocolOf(payload: Buffer): number {
  try {
    const protocol = (JSON.parse(payload.toString('utf8')) as { protocol?: unknown } | null)?.protocol;
    return typeof protocol === 'number' ? protocol : -1;
  } catch {
    return -1;
  }
}

export interface ConnectOptions {
  session: string;
  hello: Omit<Hello, 'protocol'>;
  handlers?: ConnectionHandlers;
  /** Start a server for the session when none answers (clients like `tui` and `new-pane` do). */
  autostart?: { root?: string };
  env?: NodeJS.ProcessEnv;
}

/**
 * Connects to a session, starting its server first when `autostart` is given and none answers.
 * The server is started detached from this terminal (own session and process group, stdio to a log
 * next to the socket), so closing the terminal or an SSH logout does not end it.
 *
 * @throws OrchestraError SERVER_UNREACHABLE when there is no server and none could be started
 */
export async function connectSession(options: ConnectOptions): Promise<ServerConnection> {
  const env = options.env ?? process.env;
  const dir = await ensureSocketDir(env);
  const path = socketPath(options.session, env);
  try {
    return await ServerConnection.open(path, options.hello, options.handlers);
  } catch (error) {
    if (!options.autostart || !(error instanceof OrchestraError) || error.code !== 'SERVER_UNREACHABLE')
      throw error;
  }
  const autostart = options.autostart;
  await withSessionLock(`${dir}/${options.session}.start.lock`, async () => {
    if ((await probeSocket(path)) === 'live') return;
    const logPath = `${dir}/${options.session}.log`;
    const log = openSync(logPath, 'a', 0o600);
    const args = [orchestraEntry(), 'server', '-s', options.session];
    if (autostart.root) args.push('--repo', autostart.root);
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: autostart.root ?? process.cwd(),
      env,
    });
    closeSync(log);
    child.unref();
    const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if ((await probeSocket(path)) === 'live') return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new OrchestraError(
      'SERVER_UNREACHABLE',
      `the server for session ${options.session} did not start`,
      {
        hint: `see ${logPath}`,
      },
    );
  });
  return ServerConnection.open(path, options.hello, options.handlers);
}
