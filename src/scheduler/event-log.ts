import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttemptState } from '../store/schema.js';

/**
 * The scheduler's lines in an attempt's `<run-dir>/events.jsonl` (DESIGN.md, "Attempt
 * lifecycle"): `{"ts", "type":"attempt", "state", "reason"?}`, one per transition, after the
 * store has it. A server killed between the two leaves the store ahead of the log; the
 * next server catches the log up from the store.
 */

/** Appends the transition to `state` (with `reason` when it failed). */
export async function appendTransition(runDir: string, state: AttemptState, reason?: string): Promise<void> {
  await appendFile(
    join(runDir, 'events.jsonl'),
    `${JSON.stringify({ ts: new Date().toISOString(), type: 'attempt', state, ...(reason ? { reason } : {}) })}\n`,
  );
}

/** The state of the last transition the log records, if any. */
export async function lastTransition(runDir: string): Promise<string | undefined> {
  const text = await readFile(join(runDir, 'events.jsonl'), 'utf8').catch(() => '');
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
