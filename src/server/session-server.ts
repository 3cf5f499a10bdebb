import { unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { CostSummary } from '../agents/cost.js';
import { errorMessage, isOrchestraError, OrchestraError } from '../common/errors.js';
import { releaseYoungGeneration } from '../common/young-generation.js';
import { DEFAULT_KEY_BINDINGS } from '../config/key-bindings.js';
import type { Logger } from '../log/logger.js';
import { LocalPtyProcess } from '../panes/local-pty.js';
import { DEFAULT_SCROLLBACK, Pane, type PaneCloseReason, type PaneSpec } from '../panes/pane.js';
import type { Disposable, PaneProcess } from '../panes/pane-process.js';
import { CLIENT_OUTPUT_BUDGET_BYTES } from '../protocol/flow-control.js';
import { FrameDecoder, FrameType, NO_PANE } from '../protocol/frame.js';
import {
  type ClientUi,
  type Command,
  type Control,
  commandSchema,
  controlSchema,
  helloSchema,
  type LayoutState,
  type Notice,
  PROTOCOL_VERSION,
  parsePayload,
  versionMismatchMessage,
} from '../protocol/messages.js';
import type { StateStore } from '../store/store.js';
import { AgentStatus } from './agent-status.js';
import { ClientConnection } from './client-connection.js';
import { type CommandHost, executeCommand, isActivity, resolvePane, type SessionTasks } from './commands.js';
import { NoticeGate, NotifyCommand } from './notifications.js';
import type { NewPaneRequest } from './pane-request.js';
import { ScreenFrames, ScreenStream } from './screen-frames.js';
import { Window } from './window.js';

/** Debounce for saving layout and panes to the store, ms: a burst of changes costs one write. */
const PERSIST_DEBOUNCE_MS = 150;

/** Agent events within this many ms reach clients as one layout update. */
const CHANGE_COALESCE_MS = 50;

/** How long a new connection may take to send its HELLO, ms. */
const HELLO_TIMEOUT_MS = 5_000;

export interface SessionServerOptions {
  session: string;
  socketPath: string;
  /** Repository root, when the session belongs to one (default cwd for new panes). */
  root?: string;
  version: string;
  /** Lines of history per pane (config `scrollback`). */
  scrollback?: number;
  /** Environment for pane processes. */
  env?: NodeJS.ProcessEnv;
  /** Where layout and panes persist; without it nothing survives a restart. */
  store?: StateStore;
  logger?: Logger;
  /** Called once the server has shut down (sockets closed, panes ended). */
  onShutdown?: (reason: string) => void;
  /** Keys and theme for clients (config `keys` and `theme`); default: the default bindings and theme. */
  ui?: ClientUi;
  /** Config `notify`: argv run when an agent starts waiting or ends (notifications.ts). */
  notify?: string[];
}

/**
 * The session server (DESIGN.md, "Processes" 1): owns the panes and their emulators, the layout
 * and the clients. One per session, listening on the session's Unix socket.
 */
export class SessionServer {
  private readonly server: Server;
  /** The panes and their layout. */
  private readonly window = new Window<Pane>();
  private readonly clients = new Map<number, ClientConnection>();
  private nextPaneId = 1;
  private nextClientId = 1;
  /** Paces SCREEN frames to clients that draw cells (the TUI). */
  private readonly frames = new ScreenFrames({
    visiblePanes: () => this.window.visiblePanes(),
    clients: () => this.clients.values(),
  });
  /** The client whose size the panes follow (tmux's `latest` window-size policy). */
  private latestClient: number | null = null;
  private persistTimer: NodeJS.Timeout | undefined;
  private changedTimer: NodeJS.Timeout | undefined;
  /** What to stop when a pane goes (its events tail). */
  private readonly paneDisposers = new Map<number, Disposable>();
  /** Agents' states and spend, per pane. */
  /** Paces what the agents' states tell the person (notifications.ts). */
  private readonly notices = new NoticeGate((notice) => this.tell(notice));
  private readonly agents = new AgentStatus(
    () => this.updateSessionCost(),
    () => this.changedSoon(),
    (paneId, notice) => this.notices.offer(paneId, notice),
  );
  /** The config's `notify` command, when there is one. */
  private notifyCommand: NotifyCommand | undefined;
  private shuttingDown = false;
  /** Extra status-bar fields (task counts, cost) set by other parts of the server. */
  readonly status: Record<string, string> = {};
  /**
   * When a person last acted, ms since the epoch: typed into a pane, or sent a command from an
   * attached client (a key binding); the server's start before that. The autonomy loop's idle clock.
   */
  lastActivityAt = Date.now();
  private tasksValue: SessionTasks | undefined;
  /** Settles once a session that is to have a task queue has it (or has given up on it). */
  private tasksStarting: Promise<void> | undefined;
  private tasksStarted: (() => void) | undefined;

  /** Task commands, served by the scheduler when the session has one (a repository's session). */
  get tasks(): SessionTasks | undefined {
    return this.tasksValue;
  }

  set tasks(tasks: SessionTasks | undefined) {
    this.tasksValue = tasks;
    this.tasksStarted?.();
  }

  /**
   * Says that this session's task queue is on its way (start.ts, before clients can connect):
   * until it is set — or {@link giveUpTasks} — task commands wait for it instead of finding none.
   */
  expectTasks(): void {
    this.tasksStarting ??= new Promise((resolve) => {
      this.tasksStarted = resolve;
    });
  }

  /** The task queue is up, or will not come (it failed to start): waiting commands go on. */
  giveUpTasks(): void {
    this.tasksStarted?.();
  }
  private readonly shutdownHooks: Array<() => Promise<void>> = [];
  /** Settles with the reason once the server has shut down. */
  readonly closed: Promise<string>;
  private resolveClosed!: (reason: string) => void;
  /** What the client commands act on (commands.ts). */
  private readonly commandHost: CommandHost;

  constructor(private readonly options: SessionServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.commandHost = {
      session: this.session,
      window: this.window,
      tasks: () => this.tasks,
      tasksReady: () => this.tasksStarting ?? Promise.resolve(),
      env: this.options.env ?? globalThis.process.env,
      logger: this.options.logger,
      clients: () => this.clients.values(),
      newPane: (request) => this.newPane(request),
      removePane: (pane, reason) => this.removePane(pane, reason),
      relayout: () => this.relayout(),
      changed: () => this.changed(),
      layoutState: () => this.layoutState(),
      pasteBuffer: undefined,
      resizeClient: (client, cols, rows) => {
        if (this.latestClient === client.id) this.setSize(cols, rows);
        else this.makeLatest(client);
      },
    };
  }

  get session(): string {
    return this.options.session;
  }

  /** Starts listening on the socket path (which must not exist). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  // ---- panes -------------------------------------------------------------------------------

  /** Panes in display order. */
  listPanes(): readonly Pane[] {
    return this.window.panes;
  }

  /** The terminal size a pane added now would get, cells (for workers created before their pane). */
  nextPaneSize(): { cols: number; rows: number } {
    return this.window.nextPaneSize();
  }

  /** The pane with this id, if it is still there. */
  paneById(id: number): Pane | undefined {
    return this.window.paneById(id);
  }

  /**
   * Starts a new pane, focuses it and lays the window out again.
   * @throws OrchestraError SPAWN_FAILED when the process cannot be started
   */
  newPane(request: NewPaneRequest): Pane {
    // A server with panes has work: new space may grow again (common/young-generation.ts).
    releaseYoungGeneration();
    const id = this.nextPaneId++;
    const cwd = request.cwd ?? this.options.root ?? process.cwd();
    // Size it as it will be once laid out with the others, so the program starts at the right size.
    const size = this.nextPaneSize();
    const child = this.spawn(request, cwd, size);
    const spec: PaneSpec = {
      name: request.name ?? request.command[0]?.split('/').pop() ?? `pane${id}`,
      command: request.command,
      cwd,
      remainOnExit: request.remainOnExit ?? false,
      ...(request.attemptId ? { attemptId: request.attemptId } : {}),
      ...(request.runDir ? { runDir: request.runDir } : {}),
    };
    const pane = new Pane(id, spec, child, size, this.options.scrollback ?? DEFAULT_SCROLLBACK);
    this.window.add(pane);
    pane.onOutput((data) => {
      for (const client of this.clients.values())
        if (client.attached && !client.screen) client.sendOutput(pane.id, data);
      this.frames.schedule();
    });
    if (spec.runDir) this.paneDisposers.set(pane.id, this.agents.follow(pane, spec.runDir));
    pane.onExit((exit) => {
      this.options.logger?.info({ pane: pane.id, exit }, 'pane process ended');
      if (pane.spec.remainOnExit) this.changed();
      else this.removePane(pane);
    });
    for (const client of this.clients.values()) {
      if (client.attached && !client.screen) client.sendSnapshot(pane.id, pane.snapshot());
    }
    this.relayout();
    return pane;
  }

  /**
   * Runs a new process in `pane` in place of its current one (`tmux respawn-pane -k`): the screen
   * stays, the old process is ended without an exit.
   *
   * @throws OrchestraError SPAWN_FAILED when the command cannot be started
   */
  respawnPane(pane: Pane, request: Pick<NewPaneRequest, 'command' | 'cwd' | 'env' | 'process'>): void {
    const cwd = request.cwd ?? pane.spec.cwd;
    const child = this.spawn(request, cwd, { cols: pane.terminal.cols, rows: pane.terminal.rows });
    pane.spec.command = request.command;
    pane.spec.cwd = cwd;
    pane.respawn(child);
    this.changed();
  }

  private spawn(
    request: Pick<NewPaneRequest, 'command' | 'env' | 'process'>,
    cwd: string,
    size: { cols: number; rows: number },
  ): PaneProcess {
    try {
      return request.process
        ? request.process(size)
        : new LocalPtyProcess({
            command: request.command,
            cwd,
            env: {
              ...(this.options.env ?? globalThis.process.env),
              ...request.env,
              ORCHESTRA_SESSION: this.session,
            },
            ...size,
          });
    } catch (error) {
      throw new OrchestraError(
        'SPAWN_FAILED',
        `cannot start ${request.command.join(' ')}: ${errorMessage(error)}`,
        {
          hint: 'check that the command exists and the directory is right',
          cause: error,
        },
      );
    }
  }

  /**
   * What the status bar's cost says, when something knows better than the panes' own usage (the
   * task queue: it counts attempts whose panes are gone, judges and reviewers, across restarts).
   */
  costSource: (() => string) | undefined;

  /**
   * The attempt's pane on this server (the newest, should it have had more), or undefined. Pane
   * ids are this server's own (a restarted server numbers from 1), so this is the one way from an
   * attempt to its pane: an id recorded elsewhere could name another pane by now.
   */
  /** When the latest rate limit any agent here waits out ends, ms since the epoch; undefined: none now. */
  rateLimitedUntil(): number | undefined {
    return AgentStatus.limitedUntil(this.window.panes);
  }

  paneOfAttempt(attemptId: string): Pane | undefined {
    return this.window.panes.findLast((p) => p.spec.attemptId === attemptId);
  }

  /** The spend an attempt's pane has seen in its agent's usage events, if it has a pane here. */
  attemptCost(attemptId: string): CostSummary | undefined {
    const pane = this.paneOfAttempt(attemptId);
    return pane ? this.agents.costOf(pane.id) : undefined;
  }

  /** Sets the status bar's cost from {@link costSource}, or from the panes' usage. */
  updateSessionCost(): void {
    if (this.costSource) {
      const cost = this.costSource();
      if (this.status.cost !== cost) {
        this.status.cost = cost;
        this.changedSoon();
      }
      return;
    }
    const cost = this.agents.sessionCost();
    if (cost !== undefined) this.status.cost = cost;
  }

  /** Broadcasts the layout once for a burst of changes (agent events arrive in bursts). */
  private changedSoon(): void {
    if (this.changedTimer) return;
    this.changedTimer = setTimeout(() => {
      this.changedTimer = undefined;
      this.changed();
    }, CHANGE_COALESCE_MS);
  }

  private removePane(pane: Pane, reason: PaneCloseReason = 'removed'): void {
    if (!this.window.remove(pane)) return;
    this.paneDisposers.get(pane.id)?.dispose();
    this.paneDisposers.delete(pane.id);
    this.notices.forget(pane.id);
    pane.dispose(reason);
    for (const client of this.clients.values()) client.forgetPane(pane.id);
    this.relayout();
  }

  /**
   * Finds a pane by target: its index (`0`), its id (`%3`), `!` for the last focused one (tmux's
   * notation), or its name; empty means the focused one.
   * @throws OrchestraError PANE_NOT_FOUND
   */
  resolvePane(target: string | undefined): Pane {
    return resolvePane(this.commandHost, target);
  }

  // ---- layout ------------------------------------------------------------------------------

  /** Resizes every visible pane to its place in the layout, then tells clients. */
  private relayout(): void {
    this.window.fit();
    this.changed();
  }

  /** The layout as clients see it. */
  layoutState(): LayoutState {
    const w = this.window;
    return {
      session: this.session,
      kind: w.kind,
      zoomed: w.zoomed,
      focus: w.focus,
      cols: w.size.cols,
      rows: w.size.rows,
      panes: w.panes.map((p, i) => p.info(i)),
      status: { ...this.status },
      ...(Object.keys(w.sizes).length > 0 ? { sizes: w.sizes } : {}),
    };
  }

  /**
   * Tells the person that an agent waits for them or has ended: every attached client rings and
   * shows a desktop notification, and the config's `notify` command runs.
   */
  private tell(notice: Notice): void {
    const message: Control = { kind: 'event', event: { event: 'notify', ...notice } };
    for (const client of this.clients.values()) if (client.attached) client.sendControl(message);
    if (this.options.notify) {
      this.notifyCommand ??= new NotifyCommand(
        this.options.notify,
        this.options.env ?? process.env,
        this.options.logger,
      );
      this.notifyCommand.run(notice);
    }
  }

  /** Broadcasts the layout and schedules a save. */
  changed(): void {
    const message: Control = { kind: 'event', event: { event: 'layout', layout: this.layoutState() } };
    for (const client of this.clients.values()) if (client.attached) client.sendControl(message);
    this.frames.schedule();
    this.schedulePersist();
  }

  private schedulePersist(): void {
    const store = this.options.store;
    if (!store || this.shuttingDown) return;
    clearTimeout(this.persistTimer);
    this.persistTimer = setTimeout(() => {
      this.persist().catch((error) => this.options.logger?.warn({ err: error }, 'saving the layout failed'));
    }, PERSIST_DEBOUNCE_MS);
  }

  /** Saves layout, focus and panes to the store now. */
  async persist(): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    const { kind, zoomed } = this.window;
    const panes = this.window.panes
      .filter((p) => !p.exited)
      .map((p) => ({
        id: String(p.id),
        name: p.spec.name,
        kind: p.spec.attemptId ? ('agent' as const) : ('command' as const),
        command: p.spec.command,
        cwd: p.spec.cwd,
        ...(p.spec.attemptId ? { attemptId: p.spec.attemptId } : {}),
        createdAt: new Date().toISOString(),
      }));
    const focus = this.window.focus === null ? undefined : String(this.window.focus);
    await store.update((draft) => {
      const previous = new Map(draft.session.panes.map((p) => [p.id, p.createdAt]));
      draft.session.name = this.session;
      draft.session.layout = { kind, zoomed, ...(focus ? { focus } : {}) };
      draft.session.panes = panes.map((p) => ({ ...p, createdAt: previous.get(p.id) ?? p.createdAt }));
    });
  }

  /**
   * Brings back the layout, focus and (non-agent) panes saved by an earlier server of this session.
   * Each pane's command starts afresh in its directory; agent panes are resumed by the scheduler.
   */
  async restore(): Promise<number> {
    const store = this.options.store;
    if (!store) return 0;
    const saved = store.read().session;
    this.window.kind = saved.layout.kind;
    let restored = 0;
    const focusId = saved.layout.focus;
    let newFocus: number | null = null;
    for (const record of saved.panes) {
      if (record.kind === 'agent') continue;
      try {
        const pane = this.newPane({ name: record.name, command: [...record.command], cwd: record.cwd });
        if (record.id === focusId) newFocus = pane.id;
        restored++;
      } catch (error) {
        this.options.logger?.warn({ err: error, pane: record.name }, 'a saved pane could not be restarted');
      }
    }
    if (newFocus !== null) this.window.setFocus(newFocus);
    this.window.zoomed = saved.layout.zoomed && this.window.panes.length > 1;
    this.relayout();
    return restored;
  }

  // ---- clients -----------------------------------------------------------------------------

  private accept(socket: Socket): void {
    const client = new ClientConnection(this.nextClientId++, socket, (queuedBytes) =>
      this.options.logger?.warn(
        { client: client.id, mode: client.hello?.mode, queuedBytes, budgetBytes: CLIENT_OUTPUT_BUDGET_BYTES },
        'client dropped: it stopped reading and went over its output budget',
      ),
    );
    this.clients.set(client.id, client);
    // A peer that connects and never says HELLO (a port scanner, a wedged client) is let go.
    const helloTimer = setTimeout(() => {
      if (!client.hello) socket.destroy();
    }, HELLO_TIMEOUT_MS);
    socket.once('close', () => clearTimeout(helloTimer));
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      let frames: ReturnType<FrameDecoder['push']>;
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        client.sendError({ code: 'PROTOCOL', message: errorMessage(error) });
        socket.end();
        return;
      }
      for (const frame of frames) {
        // Dropped mid-chunk (over its output budget): the rest of its requests are not served.
        if (client.gone) return;
        try {
          this.handleFrame(client, frame.type, frame.pane, frame.payload);
        } catch (error) {
          // A bad frame from one client must never take the server down.
          this.options.logger?.warn({ err: error, client: client.id }, 'bad frame from client');
          client.sendError({ code: 'PROTOCOL', message: errorMessage(error) });
          socket.end();
          return;
        }
      }
    });
    socket.on('drain', () => {
      if (client.screen) this.frames.schedule();
      else this.redrawCaughtUp(client);
    });
    socket.on('error', () => {
      // A client that vanished mid-write; 'close' follows and cleans up.
    });
    socket.on('close', () => this.dropClient(client));
  }

  private dropClient(client: ClientConnection): void {
    client.closed = true;
    this.clients.delete(client.id);
    if (this.latestClient === client.id) {
      // Follow the most recent remaining client, as tmux does when the latest one detaches.
      const remaining = [...this.clients.values()].filter((c) => c.attached);
      const next = remaining[remaining.length - 1];
      this.latestClient = next?.id ?? null;
      if (next) this.setSize(next.cols, next.rows);
    }
  }

  private handleFrame(client: ClientConnection, type: number, pane: number, payload: Buffer): void {
    if (!client.hello) {
      if (type !== FrameType.Hello) throw new Error('the first frame must be HELLO');
      this.handleHello(client, payload);
      return;
    }
    switch (type) {
      case FrameType.Control: {
        const message = parsePayload(controlSchema, payload, 'control message');
        if (message.kind !== 'request') return;
        void this.handleRequest(client, message.id, message.command);
        return;
      }
      case FrameType.Input: {
        if (client.readOnly) return;
        const target = this.window.paneById(pane);
        if (!target) return;
        this.lastActivityAt = Date.now();
        target.input(payload);
        this.makeLatest(client);
        return;
      }
      case FrameType.Ack: {
        if (payload.length < 4) return;
        if (client.screen) {
          client.screen.ack(payload.readUInt32BE(0));
          this.frames.schedule();
        } else if (client.ack(pane, payload.readUInt32BE(0))) this.redraw(client, pane);
        return;
      }
      default:
        throw new Error(`unexpected frame type ${type}`);
    }
  }

  private handleHello(client: ClientConnection, payload: Buffer): void {
    // Read the version before validating the rest: a client of another version may send other fields.
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new Error('HELLO is not JSON');
    }
    const protocol = (raw as { protocol?: unknown })?.protocol;
    if (protocol !== PROTOCOL_VERSION) {
      client.sendError({
        code: 'PROTOCOL_MISMATCH',
        message: versionMismatchMessage(PROTOCOL_VERSION, typeof protocol === 'number' ? protocol : -1),
      });
      client.socket.end();
      return;
    }
    // parsePayload, not parse: its error is one line the client can show as it is.
    client.hello = parsePayload(helloSchema, payload, 'HELLO');
    const missingEnv = this.tasks?.missingEnv() ?? [];
    client.send(
      FrameType.Welcome,
      NO_PANE,
      JSON.stringify({
        protocol: PROTOCOL_VERSION,
        version: this.options.version,
        session: this.session,
        pid: process.pid,
        clientId: client.id,
        ui: this.options.ui ?? { bindings: { ...DEFAULT_KEY_BINDINGS }, theme: 'default' },
        ...(missingEnv.length ? { missingEnv } : {}),
      }),
    );
    if (client.hello.mode !== 'attach') return;
    // The newly attached client becomes the latest; its size decides the panes' size.
    this.latestClient = client.id;
    client.attached = true;
    if (client.hello.screen === 'cells') client.screen = new ScreenStream(() => client.rows);
    this.setSize(client.cols, client.rows, false);
    // Layout first (sent by relayout); a cells client then gets every visible screen in full
    // (scheduled by the layout change), a bytes client one snapshot per pane and live output.
    this.relayout();
    if (!client.screen) for (const pane of this.window.panes) client.sendSnapshot(pane.id, pane.snapshot());
  }

  private makeLatest(client: ClientConnection): void {
    if (this.latestClient === client.id || !client.attached) return;
    this.latestClient = client.id;
    this.setSize(client.cols, client.rows);
  }

  private setSize(cols: number, rows: number, relayout = true): void {
    if (this.window.setSize(cols, rows) && relayout) this.relayout();
  }

  private redraw(client: ClientConnection, paneId: number): void {
    const pane = this.window.paneById(paneId);
    if (pane) client.sendSnapshot(pane.id, pane.snapshot());
  }

  private redrawCaughtUp(client: ClientConnection): void {
    for (const pane of client.stalePanes()) if (client.caughtUp(pane)) this.redraw(client, pane);
  }

  private async handleRequest(client: ClientConnection, id: number, raw: unknown): Promise<void> {
    try {
      if (!client.withinBudget()) return;
      const command = commandSchema.parse(raw);
      if (isActivity(client, command) && !client.readOnly) this.lastActivityAt = Date.now();
      const result = await this.execute(client, command);
      client.sendControl({ kind: 'response', id, ok: true, result });
      if (command.cmd === 'kill-server') await this.shutdown('kill-server');
    } catch (error) {
      client.sendControl({
        kind: 'response',
        id,
        ok: false,
        error: isOrchestraError(error)
          ? { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
          : { code: 'INTERNAL', message: errorMessage(error) },
      });
    }
  }

  /**
   * Runs one command for a client; the same commands the CLI and the TUI's `:` prompt send.
   * @throws OrchestraError for a user's mistake (unknown pane, read-only client)
   */
  execute(client: ClientConnection | undefined, command: Command): Promise<unknown> {
    return executeCommand(this.commandHost, client, command);
  }

  /**
   * Records an error that escaped every handler (`what`: where it was caught) in the log and the
   * status bar, instead of letting it end the server and every pane with it.
   */
  containError(what: string, error: unknown): void {
    try {
      this.options.logger?.error({ err: error }, `contained ${what}`);
    } catch {
      // The log itself failing (a full disk) must not turn this into a crash either.
    }
    this.status.warning = `error contained: ${errorMessage(error).slice(0, 60)}`;
    this.changed();
  }

  /** Runs `hook` when the server shuts down, before the panes are ended. */
  onShutdown(hook: () => Promise<void>): void {
    this.shutdownHooks.push(hook);
  }

  /**
   * Ends every pane's process, tells attached clients, closes the socket and removes it.
   * Idempotent.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    clearTimeout(this.persistTimer);
    clearTimeout(this.changedTimer);
    this.frames.dispose();
    for (const tail of this.paneDisposers.values()) tail.dispose();
    this.options.logger?.info({ reason }, 'server shutting down');
    for (const hook of this.shutdownHooks) {
      await hook().catch((error: unknown) =>
        this.options.logger?.warn({ err: error }, 'a shutdown hook failed'),
      );
    }
    // Save now what the debounce still holds (`select-layout ... && kill-server` must not lose it),
    // while the panes are alive to be described.
    await this.persist().catch((error) =>
      this.options.logger?.warn({ err: error }, 'saving the layout failed'),
    );
    const bye: Control = { kind: 'event', event: { event: 'server-exit', reason } };
    const closed = [...this.clients.values()].map(
      (client) =>
        new Promise<void>((resolve) => {
          client.socket.once('close', () => resolve());
          client.sendControl(bye);
          client.socket.end();
        }),
    );
    for (const pane of this.window.panes.splice(0)) pane.dispose('shutdown');
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Give clients a moment to read the goodbye, then cut whoever is still connected.
    await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, 500))]);
    for (const client of this.clients.values()) client.socket.destroy();
    await serverClosed;
    await unlink(this.options.socketPath).catch(() => {
      // Already removed (for example by a test cleaning up): nothing to do.
    });
    this.options.onShutdown?.(reason);
    this.resolveClosed(reason);
  }
}
