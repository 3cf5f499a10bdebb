/**
 * The file under orchestra's log (`logger.ts`): an append-only file written with one synchronous
 * write(2) per line, which never throws. A full disk (ENOSPC), a quota (EDQUOT) or an I/O error
 * drops the line instead of ending the server with every pane in it (issue 10: a full disk made
 * the server exit from inside `logger.error`). The first dropped line is noted once on stderr;
 * when a write succeeds again, logging has recovered and {@link LogFile.reportRecovery} has the
 * logger record how many lines were lost.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../common/errors.js';

const NEWLINE = 0x0a;

/**
 * Writes a note to the process's stderr with write(2) on fd 2, swallowing any error: a detached
 * server's stderr is a file (`<socket dir>/<session>.log`) that may sit on the same full disk, and
 * `process.stderr` would turn a failed write into an 'error' event nobody handles (an uncaught
 * exception).
 */
export function noteOnStderr(message: string): void {
  try {
    writeSync(2, `orchestra: ${message}\n`);
  } catch {
    // Nowhere left to say it; the note is lost rather than the server.
  }
}

/** One append-only log file whose writes degrade instead of throwing. */
export class LogFile {
  #fd: number | undefined;
  /** Lines dropped since the last successful write; > 0 means logging is degraded. */
  #dropped = 0;
  /** Lines lost in the last degraded stretch, once a write has succeeded again; for the logger. */
  #recovered: number | undefined;
  /** False after a partial write left a line without its newline: the next line starts a new one. */
  #atLineStart = true;

  /**
   * Opens `path` for appending (mode 0600 when created), creating its directory.
   * @param note where degraded/recovered notes go; stderr by default
   * @throws the fs error when the directory or file cannot be created or opened
   */
  constructor(
    readonly path: string,
    private readonly note: (message: string) => void = noteOnStderr,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, 'a', 0o600);
  }

  /** True while lines are being dropped (the last write failed). */
  get degraded(): boolean {
    return this.#dropped > 0;
  }

  /**
   * Appends `line` (which carries its own newline), whole or not at all: a line torn by a failing
   * write is cut off again.
   * @returns false when the line was dropped (the file is closed or the write failed)
   */
  write(line: string): boolean {
    const fd = this.#fd;
    if (fd === undefined) return false;
    const body = Buffer.from(line, 'utf8');
    const data = this.#atLineStart ? body : Buffer.concat([Buffer.of(NEWLINE), body]);
    let written = 0;
    try {
      while (written < data.length) written += writeSync(fd, data, written);
    } catch (error) {
      if (written > 0) this.#untear(fd, written, data);
      if (this.#dropped++ === 0) {
        this.note(
          `logging to ${this.path} is degraded (${errorMessage(error)}); lines are dropped until writes succeed again`,
        );
      }
      return false;
    }
    this.#atLineStart = data.length === 0 || data[data.length - 1] === NEWLINE;
    if (this.#dropped > 0) {
      this.note(`logging to ${this.path} works again; ${this.#dropped} line(s) were dropped`);
      this.#recovered = this.#dropped;
      this.#dropped = 0;
    }
    return true;
  }

  /**
   * Takes back the `written` bytes of a line a failing write tore (the disk filled mid-line), so
   * the file holds whole lines only. Where that fails too, the next line starts with a newline.
   */
  #untear(fd: number, written: number, data: Buffer): void {
    try {
      ftruncateSync(fd, fstatSync(fd).size - written);
    } catch {
      this.#atLineStart = data[written - 1] === NEWLINE;
    }
  }

  /**
   * Has the lines lost in the degraded stretch that just ended accounted for, once, by `write`
   * (which logs a line saying so). If that line is dropped too, it is not counted itself and the
   * count carries on into the next stretch, so no loss goes unreported.
   */
  reportRecovery(write: (droppedLines: number) => void): void {
    const dropped = this.#recovered;
    if (dropped === undefined) return;
    this.#recovered = undefined;
    const before = this.#dropped;
    write(dropped);
    if (this.#dropped > before) this.#dropped += dropped - 1;
  }

  /** Closes the file; later writes are dropped silently. Idempotent. */
  close(): void {
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Closing can report a deferred write error (NFS); the file is gone from us either way.
    }
  }
}
