import { closeSync } from 'node:fs';
import { errorMessage } from '../common/errors.js';
import { printable } from '../common/printable.js';
import { isSecretEnv } from '../common/secret-env.js';
import { releaseYoungGeneration } from '../common/young-generation.js';
import type { KeyAction } from '../config/key-bindings.js';
import { keyNameToBytes, normalizeKeyName } from '../keys/key-names.js';
import { computeLayout, paneAt, paneInDirection, type Rect } from '../layout/layout.js';
import type { ClientUi, LayoutState, Notice, PaneInfo } from '../protocol/messages.js';
import type { ScreenUpdate } from '../protocol/screen.js';
import { STATUS_ROWS } from '../protocol/status-bar.js';
import { candidateLines, type DiffLineKind, diffDisplayLines, type TaskDiff } from '../protocol/task-diff.js';
import {
  copyCells,
  DEFAULT_COLOR,
  FLAG_BOLD,
  FLAG_INVERSE,
  packAttr,
  type ScreenLine,
  textWidth,
  writeText,
} from './cell-render.js';
import { type PromptHost, type PromptState, promptKey, runCommandLine } from './command-prompt.js';
import { connectSession, type ServerConnection } from './connection.js';
import { InputRouter, type MouseEvent } from './input-router.js';
import { MOUSE_OFF, MOUSE_ON, PASTE_OFF, PASTE_ON } from './mouse.js';
import { OverlayBox, type OverlayLine } from './overlay-box.js';
import { PaneView } from './pane-view.js';
import {
  enterScrollMode,
  type ScrollHost,
  type ScrollState,
  scrollBy,
  scrollKey,
  selectionSpan,
} from './scroll-mode.js';
import { drawStatusBar } from './status-bar.js';
import { type BoardHost, type BoardState, boardContent, boardKey } from './task-board.js';
import { type CursorPlace, TerminalScreen } from './terminal-screen.js';
import { colorIndex, loadTheme, type Theme } from './theme.js';

/**
 * Bytes the client's own terminal may hold unwritten before it stops acknowledging screens: a
 * slow terminal (an SSH link) then gets fewer, newer frames instead of a growing queue.
 */
const STDOUT_BACKLOG_BYTES = 256 * 1024;

/** How long `prefix q` shows pane numbers, ms (tmux's display-panes-time default). */
const SHOW_NUMBERS_MS = 1000;

/** How long a status-bar message stays, ms. */
const MESSAGE_MS = 3000;

/** Lines one wheel notch scrolls, as in tmux's copy mode. */
const WHEEL_LINES = 3;

export interface TuiOptions {
  session: string;
  /** Repository of the session, when known (server autostart, task board). */
  root?: string;
  /** Start the server when none answers (`orchestra tui`); `attach` does not. */
  autostart: boolean;
  readOnly: boolean;
  version: string;
  env: NodeJS.ProcessEnv;
  /** When the session has no panes, start one running this command (tmux's new-session does). */
  initialCommand?: string[];
  /**
   * Runs a line typed at the `:` prompt (already split into words) as an orchestra command
   * against this session; given by the CLI, so that the client does not import it.
   * @returns the exit code and the lines it printed
   */
  runCommand?: (argv: string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; lines: string[] }>;
}

type Mode =
  | { kind: 'normal' }
  | PromptState
  | { kind: 'confirm'; question: string; onYes: () => void; back?: Mode }
  | { kind: 'numbers'; until: number }
  | { kind: 'overlay'; back?: () => void; key?: (token: string) => boolean }
  | BoardState
  | ScrollState;

/** Row `line` of a scroll view as drawn: the selection's cells inverted (a copy; the fetched row stays). */
function selected(mode: ScrollState, line: number): ReadonlyArray<readonly [number, string]> {
  const cells = mode.lines.get(line) ?? [];
  const span = selectionSpan(mode, line);
  if (!span) return cells;
  return cells.map(([attr, ch], col) =>
    col >= span[0] && col <= span[1] ? ([attr ^ (FLAG_INVERSE << 18), ch] as const) : ([attr, ch] as const),
  );
}

