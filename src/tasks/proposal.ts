import * as z from 'zod';
import { OrchestraError } from '../common/errors.js';
import { printable } from '../common/printable.js';
import { MAX_PARALLEL_ATTEMPTS, type NewTask, parseTaskFile, renderTaskFile } from './task-file.js';

/**
 * A task the autonomy planner proposes (issue 11) through its `propose_task` tool: the shape the
 * tool's input must have, and how it becomes a task file. Pure. The agent validates a call with
 * {@link proposalSchema} and {@link renderProposal} before it records it; the server validates
 * again what it reads back, because the events file a proposal travels in is the worker's.
 */

/** Longest title, characters: a heading, not a paragraph. */
export const PROPOSAL_TITLE_MAX_CHARS = 200;
/** Longest Goal, Before or After, characters: a page each keeps the file far under its 256 KiB cap. */
export const PROPOSAL_TEXT_MAX_CHARS = 16_000;
/** Most entries of each list (criteria, files, test commands). */
export const PROPOSAL_LIST_MAX_ITEMS = 50;
/** Longest list entry, characters. */
export const PROPOSAL_ITEM_MAX_CHARS = 1_000;

/** The `type` of the events.jsonl line that records a proposal. */
export const PROPOSAL_EVENT_TYPE = 'proposal';

const text = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .max(max, `${what} is over ${max} characters`)
    .regex(/\S/, `${what} is empty`);

const oneLine = (what: string, max: number) =>
  text(what, max).regex(/^[^\r\n]*$/, `${what} spans several lines`);

const list = (what: string, min: number) =>
  z
    .array(oneLine(`each ${what} entry`, PROPOSAL_ITEM_MAX_CHARS), {
      error: `${what} must be a list of strings`,
    })
    .min(min, `${what} needs at least ${min} entry`)
    .max(PROPOSAL_LIST_MAX_ITEMS, `${what} has more than ${PROPOSAL_LIST_MAX_ITEMS} entries`);

/**
 * A proposal: `{ title, goal, before, after, acceptance_criteria[], files_to_touch[], test_plan[],
 * strategy?, n? }`. Every text non-empty, the title and list entries one line each; at least one
 * acceptance criterion and one test command (the test plan is where the task's check commands come
 * from); `n` only with `strategy: best-of-n`. Unknown keys are refused.
 */
export const proposalSchema = z
  .strictObject({
    title: oneLine('title', PROPOSAL_TITLE_MAX_CHARS),
    goal: text('goal', PROPOSAL_TEXT_MAX_CHARS),
    before: text('before', PROPOSAL_TEXT_MAX_CHARS),
    after: text('after', PROPOSAL_TEXT_MAX_CHARS),
    acceptance_criteria: list('acceptance_criteria', 1),
    files_to_touch: list('files_to_touch', 0),
    test_plan: list('test_plan', 1),
    strategy: z
      .enum(['single', 'best-of-n'], { error: 'strategy must be "single" or "best-of-n"' })
      .optional(),
    n: z
      .int({ error: `n must be an integer from 2 to ${MAX_PARALLEL_ATTEMPTS}` })
      .min(2, `n must be an integer from 2 to ${MAX_PARALLEL_ATTEMPTS}`)
      .max(MAX_PARALLEL_ATTEMPTS, `n must be an integer from 2 to ${MAX_PARALLEL_ATTEMPTS}`)
      .optional(),
  })
  .refine((p) => p.n === undefined || p.strategy === 'best-of-n', {
    message: 'n is only for strategy "best-of-n"',
    path: ['n'],
  });

/** A validated proposal. */
export type Proposal = z.infer<typeof proposalSchema>;

/** Where a proposal belongs: its autonomy cycle and its number within it, both 1 or more. */
export interface ProposalPlace {
  cycle: number;
  index: number;
}

/**
 * The events.jsonl line that records a proposal:
 * `{ ts, type: "proposal", index, toolUseId, proposal }`, `index` 1 or more.
 */
export const proposalEventSchema = z.looseObject({
  type: z.literal(PROPOSAL_EVENT_TYPE),
  index: z.int().min(1),
  toolUseId: z.string().optional(),
  proposal: proposalSchema,
});

