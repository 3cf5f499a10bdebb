/**
 * Caps tool output before it goes to the model: the head and the tail are kept, the middle is cut,
 * and the result says so. The head shows what a command started with (the command's banner, the
 * first error), the tail how it ended (the summary line of a test run).
 */

/**
 * Most characters of one tool result. 30,000 is what Anthropic's own agents allow a bash result:
 * a long test log fits, an endless `yes` does not swamp the context window.
 */
export const MAX_TOOL_OUTPUT_CHARS = 30_000;

/**
 * Collects a stream of text keeping only the first `headMax` and the last `tailMax` characters, so
 * a command that prints gigabytes costs constant memory.
 */
export class HeadTailBuffer {
  private head = '';
  private tail = '';
  /** Characters pushed so far (minus any dropped from the end). */
  total = 0;

  constructor(
    private readonly headMax: number,
    private readonly tailMax: number,
  ) {}

  push(chunk: string): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.head.length < this.headMax) {
      const room = this.headMax - this.head.length;
      this.head += rest.slice(0, room);
      rest = rest.slice(room);
    }
    if (rest === '') return;
    this.tail += rest;
    if (this.tail.length > this.tailMax) this.tail = this.tail.slice(this.tail.length - this.tailMax);
  }

  /** Removes the last `count` characters (a marker the reader has recognised). */
  dropLast(count: number): void {
    let n = Math.min(count, this.total);
    const discarded = this.total - this.head.length - this.tail.length;
    this.total -= n;
    const fromTail = Math.min(n, this.tail.length);
    this.tail = this.tail.slice(0, this.tail.length - fromTail);
    n -= fromTail;
    // What lay in the discarded middle is gone already; only past it does the head shrink.
    n -= Math.min(n, discarded);
    if (n > 0) this.head = this.head.slice(0, this.head.length - n);
  }

  /** True when characters between head and tail were discarded. */
  get truncated(): boolean {
    return this.total > this.head.length + this.tail.length;
  }

  /** The kept text; when cut, a line in the middle says how much is missing. */
  text(): string {
    if (!this.truncated) return this.head + this.tail;
    const omitted = this.total - this.head.length - this.tail.length;
    return `${this.head}\n\n${truncationNote(this.total, omitted)}\n\n${this.tail}`;
  }
}

function truncationNote(total: number, omitted: number): string {
  return `[output truncated: ${total.toLocaleString('en-US')} characters in total, the middle ${omitted.toLocaleString('en-US')} were cut; the head and the tail are shown]`;
}

/** `text` cut to about `max` characters, keeping half from the head and half from the tail. */
export function capOutput(text: string, max = MAX_TOOL_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  const buffer = new HeadTailBuffer(Math.floor(max / 2), Math.ceil(max / 2));
  buffer.push(text);
  return buffer.text();
}
