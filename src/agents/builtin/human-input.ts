/**
 * What the person at the agent's TTY does: typed lines (the terminal is in its normal cooked mode,
 * so the TTY echoes and delivers whole lines) and Ctrl-C (SIGINT: the agent is the foreground
 * process of its TTY). In raw mode a literal ^C byte counts as Ctrl-C too.
 */

/** Listeners of {@link HumanInput}. */
export interface HumanInputListeners {
  /** A non-empty line, without its line ending. */
  onLine: (line: string) => void;
  /** Ctrl-C. */
  onInterrupt: () => void;
  /** stdin ended: no more lines will come. */
  onEnd: () => void;
}

/** Reads the human's lines and Ctrl-C; call {@link dispose} when the agent ends. */
export class HumanInput {
  private partial = '';
  private ended = false;
  private readonly onData = (chunk: Buffer | string) => this.receive(chunk.toString());
  private readonly onStreamEnd = () => {
    this.ended = true;
    const rest = this.partial.trim();
    this.partial = '';
    if (rest !== '') this.listeners.onLine(rest);
    this.listeners.onEnd();
  };
  private readonly onSigint = () => this.listeners.onInterrupt();

  constructor(
    private readonly stdin: NodeJS.ReadableStream,
    private readonly listeners: HumanInputListeners,
  ) {
    stdin.on('data', this.onData);
    stdin.on('end', this.onStreamEnd);
    stdin.on('error', this.onStreamEnd);
    process.on('SIGINT', this.onSigint);
    stdin.resume();
  }

  /** True once stdin has ended. */
  get closed(): boolean {
    return this.ended;
  }

  /** Stops listening and lets stdin go, so the process can exit. */
  dispose(): void {
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onStreamEnd);
    this.stdin.off('error', this.onStreamEnd);
    process.off('SIGINT', this.onSigint);
    this.stdin.pause();
  }

  private receive(text: string): void {
    let rest = text;
    for (let i = rest.indexOf('\x03'); i !== -1; i = rest.indexOf('\x03')) {
      this.take(rest.slice(0, i));
      rest = rest.slice(i + 1);
      this.listeners.onInterrupt();
    }
    this.take(rest);
  }

  private take(text: string): void {
    const lines = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed !== '') this.listeners.onLine(trimmed);
    }
  }
}
