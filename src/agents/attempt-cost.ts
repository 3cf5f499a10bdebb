import { join } from 'node:path';
import { readJsonLines } from '../common/json-lines.js';
import { type CostSummary, isUsageEvent, summarizeCost, type UsageEvent } from './cost.js';

/**
 * An attempt's cost read from its run directory: the file-reading half of cost.ts, kept apart so
 * the arithmetic stays pure.
 */

/** Most of an events.jsonl that is read for costs, bytes. */
const MAX_USAGE_EVENTS_BYTES = 256 * 1024 * 1024;

/**
 * Reads the usage events of an `events.jsonl`. A line that is not JSON (a torn last line while the
 * agent is still writing, or a hook that misfired) and a malformed usage event are skipped.
 *
 * @returns [] when the file does not exist yet
 * @throws the read error for anything but a missing file (for example EACCES)
 */
export async function readUsageEvents(eventsJsonlPath: string): Promise<UsageEvent[]> {
  // The run directory is the worker's: a planted link or FIFO is refused, a runaway file capped.
  return (await readJsonLines(eventsJsonlPath, MAX_USAGE_EVENTS_BYTES)).filter(isUsageEvent);
}

/**
 * The cost of one attempt from its run directory's `events.jsonl`.
 *
 * @param options.reportsUsage whether the attempt's agent writes usage events (see {@link summarizeCost})
 */
export async function attemptCost(
  runDir: string,
  options: { reportsUsage?: boolean } = {},
): Promise<CostSummary> {
  return summarizeCost(await readUsageEvents(join(runDir, 'events.jsonl')), options);
}
