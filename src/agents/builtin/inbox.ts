import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Messages from orchestra to a running agent: `<run-dir>/inbox.jsonl`, one JSON object a line,
 * appended by the scheduler. `{"type":"message","text":"..."}` is delivered to the model like a
 * human's line (marked as coming from orchestra): the check gate's failures, a reviewer's notes.
 * `{"type":"finish"}` lets an agent that stays after task_complete exit.
 */
export const INBOX_FILE = 'inbox.jsonl';

/** How often the inbox is read, ms: the scheduler is never in a hurry by more than this. */
export const INBOX_POLL_MS = 200;

export type InboxItem = { type: 'message'; text: string } | { type: 'finish' };

/**
 * Polls the inbox from byte `offset` (kept in the checkpoint, so a resumed agent does not get a
 * message twice) and hands over each complete line.
 */
export class InboxReader {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly runDir: string,
    private offset: number,
    private readonly onItem: (item: InboxItem, offsetAfter: number) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), INBOX_POLL_MS);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const path = join(this.runDir, INBOX_FILE);
      const info = await stat(path).catch(() => undefined);
      if (!info || info.size <= this.offset) return;
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(info.size - this.offset);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        const text = buffer.subarray(0, bytesRead).toString('utf8');
        const end = text.lastIndexOf('\n');
        if (end < 0) return; // a line still being written
        let at = this.offset;
        for (const line of text.slice(0, end + 1).split('\n')) {
          at += Buffer.byteLength(line) + 1;
          if (!line.trim()) continue;
          try {
            const item = JSON.parse(line) as Partial<InboxItem>;
            if (item.type === 'finish') this.onItem({ type: 'finish' }, Math.min(at, this.offset + end + 1));
            else if (item.type === 'message' && typeof (item as { text?: unknown }).text === 'string') {
              this.onItem(
                { type: 'message', text: (item as { text: string }).text },
                Math.min(at, this.offset + end + 1),
              );
            }
          } catch {
            // Not JSON: nothing orchestra writes; skipped rather than wedging the agent.
          }
        }
        this.offset += Buffer.byteLength(text.slice(0, end + 1));
      } finally {
        await handle.close();
      }
    } finally {
      this.busy = false;
    }
  }
}
