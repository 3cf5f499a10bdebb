import { join } from 'node:path';
import type { ToolUseBlockParam } from '@anthropic-ai/sdk/resources/messages';
import { errorMessage } from '../../common/errors.js';
import { readJsonLines } from '../../common/json-lines.js';
import {
  checkProposalShape,
  PROPOSAL_EVENT_TYPE,
  type Proposal,
  renderProposal,
} from '../../tasks/proposal.js';
import { validateTaskPaths } from '../../tasks/task-paths.js';
import { EVENTS_FILE } from './agent-events.js';

/**
 * The agent's side of `propose_task` (issue 11): validates a call, numbers it and appends it to
 * the events file as `{ ts, type: "proposal", index, toolUseId, proposal }`, where the server
 * reads it (autonomy/proposals.ts). Numbers start after the highest one the events file already
 * holds, so a resumed agent never gives one twice.
 */

/** Most of the events file read at start for earlier proposals, bytes (as the cost reader caps it). */
const MAX_EVENTS_BYTES = 256 * 1024 * 1024;

/** What one call produced: the text the model gets, and whether it is an error. */
export interface ProposalAnswer {
  text: string;
  isError: boolean;
  /** One line for the transcript. */
  summary: string;
}

/** Appends one proposal line; the agent's event log (AgentEventLog.proposal). */
export type ProposalSink = (index: number, toolUseId: string, proposal: Proposal) => void;

/** Records the proposals of one planner run. */
export class ProposalRecorder {
  private next: number;

  private constructor(
    private readonly o: { max: number; root: string; sink: ProposalSink },
    /** tool_use id → index, of the proposals recorded before this process started. */
    private readonly earlier: Map<string, number>,
    highest: number,
  ) {
    this.next = highest + 1;
  }

  /**
   * Reads the proposals already in `<runDir>/events.jsonl` (a resumed agent) and continues after
   * the highest index there. Lines that are not proposal events are ignored.
   *
   * @param options.max most proposals of the run, 1 or more
   * @param options.root the worktree: Files to touch must stay inside it
   * @throws the read error of the events file, except a missing file
   */
  static async open(options: {
    runDir: string;
    max: number;
    root: string;
    sink: ProposalSink;
  }): Promise<ProposalRecorder> {
    const earlier = new Map<string, number>();
    let highest = 0;
    for (const value of await readJsonLines(join(options.runDir, EVENTS_FILE), MAX_EVENTS_BYTES)) {
      const event = value as { type?: unknown; index?: unknown; toolUseId?: unknown } | null;
      if (event?.type !== PROPOSAL_EVENT_TYPE || !Number.isSafeInteger(event.index)) continue;
      const index = event.index as number;
      highest = Math.max(highest, index);
      if (typeof event.toolUseId === 'string' && !earlier.has(event.toolUseId)) {
        earlier.set(event.toolUseId, index);
      }
    }
    return new ProposalRecorder(options, earlier, highest);
  }

  /** Validates and records one propose_task call. Never throws. */
  record(call: ToolUseBlockParam): ProposalAnswer {
    const { max } = this.o;
    if (this.next > max) {
      return {
        text: `Error: not recorded: ${max} ${max === 1 ? 'proposal is' : 'proposals are'} the limit of this run, and ${max} ${max === 1 ? 'is' : 'are'} recorded. End your turn.`,
        isError: true,
        summary: `over the limit of ${max}`,
      };
    }
    const checked = checkProposalShape(call.input);
    if ('problem' in checked) return refusal(checked.problem);
    const index = this.next;
    try {
      renderProposal(checked.proposal, { cycle: 1, index });
      validateTaskPaths({ id: `proposal ${index}`, files: checked.proposal.files_to_touch }, this.o.root);
    } catch (error) {
      return refusal(errorMessage(error));
    }
    this.o.sink(index, call.id, checked.proposal);
    this.next += 1;
    return { text: recorded(index, max), isError: false, summary: `proposal ${index} of ${max} recorded` };
  }

  /**
   * The answer to a call that was recorded before a restart interrupted it (its line is in the
   * events file, its result not in the checkpoint), so the model is not told to propose it again.
   *
   * @returns undefined when this call was not recorded
   */
  recovered(call: ToolUseBlockParam): ProposalAnswer | undefined {
    const index = this.earlier.get(call.id);
    if (index === undefined) return undefined;
    return {
      text: recorded(index, this.o.max),
      isError: false,
      summary: `proposal ${index} of ${this.o.max} recorded`,
    };
  }
}

function recorded(index: number, max: number): string {
  const left = max - index;
  const next =
    left > 0 ? `You may propose ${left} more, or end your turn.` : 'That is the limit: end your turn.';
  return `Proposal ${index} of ${max} recorded. ${next}`;
}

function refusal(problem: string): ProposalAnswer {
  return {
    text: `Error: proposal not recorded: ${problem}. Fix it and call propose_task again.`,
    isError: true,
    summary: `refused: ${problem}`,
  };
}
