/**
 * End-of-output detection. A pane's command ends with `echo __ORCH""ESTRA_BENCH_DONE__`: the shell
 * prints {@link DONE_MARKER}, while the command line itself (which a shell echo or a title could
 * show) never contains it.
 */
export const DONE_MARKER = '__ORCHESTRA_BENCH_DONE__';

/** Shell text that prints {@link DONE_MARKER}. */
export const PRINT_DONE_MARKER = `echo ${DONE_MARKER.slice(0, 6)}""${DONE_MARKER.slice(6)}`;

/**
 * Finds {@link DONE_MARKER} in a stream that arrives in chunks split anywhere. Buffers are read as
 * latin1, byte for byte, which is exact for an ASCII marker.
 */
export class MarkerScanner {
  private tail = '';
  /** When the chunk holding the end of the marker arrived (performance.now() ms). */
  foundAt: number | undefined;
  private readonly waiters: Array<(at: number) => void> = [];

  /** Scans one chunk; `at` is its arrival time. */
  push(chunk: string | Buffer, at: number): void {
    if (this.foundAt !== undefined) return;
    const text = this.tail + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    if (text.includes(DONE_MARKER)) {
      this.found(at);
      return;
    }
    this.tail = text.slice(-(DONE_MARKER.length - 1));
  }

  /** Marks the marker as seen at `at` (for a snapshot that already holds it). */
  found(at: number): void {
    if (this.foundAt !== undefined) return;
    this.foundAt = at;
    for (const waiter of this.waiters.splice(0)) waiter(at);
  }

  /** Resolves with the arrival time of the marker. */
  wait(): Promise<number> {
    const at = this.foundAt;
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
