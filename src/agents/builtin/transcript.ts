import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The agent's live transcript: what a person watching the pane reads (assistant text as it
 * streams, tool calls and their results, turn and cost counters), written to the TTY with colour
 * and appended without colour to `<run-dir>/transcript.log`.
 */

/** The transcript file's name inside the run directory. */
export const TRANSCRIPT_FILE = 'transcript.log';

/** SGR colours; only these few, so the transcript reads on any theme. */
const STYLES = {
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
  magenta: '\x1b[35m',
} as const;
const RESET = '\x1b[0m';

/** A style name for {@link Transcript.line}. */
export type Style = keyof typeof STYLES;

/**
 * Control characters other than newline and tab, and escape sequences: text from the model or a
 * command must not move the cursor or recolour the pane.
 */
const UNSAFE =
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** `text` without escape sequences and control characters (newline and tab stay). */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, '');
}

/** Writes the transcript to the TTY and the log file. */
export class Transcript {
  private readonly fd: number;
  /** True when the last character written was not a newline (streaming text mid-line). */
  private midLine = false;

  /**
   * @param out the agent's stdout
   * @param runDir where transcript.log is appended
   * @param opts.color colour on the TTY
   * @param opts.redact applied to everything written, so no secret reaches the pane or the file
   */
  constructor(
    private readonly out: NodeJS.WritableStream,
    runDir: string,
    private readonly opts: { color: boolean; redact: (text: string) => string },
  ) {
    this.fd = openSync(join(runDir, TRANSCRIPT_FILE), 'a', 0o600);
  }

  /** Streams assistant text as it arrives (no newline added). */
  text(delta: string): void {
    const clean = sanitize(delta);
    if (clean === '') return;
    this.emit(clean, clean);
    this.midLine = !clean.endsWith('\n');
  }

  /** One full line, styled on the TTY; starts on a fresh line if streamed text left one open. */
  line(text: string, ...styles: Style[]): void {
    const clean = sanitize(text);
    const lead = this.midLine ? '\n' : '';
    this.midLine = false;
    const styled =
      this.opts.color && styles.length ? `${styles.map((s) => STYLES[s]).join('')}${clean}${RESET}` : clean;
    this.emit(`${lead}${styled}\n`, `${lead}${clean}\n`);
  }

  /** Ends an open streamed line. */
  endLine(): void {
    if (this.midLine) this.emit('\n', '\n');
    this.midLine = false;
  }

  close(): void {
    this.endLine();
    closeSync(this.fd);
  }

  private emit(tty: string, plain: string): void {
    // The TTY's line discipline (ONLCR) turns LF into CR LF; the file keeps plain LF.
    this.out.write(this.opts.redact(tty));
    writeSync(this.fd, this.opts.redact(plain));
  }
}