/** An ISO time as the person's clock shows it, `14:05`; the text itself when it is no time. */
function clockTime(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return printable(iso);
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

/**
 * Whether the terminal draws 256 colours: TERM names a 256-colour or direct-colour terminal, or a
 * modern terminal by its own name, or COLORTERM says truecolor/24bit (the convention terminals and
 * tmux follow).
 */
export function terminalHas256Colours(env: NodeJS.ProcessEnv): boolean {
  return (
    /-(256colou?r|direct)$/.test(env.TERM ?? '') ||
    // Terminals whose own TERM names say nothing of colours but draw 256 and more (their terminfo
    // entries have 256 colours); over SSH COLORTERM rarely comes along.
    /^(xterm-kitty|xterm-ghostty|alacritty|foot|foot-extra|wezterm|contour|rio)$/.test(env.TERM ?? '') ||
    /^(truecolor|24bit)$/i.test(env.COLORTERM ?? '')
  );
}

/**
 * The prefix key in effect: the configured one (the server's `ui.prefix`), else C-b, or C-a when
 * the client runs inside tmux (DESIGN.md, "Keys").
 */
export function effectivePrefix(ui: Pick<ClientUi, 'prefix'>, env: NodeJS.ProcessEnv): string {
  if (ui.prefix) return normalizeKeyName(ui.prefix);
  return env.TMUX ? 'C-a' : 'C-b';
}

/**
 * The full-screen client (`orchestra tui`, `orchestra attach`): draws the session's panes from the
 * cells the server sends (it keeps no terminal emulator of its own), sends keys to the focused
 * pane, and handles the prefix key table.
 */
export class Tui {
  private connection!: ServerConnection;
  private screen: TerminalScreen | undefined;
  private theme!: Theme;
  private layout: LayoutState | undefined;
  private readonly views = new Map<number, PaneView>();
  /** SCREEN payload bytes painted and not yet acknowledged. */
  private unackedScreen = 0;
  private mode: Mode = { kind: 'normal' };
  private message: { text: string; until: number } | undefined;
  private renderPending: NodeJS.Immediate | undefined;
  /** The window geometry the pane area was last cleared for (see `draw`). */
  private paintedGeometry = '';
  /** Set when the next frame must copy every pane's every row, not just the changed ones. */
  private fullPaint = true;
  private clockTimer: NodeJS.Timeout | undefined;
  private overlay: OverlayBox | undefined;
  private finished: ((code: number) => void) | undefined;
  private exitLine = '';
  /** Prefix key and bindings: the server's (its welcome's `ui`), set once attached. */
  private prefixName = 'C-b';
  private bindings = new Map<string, KeyAction>();
  private router = new InputRouter('\x02', this.bindings);
  private readonly promptHost: PromptHost;
  private readonly boardHost: BoardHost;

  constructor(private readonly options: TuiOptions) {
    this.promptHost = {
      session: this.options.session,
      env: this.options.env,
      runCommand: this.options.runCommand,
      flash: (text) => this.flash(text),
      showOverlay: (label, content) => this.showOverlay(label, content),
    };
    this.boardHost = {
      readOnly: this.options.readOnly,
      panes: () => this.layout?.panes ?? [],
      request: (command) => this.connection.request(command),
      flash: (text) => this.flash(text),
      render: () => this.renderBoard(),
      close: () => this.closeOverlay(),
      selectPane: (target) => this.selectPane(target),
      open: () => this.mode.kind === 'board',
      reload: (selected) => void this.showTaskBoard(selected),
      openDiff: (task, selected) => void this.openDiff(task, selected),
    };
  }

  /**
   * Attaches and runs until the person detaches or the session ends.
   * @returns the exit code: 0 after a detach or a clean end, 1 when the server was lost
   */
  async run(): Promise<number> {
    const cols = process.stdout.columns ?? 80;
    const rows = process.stdout.rows ?? 24;
    this.connection = await connectSession({
      session: this.options.session,
      env: this.options.env,
      hello: {
        version: this.options.version,
        mode: 'attach',
        cols,
        rows,
        term: this.options.env.TERM ?? 'xterm-256color',
        readOnly: this.options.readOnly,
        screen: 'cells',
      },
      handlers: {
        onLayout: (layout) => this.onLayout(layout),
        onScreen: (pane, update, bytes) => this.onScreen(pane, update, bytes),
        onClose: (reason) => this.onClose(reason),
        onNotice: (notice) => this.onNotice(notice),
      },
      ...(this.options.autostart ? { autostart: this.options.root ? { root: this.options.root } : {} } : {}),
    });
    let themeProblem: string | undefined;
    try {
      await this.useUi(this.connection.welcome?.ui ?? { bindings: {}, theme: 'default' });
    } catch (error) {
      // A theme that cannot be read must not lock the person out of their session until the
      // server restarts (its config is read once): the default theme, and a word about it.
      try {
        this.theme = await loadTheme('default');
      } catch {
        this.connection.close();
        throw error;
      }
      themeProblem = `${errorMessage(error)}: the default theme is used`;
    }
    const handedOver = await this.handOverSecrets();
    if (this.options.initialCommand && !this.options.readOnly) {
      const panes = await this.connection.request<PaneInfo[]>({ cmd: 'list-panes' });
      if (panes.length === 0) {
        await this.connection.request({
          cmd: 'new-pane',
          command: this.options.initialCommand,
          ...(this.options.root ? { cwd: this.options.root } : {}),
        });
      }
    }
    this.setupScreen();
    releaseYoungGeneration();
    if (handedOver) this.flash(handedOver);
    if (themeProblem) this.flash(themeProblem);
    return new Promise<number>((resolve) => {
      this.finished = resolve;
    });
  }

  /** Takes the server's keys and theme (its config's, checked when the server loaded it). */
  private async useUi(ui: ClientUi): Promise<void> {
    this.prefixName = effectivePrefix(ui, this.options.env);
    this.bindings = new Map(
      Object.entries(ui.bindings).map(([key, action]) => [normalizeKeyName(key), action as KeyAction]),
    );
    this.router = new InputRouter(keyNameToBytes(this.prefixName) ?? '\x02', this.bindings);
    // Last: the keys are set even when the theme cannot be read.
    this.theme = await loadTheme(ui.theme);
  }

  /**
   * A server whose queue waits for a key it lacks says so in its welcome; this client hands over
   * the ones its own environment has (the socket is the person's own: its directory is 0700).
   *
   * @returns the status-bar message saying what happened, or undefined when nothing was missing
   */
  private async handOverSecrets(): Promise<string | undefined> {
    const missing = this.connection?.welcome?.missingEnv ?? [];
    if (missing.length === 0) return undefined;
    const have = missing.filter((name) => isSecretEnv(name) && this.options.env[name]);
    if (have.length === 0 || this.options.readOnly) {
      return `the server has no ${missing.join(' or ')}, so tasks wait: export it here and attach again`;
    }
    for (const name of have) {
      await this.connection!.request({ cmd: 'set-env', name, value: this.options.env[name]! });
    }
    return `handed ${have.join(', ')} to the server: waiting tasks start`;
  }

  // ---- screen ------------------------------------------------------------------------------

  private setupScreen(): void {
    // The screen only draws; keys and mouse are read raw from stdin below, so that every byte the
    // person types reaches the pane unchanged.
    this.screen = new TerminalScreen(
      process.stdout,
      terminalHas256Colours(this.options.env) ? 256 : 16,
      process.stdout.columns ?? 80,
      process.stdout.rows ?? 24,
    );
    // The terminal can vanish (an SSH connection drops): writes then fail with EIO or EPIPE, which
    // ends the client as a hangup does. Never removed: finish's own last writes can fail too.
    process.stdout.on('error', this.onStdoutError);
    // Whatever ends the process, the person's terminal is given back as it was (blessed did this
    // for its screens): a crash says why on the main screen, not on the alternate one it leaves.
    process.on('exit', this.onProcessExit);
    process.on('uncaughtException', this.onCrash);
    this.screen.enter(`orchestra: ${this.options.session}`);
    process.stdout.on('resize', this.onTerminalResize);
    process.stdout.write(MOUSE_ON + PASTE_ON);
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', this.onStdin);
    process.on('SIGHUP', this.onHangup);
    process.on('SIGTERM', this.onTerminate);
    // Raw mode sends C-c to the pane; these come from elsewhere (kill -INT): end as a detach does.
    process.on('SIGINT', this.onTerminate);
    process.on('SIGQUIT', this.onTerminate);
    this.clockTimer = setInterval(() => this.requestRender(), 15_000).unref();
    this.requestRender();
  }

  private readonly onTerminalResize = (): void => {
    const cols = process.stdout.columns ?? 80;
    const rows = process.stdout.rows ?? 24;
    this.screen?.resize(cols, rows);
    void this.connection.request({ cmd: 'resize', cols, rows }).catch(() => {});
    this.requestRender();
  };

  private readonly onStdin = (data: Buffer): void => {
    try {
      this.handleInput(data);
    } catch (error) {
      this.flash(`error: ${errorMessage(error)}`);
    }
  };

  /** The process is exiting with the screen still up (a crash, process.exit): restore the terminal. */
  private readonly onProcessExit = (): void => {
    if (!this.screen) return;
    process.stdout.write(MOUSE_OFF + PASTE_OFF);
    this.screen.leave();
    this.screen = undefined;
  };

  private readonly onCrash = (error: Error): void => {
    this.finish(1, '');
    process.stderr.write(`orchestra: the client failed: ${error.stack ?? error.message}\n`);
    process.exit(1);
  };

  private readonly onStdoutError = (): void => {
    this.onTerminalGone();
  };

  /** SIGHUP: the terminal closed (or the SSH connection dropped) under the client. */
  private readonly onHangup = (): void => {
    this.onTerminalGone();
  };

  private readonly onTerminate = (): void => {
    this.finish(0, '');
  };

  /**
   * Ends the client as a detach does when its terminal has gone away. Node 20 restores the
   * terminal's settings at exit and aborts when that fails, as it does on a hung-up terminal
   * (nodejs/node#51519, fixed only in later Node lines by #58200); it skips descriptors the
   * program closed, so the dead terminal's are closed just before the process exits.
   */
  private onTerminalGone(): void {
    if (!this.finished) return;
    process.once('exit', () => {
      for (const fd of [0, 1, 2]) {
        try {
          closeSync(fd);
        } catch {
          // Already closed: nothing for Node to restore there either.
        }
      }
    });
    this.finish(0, '');
  }

  /** Restores the terminal exactly as it was (cursor, echo, main screen) and resolves `run`. */
  private finish(code: number, line: string): void {
    if (!this.finished) return;
    const done = this.finished;
    this.finished = undefined;
    if (this.renderPending) clearImmediate(this.renderPending);
    clearInterval(this.clockTimer);
    process.stdout.off('drain', this.onStdoutDrain);
    process.stdin.off('data', this.onStdin);
    process.off('SIGHUP', this.onHangup);
    process.off('SIGTERM', this.onTerminate);
    process.off('SIGINT', this.onTerminate);
    process.off('SIGQUIT', this.onTerminate);
    process.off('exit', this.onProcessExit);
    process.off('uncaughtException', this.onCrash);
    process.stdout.off('resize', this.onTerminalResize);
    process.stdout.write(MOUSE_OFF + PASTE_OFF);
    this.screen?.leave();
    // Nothing draws after this: a late timer or frame finds no screen.
    this.screen = undefined;
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
    this.exitLine = line;
    if (line) process.stdout.write(`${line}\n`);
    this.connection?.close();
    done(code);
  }

  /** The line printed after leaving the full screen (for tests and logs). */
  get lastExitLine(): string {
    return this.exitLine;
  }

  private onClose(reason: string): void {
    if (!this.finished) return;
    if (reason.startsWith('server exited')) this.finish(0, '[exited]');
    else this.finish(1, `[lost server: ${reason}]`);
  }

  /**
   * Draws now after an idle moment, else once at the end of this turn of the event loop. There is
   * no frame clock here: the server paces SCREEN frames (server/screen-frames.ts), so a typed key's
   * echo is drawn the moment it arrives. `full` false: only panes' changed rows need drawing.
   */
  private requestRender(full = true): void {
    // Anything but new rows of a pane (a mode, an overlay, the layout) repaints every pane's body.
    if (full) this.fullPaint = true;
    if (!this.screen) return;
    if (this.renderPending) return;
    // After an idle moment draw now; the turn of the loop ends with one more draw, for whatever
    // else changed in it (it sends nothing when nothing did: the screen writes only changed cells).
    this.paint();
    this.renderPending = setImmediate(() => {
      this.renderPending = undefined;
      this.paint();
    });
  }

  private paint(): void {
    const screen = this.screen;
    if (!screen) return;
    this.draw(screen);
    screen.render(this.cursorPlace(screen));
    this.ackPainted();
  }

  /** Acknowledges painted screens, unless this client's own terminal is behind (then on 'drain'). */
  private ackPainted(): void {
    if (this.unackedScreen === 0) return;
    if (process.stdout.writableLength > STDOUT_BACKLOG_BYTES) {
      process.stdout.once('drain', this.onStdoutDrain);
      return;
    }
    this.connection.ackScreen(this.unackedScreen);
    this.unackedScreen = 0;
  }

  private readonly onStdoutDrain = (): void => {
    this.ackPainted();
  };

  private flash(text: string): void {
    this.message = { text, until: Date.now() + MESSAGE_MS };
    this.requestRender();
    // Redraw timers never keep a finished client alive (stdin and the socket hold a running one).
    setTimeout(() => this.requestRender(), MESSAGE_MS + 10).unref();
  }

  // ---- server events -----------------------------------------------------------------------

  private onLayout(layout: LayoutState): void {
    const known = new Set(layout.panes.map((p) => p.id));
    for (const id of this.views.keys()) if (!known.has(id)) this.views.delete(id);
    if (this.mode.kind === 'scroll' && !known.has(this.mode.pane)) this.mode = { kind: 'normal' };
    this.layout = layout;
    this.requestRender();
  }

  /**
   * An agent waits for the person or has ended: ring and notify the desktop. The screen already
   * shows it (the pane's title has its state, the status bar marks a waiting pane `!`); a message
   * across the status bar would hide the session's own fields each time an agent moved on.
   */
  private onNotice(notice: Notice): void {
    const index = this.layout?.panes.find((p) => p.id === notice.pane)?.index;
    const what =
      notice.state === 'waiting' ? 'waits for you' : notice.state === 'done' ? 'is done' : 'failed';
    const who = printable(`${notice.task ?? notice.name}${index !== undefined ? ` (pane ${index})` : ''}`);
    this.screen?.notify(`orchestra: ${who} ${what}`, printable(notice.summary) || notice.state);
  }

  private onScreen(paneId: number, update: ScreenUpdate, bytes: number): void {
    let view = this.views.get(paneId);
    if (!view) {
      view = new PaneView();
      this.views.set(paneId, view);
    }
    view.apply(update);
    this.unackedScreen += bytes;
    this.requestRender(false);
  }

  // ---- geometry ----------------------------------------------------------------------------

  private focusIndex(): number {
    const layout = this.layout;
    if (!layout || layout.focus === null) return -1;
    return layout.panes.findIndex((p) => p.id === layout.focus);
  }

  private rects(): Rect[] {
    const layout = this.layout;
    if (!layout) return [];
    const focus = this.focusIndex();
    return computeLayout(
      layout.kind,
      layout.panes.length,
      layout.cols,
      Math.max(1, layout.rows - STATUS_ROWS),
      layout.zoomed,
      focus < 0 ? null : focus,
      layout.sizes ?? {},
    );
  }

  // ---- drawing -----------------------------------------------------------------------------

  private draw(screen: TerminalScreen): void {
    const { lines, width, height } = screen;
    const areaRows = height - STATUS_ROWS;
    const blank = packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR);
    const layout = this.layout;
    // Panes and their borders cover the whole area; it is cleared only when the geometry changed,
    // so that a frame changes only the cells that did (the screen then sends just those).
    const geometry = `${width}x${height} ${layout?.panes.length ?? -1} ${this.rects()
      .map((r) => `${r.x},${r.y},${r.w},${r.h}`)
      .join(' ')}`;
    if (geometry !== this.paintedGeometry) {
      this.paintedGeometry = geometry;
      this.fullPaint = true;
      for (let y = 0; y < areaRows; y++) writeText(lines[y], 0, width, '', blank);
    }
    const full = this.fullPaint;
    this.fullPaint = false;
    if (!layout || layout.panes.length === 0) {
      const hint = layout ? 'no panes — start one with `orchestra new-pane` or prefix :' : 'attaching…';
      writeText(
        lines[Math.floor(areaRows / 2)],
        Math.max(0, Math.floor((width - hint.length) / 2)),
        hint.length,
        hint,
        blank,
      );
    } else {
      const rects = this.rects();
      const focus = this.focusIndex();
      layout.panes.forEach((pane, i) => {
        const rect = rects[i];
        if (!rect || rect.w === 0 || rect.h === 0) return;
        this.drawPane(lines, pane, rect, i === focus, width, areaRows, full);
      });
      if (this.mode.kind === 'numbers') this.drawNumbers(lines, rects, width, areaRows);
    }
    this.drawStatus(lines[height - 1], width);
    this.overlay?.draw(lines, width, height);
  }

  private drawPane(
    lines: ScreenLine[],
    pane: PaneInfo,
    rect: Rect,
    focused: boolean,
    width: number,
    areaRows: number,
    full: boolean,
  ): void {
    if (rect.x >= width || rect.y >= areaRows) return;
    const w = Math.min(rect.w, width - rect.x);
    // Border on the left of panes that do not start at the edge.
    if (rect.x > 0) {
      const attr = focused ? this.theme.borderFocused : this.theme.border;
      for (let y = rect.y; y < Math.min(rect.y + rect.h, areaRows); y++)
        writeText(lines[y], rect.x - 1, 1, '│', attr);
    }
    const scroll = this.mode.kind === 'scroll' && this.mode.pane === pane.id ? this.mode : undefined;
    let title = ` ${pane.index}: ${printable(pane.name)}`;
    if (pane.state === 'rate-limited' && pane.until)
      title += ` [rate-limited until ${clockTime(pane.until)}]`;
    else if (pane.state) title += ` [${printable(pane.state)}]`;
    if (pane.exited) title += pane.exitCode === null ? ' (killed)' : ` (exit ${pane.exitCode})`;
    if (pane.detail) title += `  ${printable(pane.detail)}`;
    if (scroll) {
      title += `  [scroll ${scroll.top + 1}-${Math.min(scroll.total, scroll.top + scroll.height)}/${scroll.total}]`;
    }
    writeText(lines[rect.y], rect.x, w, title, focused ? this.theme.titleFocused : this.theme.title);
    const bodyRows = Math.min(rect.h - 1, areaRows - rect.y - 1);
    if (bodyRows <= 0) return;
    const blank = packAttr(0, DEFAULT_COLOR, DEFAULT_COLOR);
    const target = { lines, x: rect.x, y: rect.y + 1, width: w, height: bodyRows, fillAttr: blank };
    const view = this.views.get(pane.id);
    const dirty = view?.takeDirty();
    if (scroll) {
      copyCells(
        Array.from({ length: bodyRows }, (_, i) => selected(scroll, scroll.top + i)),
        target,
      );
    } else if (!view) {
      for (let y = 0; y < bodyRows; y++) writeText(lines[rect.y + 1 + y], rect.x, w, '', blank);
    } else {
      copyCells(view.lines, target, full || dirty === 'all' ? undefined : dirty);
    }
  }

  private drawNumbers(lines: ScreenLine[], rects: Rect[], width: number, areaRows: number): void {
    rects.forEach((rect, i) => {
      if (rect.w === 0) return;
      const label = ` ${i} `;
      const y = Math.min(areaRows - 1, rect.y + Math.floor(rect.h / 2));
      const x = rect.x + Math.max(0, Math.floor((rect.w - label.length) / 2));
      if (x < width)
        writeText(
          lines[y],
          x,
          label.length,
          label,
          packAttr(FLAG_BOLD | FLAG_INVERSE, DEFAULT_COLOR, DEFAULT_COLOR),
        );
    });
  }

  private drawStatus(line: ScreenLine | undefined, width: number): void {
    drawStatusBar(line, width, {
      session: this.options.session,
      layout: this.layout,
      theme: this.theme,
      prefixName: this.prefixName,
      prefixPending: this.router.prefixPending,
      readOnly: this.options.readOnly,
      message: this.statusMessage(),
    });
  }

  /** What takes the whole status bar: the prompt, a question, a search being typed, a message. */
  private statusMessage(): string | undefined {
    const mode = this.mode;
    if (mode.kind === 'prompt') return `:${mode.text}`;
    if (mode.kind === 'confirm') return `${mode.question} (y/n)`;
    if (mode.kind === 'scroll' && mode.searching !== undefined) return `search: ${mode.searching}`;
    if (this.message && this.message.until > Date.now()) return this.message.text;
    return undefined;
  }

  /** Where the terminal's cursor goes: the prompt's end, the focused pane's cursor, or nowhere. */
  private cursorPlace(screen: TerminalScreen): CursorPlace {
    const layout = this.layout;
    const focus = this.focusIndex();
    if (this.mode.kind === 'prompt') return { x: 1 + textWidth(this.mode.text), y: screen.height - 1 };
    if (this.mode.kind === 'scroll' && this.mode.searching === undefined && !this.overlay) {
      // The copy cursor, on the pane being scrolled.
      const mode = this.mode;
      const index = layout?.panes.findIndex((p) => p.id === mode.pane) ?? -1;
      const rect = index < 0 ? undefined : this.rects()[index];
      const row = mode.cursor.line - mode.top;
      if (!rect || row < 0 || row >= Math.min(mode.height, rect.h - 1) || mode.cursor.col >= rect.w)
        return undefined;
      const x = rect.x + mode.cursor.col;
      const y = rect.y + 1 + row;
      return x < screen.width && y < screen.height - STATUS_ROWS ? { x, y } : undefined;
    }
    if (!layout || focus < 0 || this.mode.kind !== 'normal' || this.overlay) return undefined;
    const view = this.views.get(layout.panes[focus]!.id);
    const rect = this.rects()[focus];
    if (!view || !rect || !view.cursor.visible) return undefined;
    const x = rect.x + view.cursor.x;
    const y = rect.y + 1 + view.cursor.y;
    if (x >= screen.width || y >= screen.height - STATUS_ROWS || view.cursor.x >= rect.w) return undefined;
    return { x, y };
  }

  // ---- input -------------------------------------------------------------------------------

  private handleInput(data: Buffer): void {
    const routerMode = () =>
      this.mode.kind === 'normal' || this.mode.kind === 'numbers' ? this.mode.kind : 'other';
    for (const action of this.router.route(data.toString('utf8'), routerMode)) {
      switch (action.kind) {
        case 'forward':
          this.sendToFocused(action.data);
          break;
        case 'mouse':
          this.handleMouse(action.event);
          break;
        case 'mode-key':
          this.handleModeKey(action.token);
          break;
        case 'end-numbers':
          this.mode = { kind: 'normal' };
          break;
        case 'select-pane':
          this.selectPane(action.target);
          break;
        case 'prefix':
          this.requestRender();
          break;
        case 'command':
          if (action.action) this.runAction(action.action);
          this.requestRender();
          break;
      }
    }
  }

  private sendToFocused(data: string): void {
    if (this.options.readOnly) {
      this.flash('read-only client: keys are not sent');
      return;
    }
    const layout = this.layout;
    if (!layout || layout.focus === null) return;
    this.connection.input(layout.focus, data);
  }

  private static readonly READ_ONLY_ACTIONS = new Set<KeyAction>([
    'detach',
    'help',
    'scroll-mode',
    'show-numbers',
    'task-board',
  ]);

  private runAction(action: KeyAction): void {
    if (this.options.readOnly && !Tui.READ_ONLY_ACTIONS.has(action)) {
      this.flash('read-only client');
      return;
    }
    const layout = this.layout;
    const focus = this.focusIndex();
    const count = layout?.panes.length ?? 0;
    switch (action) {
      case 'focus-left':
      case 'focus-right':
      case 'focus-up':
      case 'focus-down': {
        if (focus < 0) return;
        const direction = action.slice(6) as 'left' | 'right' | 'up' | 'down';
        const target = paneInDirection(this.rects(), focus, direction);
        if (target !== focus) this.selectPane(String(target));
        return;
      }
      case 'next-pane':
        if (count > 0) this.selectPane(String((focus + 1) % count));
        return;
      case 'last-pane':
        this.selectPane('!');
        return;
      case 'show-numbers':
        this.mode = { kind: 'numbers', until: Date.now() + SHOW_NUMBERS_MS };
        setTimeout(() => {
          if (this.mode.kind === 'numbers') this.mode = { kind: 'normal' };
          this.requestRender();
        }, SHOW_NUMBERS_MS).unref();
        return;
      case 'next-waiting': {
        const panes = layout?.panes ?? [];
        for (let step = 1; step <= panes.length; step++) {
          const candidate = panes[(focus + step) % panes.length];
          if (candidate?.state === 'waiting') {
            this.selectPane(`%${candidate.id}`);
            return;
          }
        }
        this.flash('no agent is waiting for you');
        return;
      }
      case 'zoom':
        this.request({ cmd: 'zoom' });
        return;
      case 'next-layout':
        this.request({ cmd: 'select-layout', layout: 'next' });
        return;
      case 'scroll-mode': {
        const view = this.layout?.focus != null ? this.views.get(this.layout.focus) : undefined;
        void enterScrollMode(this.scrollHost, this.layout, 0, view?.cursor);
        return;
      }
      case 'resize-left':
      case 'resize-right':
      case 'resize-up':
      case 'resize-down': {
        if (focus < 0) return;
        const direction = (
          { 'resize-left': 'L', 'resize-right': 'R', 'resize-up': 'U', 'resize-down': 'D' } as const
        )[action];
        void this.connection
          .request({ cmd: 'resize-pane', pane: `%${layout!.panes[focus]!.id}`, direction, cells: 1 })
          .catch((error: unknown) => this.flash(errorMessage(error)));
        return;
      }
      case 'swap-prev':
      case 'swap-next':
        if (focus < 0) return;
        void this.connection
          .request({
            cmd: 'swap-pane',
            pane: `%${layout!.panes[focus]!.id}`,
            direction: action === 'swap-prev' ? 'U' : 'D',
          })
          .catch((error: unknown) => this.flash(errorMessage(error)));
        return;
      case 'paste-buffer':
        if (focus < 0) return;
        void this.connection
          .request({ cmd: 'paste-buffer', pane: `%${layout!.panes[focus]!.id}` })
          .catch((error: unknown) => this.flash(errorMessage(error)));
        return;
      case 'detach':
        this.finish(0, `[detached (from session ${this.options.session})]`);
        return;
      case 'task-board':
        void this.showTaskBoard();
        return;
      case 'command-prompt':
        this.mode = { kind: 'prompt', text: '' };
        return;
      case 'stop-agent': {
        const pane = layout?.panes[focus];
        if (!pane) return;
        this.mode = {
          kind: 'confirm',
          question: `stop pane ${pane.index} (${printable(pane.name)})?`,
          onYes: () => this.request({ cmd: 'kill-pane', pane: `%${pane.id}` }),
        };
        return;
      }
      case 'help':
        this.showHelp();
        return;
      case 'send-prefix':
        this.sendToFocused(this.router.prefixBytes);
        return;
      default: {
        const match = /^select-pane-(\d)$/.exec(action);
        if (match) this.selectPane(match[1]!);
      }
    }
  }

  private request(command: Parameters<ServerConnection['request']>[0]): void {
    this.connection.request(command).catch((error) => this.flash(errorMessage(error)));
  }

  private selectPane(target: string): void {
    this.request({ cmd: 'select-pane', pane: target });
  }

  private handleModeKey(token: string): void {
    const mode = this.mode;
    if (mode.kind === 'board') {
      boardKey(this.boardHost, mode, token);
      this.requestRender();
      return;
    }
    if (mode.kind === 'confirm') {
      // Asked over an overlay (the diff view's w): the answer goes back to it.
      this.mode = mode.back ?? { kind: 'normal' };
      if (token === 'y' || token === 'Y') mode.onYes();
      this.requestRender();
      return;
    }
    if (this.overlay) {
      const overlay = this.overlay;
      // The overlay's own keys first (the diff view's a and w).
      if (mode.kind === 'overlay' && mode.key?.(token)) {
        this.requestRender();
        return;
      }
      if (token === 'q' || token === '\x1b' || token === '\r') {
        const back = mode.kind === 'overlay' ? mode.back : undefined;
        this.closeOverlay();
        back?.();
      } else if (token === 'j' || token === '\x1b[B') overlay.scroll(1);
      else if (token === 'k' || token === '\x1b[A') overlay.scroll(-1);
      else if (token === ' ' || token === '\x1b[6~' || token === '\x06') overlay.scroll(overlay.page);
      else if (token === 'b' || token === '\x1b[5~' || token === '\x02') overlay.scroll(-overlay.page);
      else if (token === 'g') overlay.scroll(Number.NEGATIVE_INFINITY);
      else if (token === 'G') overlay.scroll(Number.POSITIVE_INFINITY);
      this.requestRender();
      return;
    }
    switch (mode.kind) {
      case 'prompt': {
        const { done, line } = promptKey(mode, token);
        if (done) this.mode = { kind: 'normal' };
        if (line) void runCommandLine(this.promptHost, line);
        break;
      }
      case 'scroll':
        scrollKey(this.scrollHost, mode, token);
        break;
      default:
        this.mode = { kind: 'normal' };
    }
    this.requestRender();
  }

  // ---- scroll mode -------------------------------------------------------------------------

  private readonly scrollHost: ScrollHost = {
    request: (command) => this.connection.request(command),
    flash: (text) => this.flash(text),
    requestRender: () => this.requestRender(),
    enter: (state) => {
      this.mode = state;
    },
    showing: (state) => this.mode === state,
    leave: () => this.leaveScrollMode(),
    copied: (text) => {
      // To the person's clipboard too (OSC 52: it works over SSH), as tmux's set-clipboard does.
      this.screen?.copyToClipboard(text);
      this.leaveScrollMode();
      this.flash(`copied ${[...text].length} characters: prefix ] pastes them`);
    },
  };

  private leaveScrollMode(): void {
    this.mode = { kind: 'normal' };
  }

  // ---- mouse -------------------------------------------------------------------------------

  private handleMouse(event: MouseEvent): void {
    const rects = this.rects();
    const index = paneAt(rects, event.x, event.y);
    const pane = index === undefined ? undefined : this.layout?.panes[index];
    if (event.kind === 'press' && pane && !this.options.readOnly && pane.id !== this.layout?.focus) {
      if (this.mode.kind === 'scroll') this.leaveScrollMode();
      this.selectPane(`%${pane.id}`);
      return;
    }
    if (event.kind === 'wheel-up' || event.kind === 'wheel-down') {
      const mode = this.mode;
      if (mode.kind === 'scroll') {
        scrollBy(this.scrollHost, mode, event.kind === 'wheel-up' ? -WHEEL_LINES : WHEEL_LINES);
        if (event.kind === 'wheel-down' && mode.top >= mode.base) this.leaveScrollMode();
        this.requestRender();
      } else if (event.kind === 'wheel-up' && pane && pane.id === this.layout?.focus) {
        void enterScrollMode(this.scrollHost, this.layout, WHEEL_LINES);
      }
    }
  }

  // ---- overlays ----------------------------------------------------------------------------

  private showOverlay(label: string, content: string | readonly OverlayLine[]): void {
    this.closeOverlay();
    const { overlay, overlayBorder } = this.theme.file;
    this.overlay = new OverlayBox(` ${label} — q closes `, content, {
      body: packAttr(0, colorIndex(overlay.fg), colorIndex(overlay.bg)),
      border: packAttr(0, colorIndex(overlayBorder.fg), colorIndex(overlay.bg)),
    });
    this.mode = { kind: 'overlay' };
    this.requestRender();
  }

  /**
   * The board's `d`: a task's diff, coloured as `git diff --color` colours it, under the compare
   * view of its attempts (check result, score, diffstat, the result marked); q goes back to the board.
   */
  private showDiff(diff: TaskDiff, selected: number): void {
    const bg = colorIndex(this.theme.file.overlay.bg);
    const colour: Record<DiffLineKind, number | undefined> = {
      add: packAttr(0, 2, bg),
      del: packAttr(0, 1, bg),
      hunk: packAttr(0, 6, bg),
      file: packAttr(FLAG_BOLD, colorIndex(this.theme.file.overlay.fg), bg),
      context: undefined,
    };
    const head = printable(
      `${diff.attemptId}: ${diff.stat.files} files, +${diff.stat.insertions} -${diff.stat.deletions} against ${diff.base.slice(0, 10)}`,
    );
    const lines: OverlayLine[] = [
      { text: head },
      ...candidateLines(diff).map((text) => ({ text })),
      { text: '' },
      ...diffDisplayLines(diff.diff.text).map(({ text, kind }) => ({
        text,
        ...(colour[kind] !== undefined ? { attr: colour[kind] } : {}),
      })),
      ...(diff.diff.truncated ? [{ text: `… cut; \`orchestra diff ${diff.taskId}\` prints all of it` }] : []),
    ];
    this.showOverlay(`diff ${diff.taskId} — a next attempt · w makes it the result`, lines);
    const back = () => void this.showTaskBoard(selected);
    const key = (token: string): boolean => {
      if (token === 'a') {
        // The next attempt's diff (in the task's order, round to the first).
        const ids = diff.candidates.map((c) => c.id);
        const next = ids[(ids.indexOf(diff.attemptId) + 1) % ids.length];
        if (next && next !== diff.attemptId) void this.openDiff(diff.taskId, selected, next);
        return true;
      }
      if (token === 'w') {
        if (this.options.readOnly) return true;
        if (diff.candidates.find((c) => c.id === diff.attemptId)?.winner) {
          this.flash(`${diff.attemptId} is the result already`);
          return true;
        }
        const asked = this.mode;
        this.mode = {
          kind: 'confirm',
          back: asked,
          question: `make ${diff.attemptId} the result of ${diff.taskId}?`,
          onYes: () => {
            this.connection
              .request<{ attemptId: string; was?: string }>({
                cmd: 'pick-winner',
                task: diff.taskId,
                attempt: diff.attemptId,
              })
              .then((picked) => {
                this.flash(
                  `${picked.attemptId} is the result now${picked.was ? ` (was ${picked.was})` : ''}`,
                );
                void this.openDiff(diff.taskId, selected, picked.attemptId);
              })
              .catch((error: unknown) => this.flash(errorMessage(error)));
          },
        };
        return true;
      }
      return false;
    };
    this.mode = { kind: 'overlay', back, key };
  }

  /**
   * Fetches and shows task `task`'s diff (of `attempt`, default its result) over the board or the
   * diff it was asked from: the one place the client asks for a diff.
   */
  private async openDiff(task: string, selected: number, attempt?: string): Promise<void> {
    // Shown only over the diff it was asked from: a late answer never pops up over something else.
    const from = this.overlay;
    try {
      const diff = await this.connection.request<TaskDiff>({
        cmd: 'task-diff',
        task,
        ...(attempt ? { attempt } : {}),
      });
      if (this.overlay !== from || from === undefined) return;
      this.showDiff(diff, selected);
    } catch (error) {
      this.flash(errorMessage(error));
    }
  }

  private closeOverlay(): void {
    if (!this.overlay) return;
    this.overlay = undefined;
    // What the box covered is drawn again (a pane's unchanged rows, the empty area).
    this.paintedGeometry = '';
    this.mode = { kind: 'normal' };
  }

  private showHelp(): void {
    const byAction = new Map<string, string[]>();
    for (const [key, action] of this.bindings) {
      if (action === 'none') continue;
      byAction.set(action, [...(byAction.get(action) ?? []), key]);
    }
    // select-pane-0 … 9 take one entry; the rest go in two columns, so the help fits a screen.
    const numbered = [...byAction.keys()].filter((a) => /^select-pane-\d$/.test(a));
    const entries = [...byAction.entries()]
      .filter(([action]) => !numbered.includes(action))
      .map(([action, keys]) => `${keys.join(' ').padEnd(14)} ${action}`);
    if (numbered.length > 0) {
      const keys = numbered.flatMap((a) => byAction.get(a) ?? []);
      entries.unshift(`${[keys[0], keys.at(-1)].join('…').padEnd(14)} select pane by number`);
    }
    const half = Math.ceil(entries.length / 2);
    const columns = entries
      .slice(0, half)
      .map((left, i) => `  ${left.padEnd(38)} ${entries[half + i] ?? ''}`.trimEnd());
    const lines = [
      `prefix: ${this.prefixName} — press it, then one of these keys (press it twice to send it to the pane)`,
      '',
      ...columns,
      '',
      'without the prefix, every key goes to the focused pane',
      'mouse: click focuses a pane, the wheel scrolls its history',
      'scroll mode: arrows/h/j/k/l/0/$ move, PgUp/PgDn, g/G, / search, n/N next/previous, q leaves',
      'copy: in scroll mode v or Space starts a selection, y or Enter copies it (clipboard too); prefix ] pastes',
    ];
    this.showOverlay('keys', lines.join('\n'));
  }

  /** prefix t: the task board — queue, running attempts with their panes, done, failed, costs. */
  private async showTaskBoard(selected = 0): Promise<void> {
    try {
      // The board's schema (zod) loads with the board, not with the client.
      const [{ BoardTaskSchema }, reply] = await Promise.all([
        import('../protocol/board.js'),
        this.connection.request({ cmd: 'task-board' }),
      ]);
      const rows = BoardTaskSchema.array().parse(reply);
      this.showOverlay('tasks', '');
      this.mode = { kind: 'board', rows, selected: Math.min(selected, Math.max(0, rows.length - 1)) };
      this.renderBoard();
    } catch (error) {
      this.flash(errorMessage(error));
    }
  }

  private renderBoard(): void {
    const mode = this.mode;
    if (mode.kind !== 'board' || !this.overlay) return;
    this.overlay.setContent(boardContent(mode, this.layout?.panes ?? []));
    this.requestRender();
  }
}
