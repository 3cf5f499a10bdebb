import { join } from 'node:path';
import { AGENT_STATUS_STATES } from '../agents/adapters/status-command.js';
import { type CostSummary, combineCosts, formatCost, formatUsd, summarizeCost } from '../agents/cost.js';
import type { Pane } from '../panes/pane.js';
import type { Disposable } from '../panes/pane-process.js';
import type { Notice } from '../protocol/messages.js';
import { type AgentEvent, tailEvents } from './events-tail.js';
import { noticeFor } from './notifications.js';

/** The agent states a pane title may show (DESIGN.md, "Agent status protocol"). */
const AGENT_STATES: ReadonlySet<string> = new Set(AGENT_STATUS_STATES);

/**
 * What the agents in a session's panes report (DESIGN.md, "Agent status protocol"): each pane's
 * state and spend, read from its attempt's `events.jsonl`.
 */
export class AgentStatus {
  /** Spend per pane id, from its agent's usage events; kept after the pane closes so the session total stays whole. */
  private readonly paneCosts = new Map<number, CostSummary>();

  /**
   * @param onCost called when a pane's spend changed (the session's total is to be redone)
   * @param onChange called when a pane's title changed (state or spend)
   * @param onState called when a pane's agent changed state, with the notice a person would get
   *   for it (undefined for a state nobody is told about); notifications.ts `NoticeGate` paces them
   */
  constructor(
    private readonly onCost: () => void,
    private readonly onChange: () => void,
    private readonly onState: (paneId: number, notice: Notice | undefined) => void = () => {},
  ) {}

  /**
   * Follows an agent's `events.jsonl`: status events set the pane's state, usage events its cost;
   * both show in the pane's title, and the session's total cost in the status bar.
   *
   * @returns what stops following (when the pane goes)
   */
  follow(pane: Pane, runDir: string): Disposable {
    const usage: AgentEvent[] = [];
    return tailEvents(join(runDir, 'events.jsonl'), (event) => {
      // The agent writes this file: only the states the protocol knows reach a title, never its bytes.
      if (event.type === 'status' && typeof event.state === 'string') {
        if (!AGENT_STATES.has(event.state)) return;
        const changed = pane.state !== event.state;
        pane.state = event.state;
        // A rate-limited agent says until when (`until <ISO time>`); only a real time is kept.
        const until =
          event.state === 'rate-limited' && typeof event.summary === 'string'
            ? /^until (\S+)$/.exec(event.summary)?.[1]
            : undefined;
        pane.until =
          until && !Number.isNaN(Date.parse(until)) ? new Date(Date.parse(until)).toISOString() : undefined;
        // Offered once per change: a second `waiting` in a row (another hook firing) is no news;
        // a state nobody is told about (working) is offered too, so that it withdraws one.
        if (changed) {
          const who = { id: pane.id, name: pane.spec.name, attemptId: pane.spec.attemptId };
          this.onState(pane.id, noticeFor(who, event.state, event.summary));
        }
      } else if (event.type === 'usage') {
        usage.push(event);
        this.paneCosts.set(pane.id, summarizeCost(usage));
        pane.detail = formatUsd(this.paneCosts.get(pane.id)?.usd);
        this.onCost();
      } else return;
      this.onChange();
    });
  }

  /**
   * The latest time any of `panes`' agents is rate-limited until, ms since the epoch, or undefined
   * when none is now: while the account is limited, no new attempt starts (issue 13).
   */
  static limitedUntil(
    panes: Iterable<{ state: string | undefined; until: string | undefined }>,
    now = Date.now(),
  ): number | undefined {
    let latest: number | undefined;
    for (const pane of panes) {
      if (pane.state !== 'rate-limited' || !pane.until) continue;
      const at = Date.parse(pane.until);
      if (at > now) latest = Math.max(latest ?? at, at);
    }
    return latest;
  }

  /** The spend pane `paneId`'s agent has reported, if any. */
  costOf(paneId: number): CostSummary | undefined {
    return this.paneCosts.get(paneId);
  }

  /** The panes' spend together, for the status bar; undefined when no pane reported any. */
  sessionCost(): string | undefined {
    if (this.paneCosts.size === 0) return undefined;
    return formatCost(combineCosts(this.paneCosts.values()));
  }
}
