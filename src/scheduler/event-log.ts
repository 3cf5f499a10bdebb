import { join } from 'node:path';
import { appendNoFollow, readNoFollow } from '../common/no-follow.js';
import type { AttemptState } from '../store/schema.js';

/**
 * The scheduler's lines in an attempt's `<run-dir>/events.jsonl` (DESIGN.md, "Attempt
 * lifecycle"): `{"ts", "type":"attempt", "state", "reason"?}`, one per transition, after the
 * store has it. A server killed between the two leaves the store ahead of the log; the
 * next server catches the log up from the store.
 */

/** Most of an events.jsonl read at once, bytes: far more than any agent writes in a day. */
export const MAX_EVENTS_BYTES = 256 * 1024 * 1024;

/** Appends the transition to `state` (with `reason` when it failed). */
export async function appendTransition(runDir: string, state: AttemptState, reason?: string): Promise<void> {
  // The run directory is the worker's too: never write through a link it planted.
  await appendNoFollow(
    join(runDir, 'events.jsonl'),
    `${JSON.stringify({ ts: new Date().toISOString(), type: 'attempt', state, ...(reason ? { reason } : {}) })}\n`,
  );
}

/** The state of the last transition the log records, if any. */
export async function lastTransition(runDir: string): Promise<string | undefined> {
  const text = (
    await readNoFollow(join(runDir, 'events.jsonl'), MAX_EVENTS_BYTES).catch(() => Buffer.alloc(0))
  ).toString('utf8');
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.includes('"attempt"')) continue;
    try {
      const event = JSON.parse(line) as { type?: unknown; state?: unknown };
      if (event.type === 'attempt' && typeof event.state === 'string') last = event.state;
    } catch {
      // A torn line says nothing.
    }
  }
  return last;
}
