import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROPOSAL_EVENT_TYPE, type Proposal } from '../../tasks/proposal.js';
import type { AgentState, UsageTotals } from './checkpoint.js';

/**
 * The agent's side of the status protocol (DESIGN.md, "Agent status protocol"): JSON lines
 * appended to `<run-dir>/events.jsonl`, which the server tails.
 */

/** The events file's name inside the run directory. */
export const EVENTS_FILE = 'events.jsonl';

/** Longest status summary, characters: a pane's status line, not a report. */
const MAX_SUMMARY_CHARS = 500;

/** Appends status, usage and proposal events; repeated identical statuses are written once. */
export class AgentEventLog {
  readonly path: string;
  private last: string | undefined;

  /**
   * @param runDir the attempt's run directory (must exist)
   * @param redact applied to every line, so no secret reaches the file
   */
  constructor(
    runDir: string,
    private readonly redact: (line: string) => string,
  ) {
    this.path = join(runDir, EVENTS_FILE);
  }

  /** `{"ts", "type":"status", "state", "summary"}`. */
  status(state: AgentState, summary: string): void {
    const cut = summary.length > MAX_SUMMARY_CHARS ? `${summary.slice(0, MAX_SUMMARY_CHARS - 1)}…` : summary;
    const key = `${state}\n${cut}`;
    if (key === this.last) return;
    this.last = key;
    this.append({ ts: new Date().toISOString(), type: 'status', state, summary: cut });
  }

  /** One per API response: the model that answered and the response's token counts. */
  usage(model: string, usage: UsageTotals): void {
    this.append({
      ts: new Date().toISOString(),
      type: 'usage',
      model,
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
    });
  }

  /** A planner's proposal (issue 11): `{"ts", "type":"proposal", "index", "toolUseId", "proposal"}`. */
  proposal(index: number, toolUseId: string, proposal: Proposal): void {
    this.append({ ts: new Date().toISOString(), type: PROPOSAL_EVENT_TYPE, index, toolUseId, proposal });
  }

  private append(event: Record<string, unknown>): void {
    // Synchronous, so the line is on disk before the agent moves on (or is killed).
    appendFileSync(this.path, `${this.redact(JSON.stringify(event))}\n`);
  }
}
