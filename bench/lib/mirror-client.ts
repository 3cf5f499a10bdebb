import { connectSession, type ServerConnection } from '../../src/client/connection.js';
import type { LayoutState, Snapshot } from '../../src/protocol/messages.js';
import { MirrorPane } from './mirror-pane.js';

export interface MirrorClientOptions {
  session: string;
  env: NodeJS.ProcessEnv;
  cols: number;
  rows: number;
  /** Called for every Output frame as it arrives, before the mirror parses it. */
  onOutput?: (pane: number, data: Buffer, at: number) => void;
  /** Called for every Snapshot frame as it arrives, before it is replayed. */
  onSnapshot?: (pane: number, snapshot: Snapshot, at: number) => void;
}

/**
 * An in-process attach-mode client that behaves like the real TUI minus drawing: it replays
 * snapshots into `MirrorPane`s, feeds them live output and acknowledges what they parsed, so the
 * server's flow control sees an ordinary client.
 */
export class MirrorClient {
  layout: LayoutState | undefined;
  readonly mirrors = new Map<number, MirrorPane>();
  /** Panes whose latest snapshot has been replayed. */
  readonly replayed = new Set<number>();
  /** Snapshots received (the first screen of each pane, then one per discard-and-redraw). */
  snapshots = 0;
  private connection: ServerConnection | undefined;
  private closedReason: string | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly options: MirrorClientOptions) {}

  /**
   * Connects in attach mode (the server lays the panes out for `cols`x`rows` and sends the
   * layout, then one snapshot per pane).
   * @throws OrchestraError SERVER_UNREACHABLE when no server answers
   */
  static async connect(options: MirrorClientOptions): Promise<MirrorClient> {
    const client = new MirrorClient(options);
    client.connection = await connectSession({
      session: options.session,
      env: options.env,
      hello: {
        version: 'bench',
        mode: 'attach',
        cols: options.cols,
        rows: options.rows,
        term: 'xterm-256color',
        readOnly: false,
      },
      handlers: {
        onLayout: (layout) => client.handleLayout(layout),
        onSnapshot: (pane, snapshot) => client.handleSnapshot(pane, snapshot),
        onOutput: (pane, data) => {
          client.options.onOutput?.(pane, data, performance.now());
          client.mirrors.get(pane)?.write(data);
        },
        onClose: (reason) => {
          client.closedReason = reason;
          client.notify();
        },
      },
    });
    return client;
  }

  /** The live connection (for `input`, `request`). */
  get server(): ServerConnection {
    if (!this.connection) throw new Error('not connected');
    return this.connection;
  }

  /** True once the layout is known and every pane in it has its snapshot replayed. */
  get complete(): boolean {
    const panes = this.layout?.panes;
    return panes?.every((p) => this.replayed.has(p.id)) ?? false;
  }

  /**
   * Resolves when `predicate` holds (checked after every layout, replay and parsed output).
   * @throws Error when the connection closes first
   */
  waitFor(predicate: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          this.waiters.delete(check);
          resolve();
        } else if (this.closedReason !== undefined) {
          this.waiters.delete(check);
          reject(new Error(`connection closed: ${this.closedReason}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.connection?.close();
    for (const mirror of this.mirrors.values()) mirror.dispose();
    this.mirrors.clear();
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }

  private handleLayout(layout: LayoutState): void {
    const known = new Set(layout.panes.map((p) => p.id));
    for (const [id, mirror] of this.mirrors) {
      if (known.has(id)) continue;
      mirror.dispose();
      this.mirrors.delete(id);
      this.replayed.delete(id);
    }
    for (const pane of layout.panes) this.mirrors.get(pane.id)?.resize(pane.cols, pane.rows);
    this.layout = layout;
    this.notify();
  }

  private handleSnapshot(paneId: number, snapshot: Snapshot): void {
    this.snapshots++;
    this.options.onSnapshot?.(paneId, snapshot, performance.now());
    let mirror = this.mirrors.get(paneId);
    if (!mirror) {
      mirror = new MirrorPane(
        paneId,
        snapshot.cols,
        snapshot.rows,
        (chars) => this.connection?.ack(paneId, chars),
        () => this.notify(),
      );
      this.mirrors.set(paneId, mirror);
    }
    this.replayed.delete(paneId);
    const target = mirror;
    target.applySnapshot(snapshot, () => {
      // As the TUI does: the snapshot is applied at the size it was taken, then follows the pane.
      const info = this.layout?.panes.find((p) => p.id === paneId);
      if (info) target.resize(info.cols, info.rows);
      this.replayed.add(paneId);
      this.notify();
    });
  }
}
