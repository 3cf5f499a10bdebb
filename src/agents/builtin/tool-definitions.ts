import type { ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import type { AgentTool } from '../../config/schema.js';

/**
 * The tools the built-in agent offers the model: Anthropic's standard client tools by their
 * standard types and names (the model knows their input schemas), plus orchestra's own
 * `task_complete`.
 */

/** Tool names as the model calls them. */
export const BASH_TOOL_NAME = 'bash';
export const EDITOR_TOOL_NAME = 'str_replace_based_edit_tool';
export const TASK_COMPLETE_TOOL_NAME = 'task_complete';

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

/**
 * The tool definitions for a profile's `tools`, in a fixed order (bash, editor, task_complete) so
 * the request prefix, and with it the prompt cache, stays the same from turn to turn.
 */
export function toolDefinitions(tools: readonly AgentTool[]): ToolUnion[] {
  const out: ToolUnion[] = [];
  if (tools.includes('bash')) out.push(BASH_TOOL);
  if (tools.includes('editor')) out.push(EDITOR_TOOL);
  if (tools.includes('task_complete')) out.push(TASK_COMPLETE_TOOL);
  return out;
}
