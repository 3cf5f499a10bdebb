import { readNoFollow, regularFileSize } from '../common/no-follow.js';
import type { Disposable } from '../panes/pane-process.js';

/** Most read from events.jsonl in one poll, bytes; the rest comes with the next polls. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

/** Longest events.jsonl line kept while it is being written, characters; no real event comes near. */
const MAX_LINE_CHARS = 1024 * 1024;

/** How often an attempt's events.jsonl is checked for new lines, ms. */
export const EVENTS_POLL_MS = 250;

/** One line of `events.jsonl` (DESIGN.md, "Agent status protocol"); unknown fields are kept. */
export interface AgentEvent {
  ts?: string | number;
  type: string;
  state?: string;
  summary?: string;
  model?: string;
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  [key: string]: unknown;
}

/**
 * Follows a growing JSONL file (an attempt's `events.jsonl`), calling `onEvent` for each complete
 * line, from the start of the file. A torn last line is held until its newline arrives; a line
 * that is not JSON is skipped. Polling rather than fs.watch: the file may live on a bind mount
 * written from inside a container, where inotify events do not always arrive.
 */
export function tailEvents(
  path: string,
  onEvent: (event: AgentEvent) => void,
  pollMs = EVENTS_POLL_MS,
): Disposable {
  let offset = 0;
  let partial = '';
  let busy = false;
  let disposed = false;
  const poll = async () => {
    if (busy || disposed) return;
    busy = true;
    try {
      // The run directory is the worker's: a symlink or FIFO planted as events.jsonl is not read.
      const size = await regularFileSize(path);
      if (size === undefined || size <= offset) {
        if (size !== undefined && size < offset) {
          // Truncated or replaced: start over.
          offset = 0;
          partial = '';
        }
        return;
      }
      const chunk = await readNoFollow(path, MAX_READ_BYTES, offset).catch(() => Buffer.alloc(0));
      offset += chunk.length;
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      // A line that never ends (a runaway or hostile writer) is dropped, not kept growing.
      if (partial.length > MAX_LINE_CHARS) partial = '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          const event = JSON.parse(line) as AgentEvent;
          if (event && typeof event.type === 'string' && !disposed) onEvent(event);
        } catch {
          // A line that is not JSON (a hook that misfired) says nothing about the agent's state.
        }
      }
    } finally {
      busy = false;
    }
  };
  // A read that fails (the file replaced mid-read) is tried again at the next poll.
  const tick = () => void poll().catch(() => {});
  const timer = setInterval(tick, pollMs);
  tick();
  return {
    dispose: () => {
      disposed = true;
      clearInterval(timer);
    },
  };
}