/**
 * Validates a proposal.
 *
 * @returns the proposal, or one line saying what is wrong (`test_plan: test_plan needs at least 1 entry`)
 */
export function checkProposalShape(input: unknown): { proposal: Proposal } | { problem: string } {
  const parsed = proposalSchema.safeParse(input);
  if (parsed.success) return { proposal: parsed.data };
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    return {
      problem: `unknown field "${issue.keys[0]}" (fields: ${Object.keys(proposalSchema.shape).join(', ')})`,
    };
  }
  const where = issue.path.map(String).join('.');
  if (where === '') return { problem: 'the input must be an object of the fields of propose_task' };
  const key = String(issue.path[0]);
  if (issue.path.length === 1 && !Object.hasOwn(input as object, key))
    return { problem: `${key} is missing` };
  return { problem: `${where}: ${issue.message}` };
}

/** The task a proposal describes, as `renderTaskFile` takes it; `place` adds the autonomy front matter. */
export function proposalTask(proposal: Proposal, place?: ProposalPlace): NewTask {
  const task: NewTask = {
    title: proposal.title,
    goal: proposal.goal,
    before: proposal.before,
    after: proposal.after,
    accept: proposal.acceptance_criteria,
    files: proposal.files_to_touch,
    testPlan: proposal.test_plan,
  };
  if (proposal.strategy !== undefined) task.strategy = proposal.strategy;
  if (proposal.n !== undefined) task.n = proposal.n;
  if (place !== undefined) {
    task.origin = 'autonomy';
    task.cycle = place.cycle;
    task.proposal = place.index;
  }
  return task;
}

/**
 * Renders a proposal as task markdown: front matter `origin: autonomy`, `cycle`, `proposal` (and
 * `strategy`, `n` when given), `# title` (`# task-NN: title` with `id`), then Goal, Before, After,
 * Acceptance criteria, Files to touch and a numbered Test plan with each command in backticks.
 *
 * The text is untrusted (a model wrote it). Terminal escape sequences and control characters are
 * removed (people read these files in a terminal), and nothing in it may become structure: a title or list
 * entry with a line break, a `## ` heading or an unclosed code fence in Goal, Before or After is
 * refused, not escaped. The result is parsed back, and unless its test commands, files and title
 * are exactly the proposal's, it is refused too: the test plan is the only place a check command
 * can come from.
 *
 * @throws OrchestraError TASK_INVALID with the reason (the proposal is rejected)
 */
export function renderProposal(given: Proposal, place: ProposalPlace, id?: string): string {
  const proposal = printableProposal(given);
  const rendered = renderTaskFile(proposalTask(proposal, place), id);
  const back = parseTaskFile(rendered, { id: id ?? 'task-0' });
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((value, i) => value === b[i]!.trim());
  if (!same(back.testPlan, proposal.test_plan) || back.testPlanText.length > 0) {
    throw refused(
      'its test plan does not read back as the commands given',
      'write each command as plain text, without backticks around it; orchestra adds them',
    );
  }
  if (!same(back.files, proposal.files_to_touch)) {
    throw refused(
      'its files do not read back as given',
      'write each path as plain text, relative to the repository',
    );
  }
  if (back.title !== proposal.title.trim().replace(/^task-\d+\s*:\s*/i, '')) {
    throw refused('its title does not read back as given', 'give the title as plain text on one line');
  }
  return rendered;
}

/**
 * The proposal without escape sequences or control characters (see `printable`). Line breaks are
 * kept everywhere, so one in a one-line field is refused by the renderer rather than joined.
 */
function printableProposal(p: Proposal): Proposal {
  const clean = (text: string) => printable(text, { multiline: true });
  return {
    ...p,
    title: clean(p.title),
    goal: clean(p.goal),
    before: clean(p.before),
    after: clean(p.after),
    acceptance_criteria: p.acceptance_criteria.map(clean),
    files_to_touch: p.files_to_touch.map(clean),
    test_plan: p.test_plan.map(clean),
  };
}

function refused(reason: string, hint: string): OrchestraError {
  return new OrchestraError('TASK_INVALID', `cannot write the proposal: ${reason}`, { hint });
}
