import type { ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import type { AgentTool } from '../../config/schema.js';
import { MAX_PARALLEL_ATTEMPTS } from '../../tasks/task-file.js';

/**
 * The tools the built-in agent offers the model: Anthropic's standard client tools by their
 * standard types and names (the model knows their input schemas), plus orchestra's own
 * `task_complete` and, for the autonomy planner, `propose_task`.
 */

/** Tool names as the model calls them. */
export const BASH_TOOL_NAME = 'bash';
export const EDITOR_TOOL_NAME = 'str_replace_based_edit_tool';
export const TASK_COMPLETE_TOOL_NAME = 'task_complete';
export const PROPOSE_TASK_TOOL_NAME = 'propose_task';

/** Anthropic's bash tool (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/bash-tool). */
const BASH_TOOL: ToolUnion = { type: 'bash_20250124', name: BASH_TOOL_NAME };

/** Anthropic's text editor tool for Claude 4 models (no undo_edit). */
const EDITOR_TOOL: ToolUnion = { type: 'text_editor_20250728', name: EDITOR_TOOL_NAME };

const TASK_COMPLETE_TOOL: ToolUnion = {
  name: TASK_COMPLETE_TOOL_NAME,
  description:
    'Call this once the task is finished: the change is made and the checks pass (or, for a read-only task, the plan or review is written). It ends your work on the task; nothing runs after it. Put what you did, and anything the reviewer should know, in the summary.',
  input_schema: {
    type: 'object',
    properties: {
      summary: {
        type: 'string',
        description: 'What was done: the change, the files touched, the checks run and their result.',
      },
    },
    required: ['summary'],
  },
};

const stringList = (description: string) => ({
  type: 'array',
  items: { type: 'string' },
  description,
});

/** The planner's tool (issue 11); its input is validated by `proposalSchema` (tasks/proposal.ts). */
const PROPOSE_TASK_TOOL: ToolUnion = {
  name: PROPOSE_TASK_TOOL_NAME,
  description:
    'Propose one task for the queue. Each call records one proposal, numbered in order, up to the limit the instructions give; a refused call says what to fix. Every proposal becomes a task file that a coding agent works on alone, so make it self-contained and small enough for one attempt. End your turn when you have proposed what you mean to.',
  input_schema: {
    type: 'object',
    properties: {
      title: { type: 'string', description: 'One line: what the task achieves.' },
      goal: { type: 'string', description: 'What the coding agent must achieve, and why.' },
      before: { type: 'string', description: 'How the code behaves now.' },
      after: { type: 'string', description: 'How it behaves when the task is done.' },
      acceptance_criteria: stringList('Checkable statements, one line each; at least one.'),
      files_to_touch: stringList('Paths relative to the repository root that the change will likely touch.'),
      test_plan: stringList(
        'Shell commands that must pass when the task is done, one per entry, without backticks; at least one. These are the checks the task is judged by.',
      ),
      strategy: {
        type: 'string',
        enum: ['single', 'best-of-n'],
        description: 'single (default): one attempt; best-of-n: n attempts in parallel, the best kept.',
      },
      n: {
        type: 'integer',
        minimum: 2,
        maximum: MAX_PARALLEL_ATTEMPTS,
        description: 'Attempts for best-of-n.',
      },
    },
    required: ['title', 'goal', 'before', 'after', 'acceptance_criteria', 'files_to_touch', 'test_plan'],
    additionalProperties: false,
  },
};

/**
 * The tool definitions for a profile's `tools`, in a fixed order (bash, editor, task_complete,
 * propose_task) so the request prefix, and with it the prompt cache, stays the same from turn to
 * turn. `options.proposals` adds propose_task (agent.json's `proposals`).
 */
export function toolDefinitions(
  tools: readonly AgentTool[],
  options: { proposals?: boolean } = {},
): ToolUnion[] {
  const out: ToolUnion[] = [];
  if (tools.includes('bash')) out.push(BASH_TOOL);
  if (tools.includes('editor')) out.push(EDITOR_TOOL);
  if (tools.includes('task_complete')) out.push(TASK_COMPLETE_TOOL);
  if (options.proposals) out.push(PROPOSE_TASK_TOOL);
  return out;
}
