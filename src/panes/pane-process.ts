/**
 * What the server needs from whatever runs in a pane: a local process on a PTY (local-pty.ts) now,
 * a Docker container attached over a hijacked stream later. The server never knows which.
 */

/** Something to stop listening with (VS Code's IDisposable). */
export interface Disposable {
  dispose(): void;
}

/** How a pane's process ended. `exitCode` is null when it was killed by a signal. */
export interface PaneExit {
  exitCode: number | null;
  signal?: number | string;
  /** Why, when known beyond the code (for example "out of memory"). */
  reason?: string;
}

/** A running program with a terminal: the pane interface of DESIGN.md ("Processes"). */
export interface PaneProcess {
  /** Process id on the host (local) or in the container; undefined when unknown. */
  readonly pid: number | undefined;
  /** Writes input bytes (keys, paste, terminal query replies). */
  write(data: string | Buffer): void;
  /** Sets the terminal size in cells. */
  resize(cols: number, rows: number): void;
  /** Output as it arrives, UTF-8 decoded (a split multi-byte character is held until complete). */
  onData(listener: (data: string) => void): Disposable;
  /** Fires once when the program has ended. */
  onExit(listener: (exit: PaneExit) => void): Disposable;
  /** Stops reading output (flow control); output waits in the kernel's PTY buffer or the stream. */
  pause(): void;
  resume(): void;
  /** Ends the program (SIGHUP for local processes, as a closing terminal would). */
  kill(signal?: string): void;
}
