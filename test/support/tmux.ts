import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A real terminal for end-to-end tests: a detached tmux session on a private server
 * (`tmux -L <unique socket> -f /dev/null`), driven with `send-keys` and read back with
 * `capture-pane`, i.e. what a person at that terminal would see.
 */

/** How often {@link TmuxTerminal.waitForScreen} re-reads the screen, ms. */
export const POLL_MS = 50;

/** How long {@link TmuxTerminal.waitForScreen} waits by default, ms (a few seconds on 2 busy cores). */
export const DEFAULT_WAIT_MS = 8000;

/** The prompt of the default shell, so tests can tell it from the shells inside orchestra's panes. */
export const PROMPT = 'term$ ';

/** Options for {@link TmuxTerminal.start}. */
export interface TmuxStartOptions {
  /** Working directory of the session's shell. */
  cwd: string;
  /** Environment of the tmux server, and so of the shell in it. `TMUX`/`TMUX_PANE` are removed. */
  env: NodeJS.ProcessEnv;
  /** Terminal size in cells (default 120 × 35). */
  cols?: number;
  rows?: number;
  /** Shell command the window runs (default: a bash without rc files, prompt {@link PROMPT}). */
  command?: string;
  /**
   * TERM inside the window (default tmux's `default-terminal`, "screen": 8 colours, so a client
   * there draws 256-colour cells in the nearest of 8). Applies to the default shell.
   */
  term?: string;
}

/** The text of a capture split into lines (tmux ends a capture with one newline per row). */
export function screenLines(screen: string): string[] {
  const lines = screen.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Cells a character takes in a terminal: 2 for East Asian wide and emoji ranges, else 1.
 * A small wcwidth, enough for the characters the tests print.
 */
export function cellWidth(ch: string): number {
  const c = ch.codePointAt(0) ?? 0;
  const wide =
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6) ||
    (c >= 0x1f300 && c <= 0x1f64f) ||
    (c >= 0x1f900 && c <= 0x1f9ff) ||
    (c >= 0x20000 && c <= 0x3fffd);
  return wide ? 2 : 1;
}

/**
 * The cells [from, to) of one captured line, by terminal column rather than string index (a wide
 * character counts two columns; one cut in half becomes a space).
 */
export function cells(line: string, from: number, to: number): string {
  let col = 0;
  let out = '';
  for (const ch of line) {
    const w = cellWidth(ch);
    if (col >= from && col + w <= to) out += ch;
    else if (col < to && col + w > from) out += ' ';
    col += w;
    if (col >= to) break;
  }
  return out;
}

/** The column where `needle` starts in `line`, counting wide characters as two; -1 when absent. */
export function columnOf(line: string, needle: string): number {
  const at = line.indexOf(needle);
  if (at < 0) return -1;
  let col = 0;
  for (const ch of line.slice(0, at)) col += cellWidth(ch);
  return col;
}

/**
 * The text of columns [from, to) of every line of a capture, trailing spaces trimmed as tmux trims
 * whole lines, joined with newlines: what one pane of a split screen shows.
 */
export function region(screen: string, from: number, to: number): string {
  return screenLines(screen)
    .map((line) => cells(line, from, to).trimEnd())
    .join('\n');
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, encoding: 'utf8', timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One tmux session, alone on its own tmux server. */
export class TmuxTerminal {
  private constructor(
    /** The `-L` socket name, unique per terminal. */
    readonly socket: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Starts a detached session `t` on a fresh tmux server and waits for its shell prompt (when the
   * default command is used).
   * @throws when tmux cannot start or the prompt does not appear
   */
  static async start(options: TmuxStartOptions): Promise<TmuxTerminal> {
    const env: NodeJS.ProcessEnv = { ...options.env };
    delete env.TMUX;
    delete env.TMUX_PANE;
    const socket = `orchestra-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    const terminal = new TmuxTerminal(socket, env);
    await terminal.tmux(
      'new-session',
      '-d',
      '-s',
      't',
      '-x',
      String(options.cols ?? 120),
      '-y',
      String(options.rows ?? 35),
      '-c',
      options.cwd,
      options.command ??
        `${options.term ? `TERM=${options.term} ` : ''}PS1='${PROMPT}' bash --norc --noprofile`,
      // A window whose command ends stays on screen, so a test can still read what it printed.
      ';',
      'set-option',
      '-t',
      't',
      'remain-on-exit',
      'on',
    );
    if (!options.command) {
      try {
        await terminal.waitForScreen((s) => s.includes(PROMPT.trim()), { what: 'the shell prompt' });
      } catch (error) {
        // The caller never gets this terminal, so it could not kill the server itself.
        await terminal.kill();
        throw error;
      }
    }
    return terminal;
  }

  /** Runs `tmux -L <socket> <args>` and returns its stdout. */
  tmux(...args: string[]): Promise<string> {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], this.env);
  }

  /** Sends tmux key names (`C-a`, `o`, `Enter`, `PPage`), as `tmux send-keys` does. */
  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 't', ...keys);
  }

  /** Types `text` literally (no key-name lookup). */
  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', 't', '-l', text);
  }

  /** Types a line of text and presses Enter. */
  async typeLine(text: string): Promise<void> {
    await this.type(text);
    await this.sendKeys('Enter');
  }

  /**
   * The visible screen, one line per row, trailing spaces trimmed by tmux.
   * @param options.escapes keep colours and attributes as SGR sequences (`capture-pane -e`)
   */
  async capture(options: { escapes?: boolean } = {}): Promise<string> {
    return this.tmux('capture-pane', '-p', '-t', 't', ...(options.escapes ? ['-e'] : []));
  }

  /** A tmux format evaluated for the pane, e.g. `#{alternate_on}` or `#{pane_dead}`. */
  async display(format: string): Promise<string> {
    return (await this.tmux('display-message', '-p', '-t', 't', format)).trim();
  }

  /**
   * Re-reads the screen every {@link POLL_MS} until `predicate` holds.
   * @returns the screen that satisfied it
   * @throws an error naming `what` and showing the last screen after `timeoutMs`
   */
  async waitForScreen(
    predicate: (screen: string) => boolean,
    options: { timeoutMs?: number; what?: string; escapes?: boolean } = {},
  ): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_WAIT_MS);
    let screen = '';
    for (;;) {
      screen = await this.capture({ escapes: options.escapes ?? false });
      if (predicate(screen)) return screen;
      if (Date.now() > deadline) break;
      await sleep(POLL_MS);
    }
    throw new Error(
      `timed out waiting for ${options.what ?? 'the screen'}; last screen of ${this.socket}:\n${screen}`,
    );
  }

  /** Waits until the screen contains `text` (or matches `pattern`). */
  waitForText(text: string | RegExp, timeoutMs?: number): Promise<string> {
    const test = (s: string) => (typeof text === 'string' ? s.includes(text) : text.test(s));
    return this.waitForScreen(test, {
      what: String(text),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
  }

  /** Resizes the window (and so the terminal the program in it sees) to `cols` × `rows`. */
  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux('resize-window', '-t', 't', '-x', String(cols), '-y', String(rows));
  }

  /** Ends the tmux server and everything running in it; never throws (for `after` hooks). */
  async kill(): Promise<void> {
    await this.tmux('kill-server').catch(() => {
      // Already gone (the test may have ended it, or it never started): nothing to clean up.
    });
  }
}
