import type { ToolResultBlockParam, ToolUseBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { AgentTool } from '../../config/schema.js';
import type { BashResult, BashSession } from './bash-session.js';
import { bashIsReadOnly, type EditPolicy } from './edit-policy.js';
import { countLines, firstLine, formatDelay } from './format.js';
import type { ProposalAnswer, ProposalRecorder } from './proposal-tool.js';
import { readOnlyViolation } from './read-only-bash.js';
import { type EditorResult, runEditorCommand } from './text-editor.js';
import {
  BASH_TOOL_NAME,
  EDITOR_TOOL_NAME,
  PROPOSE_TASK_TOOL_NAME,
  TASK_COMPLETE_TOOL_NAME,
} from './tool-definitions.js';

/**
 * Executes the model's tool calls: bash, the text editor, task_complete and propose_task. Every failure becomes
 * an `is_error` tool result the model can react to; nothing here throws for a bad call.
 */

/** What one tool call produced. */
export interface ToolOutcome {
  /** The tool_result block for the next user message. */
  result: ToolResultBlockParam;
  /** True when it went as asked: shown as ✓ (a command's non-zero exit is ✗, though not an is_error). */
  ok: boolean;
  /** One short line for the transcript (`exit 0 · 12 lines`). */
  summary: string;
  /** A few lines of output worth showing under a failure. */
  detail: string[];
  /** Set when the call was task_complete with a valid summary. */
  completed?: string;
}

/** Options of a {@link ToolBox}. */
export interface ToolBoxOptions {
  /** The worktree. */
  root: string;
  /** What the profile may change (the editor's rules; any restriction makes bash read-only). */
  policy: EditPolicy;
  /** The tools the profile offers; a call to another one is refused. */
  tools: readonly AgentTool[];
  bash: BashSession;
  /** Bash timeout, ms, for the message when it is hit. */
  bashTimeoutMs: number;
  /** Cuts secrets out of tool output before it joins the conversation. */
  redact: (text: string) => string;
  /** The planner's proposals (agent.json `proposals`); without it propose_task is no tool here. */
  proposals?: ProposalRecorder;
}

/** Lines of a failing command's output shown in the transcript. */
const DETAIL_LINES = 3;

/** Runs tool calls for the agent loop. */
export class ToolBox {
  constructor(private readonly options: ToolBoxOptions) {}

  /** `bash: npm test`, `str_replace: src/a.ts`: the transcript's line for a call. */
  describe(call: ToolUseBlockParam): string {
    const input = asRecord(call.input);
    if (call.name === BASH_TOOL_NAME) {
      if (input.restart === true) return 'bash: (restart the session)';
      return `bash: ${typeof input.command === 'string' ? firstLine(input.command) : '(no command)'}`;
    }
    if (call.name === EDITOR_TOOL_NAME) {
      const command = typeof input.command === 'string' ? input.command : 'edit';
      const path = typeof input.path === 'string' ? input.path : '(no path)';
      const range = Array.isArray(input.view_range) ? ` [${input.view_range.join(', ')}]` : '';
      const after =
        command === 'insert' && typeof input.insert_line === 'number'
          ? ` after line ${input.insert_line}`
          : '';
      return `${command}: ${path}${range}${after}`;
    }
    if (call.name === TASK_COMPLETE_TOOL_NAME) {
      return `task_complete: ${typeof input.summary === 'string' ? firstLine(input.summary) : '(no summary)'}`;
    }
    if (call.name === PROPOSE_TASK_TOOL_NAME) {
      return `propose_task: ${typeof input.title === 'string' ? firstLine(input.title) : '(no title)'}`;
    }
    return call.name;
  }

  /**
   * Runs one call.
   *
   * @param signal aborting it kills a running bash command (Ctrl-C)
   */
  async run(call: ToolUseBlockParam, signal: AbortSignal): Promise<ToolOutcome> {
    const offered = (tool: AgentTool) => this.options.tools.includes(tool);
    try {
      if (call.name === BASH_TOOL_NAME && offered('bash')) return await this.bash(call, signal);
      if (call.name === EDITOR_TOOL_NAME && offered('editor')) {
        const outcome = await runEditorCommand(this.options.root, call.input, this.options.policy);
        return this.editorOutcome(call, outcome);
      }
      if (call.name === TASK_COMPLETE_TOOL_NAME && offered('task_complete')) {
        const summary = asRecord(call.input).summary;
        if (typeof summary !== 'string' || summary.trim() === '') {
          return this.outcome(
            call,
            'Error: task_complete needs a non-empty "summary" string.',
            true,
            'no summary',
          );
        }
        return {
          ...this.outcome(call, 'Task marked complete.', false, 'task complete'),
          completed: summary.trim(),
        };
      }
      if (call.name === PROPOSE_TASK_TOOL_NAME && this.options.proposals) {
        return this.answer(call, this.options.proposals.record(call));
      }
      return this.outcome(call, `Error: there is no tool named "${call.name}" here.`, true, 'unknown tool');
    } catch (error) {
      // A tool that throws (bash cannot start, a disk error) is the model's problem to route around,
      // not a reason to end the agent.
      const message = error instanceof Error ? error.message : String(error);
      return this.outcome(call, `Error: ${message}`, true, message);
    }
  }

  /**
   * The result of a call that a restart interrupted, when the call is known to have finished
   * (a proposal whose line reached the events file); undefined when it may have partly run.
   */
  recovered(call: ToolUseBlockParam): ToolOutcome | undefined {
    if (call.name !== PROPOSE_TASK_TOOL_NAME) return undefined;
    const answer = this.options.proposals?.recovered(call);
    return answer === undefined ? undefined : this.answer(call, answer);
  }

  private answer(call: ToolUseBlockParam, answer: ProposalAnswer): ToolOutcome {
    return this.outcome(call, answer.text, answer.isError, answer.summary);
  }

  /** An `is_error` result for a call that was not run, with `reason` as its text. */
  notRun(call: ToolUseBlockParam, reason: string): ToolOutcome {
    return this.outcome(call, `Error: ${reason}`, true, reason);
  }

  private async bash(call: ToolUseBlockParam, signal: AbortSignal): Promise<ToolOutcome> {
    const input = asRecord(call.input);
    if (input.restart === true) {
      this.options.bash.restart();
      return this.outcome(call, 'The bash session was restarted.', false, 'restarted');
    }
    const command = input.command;
    if (typeof command !== 'string' || command.trim() === '') {
      return this.outcome(call, 'Error: "command" is required unless "restart" is true.', true, 'no command');
    }
    const { policy } = this.options;
    if (bashIsReadOnly(policy)) {
      const violation = readOnlyViolation(command);
      if (violation !== undefined) {
        const why =
          policy.editable === undefined
            ? ''
            : ` (bash only reads here: this profile changes files with the editor, and only ${policy.editable.join(', ')})`;
        return this.outcome(call, `Error: ${violation}${why}`, true, 'refused (read-only)');
      }
    }
    const result = await this.options.bash.run(command, signal);
    return this.bashOutcome(call, result);
  }

  private bashOutcome(call: ToolUseBlockParam, result: BashResult): ToolOutcome {
    const output = result.output.replace(/\n$/, '');
    const lines = countLines(output);
    const cut = result.truncated ? ' · output cut' : '';
    const shown = output === '' ? '(no output)' : output;
    const restarted = 'the bash session was restarted, so its working directory and variables are reset';
    switch (result.outcome) {
      case 'exited': {
        const code = result.exitCode ?? 0;
        const text = code === 0 ? shown : `${shown}\n\n[exit code ${code}]`;
        return this.outcome(
          call,
          text,
          false,
          `exit ${code} · ${lines} lines${cut}`,
          code === 0 ? [] : tail(output),
          code === 0,
        );
      }
      case 'timeout':
        return this.outcome(
          call,
          `${shown}\n\n[the command timed out after ${formatDelay(this.options.bashTimeoutMs)} and was killed; ${restarted}]`,
          true,
          `timed out after ${formatDelay(this.options.bashTimeoutMs)}`,
          tail(output),
        );
      case 'interrupted':
        return this.outcome(
          call,
          `${shown}\n\n[interrupted by the human operator (Ctrl-C): the command was killed; ${restarted}]`,
          true,
          'interrupted by the human',
        );
      case 'session-exited':
        return this.outcome(
          call,
          `${shown}\n\n[the bash session exited with code ${result.exitCode ?? 'unknown'}; the next command starts a new session]`,
          true,
          `session exited (${result.exitCode ?? '?'})`,
          tail(output),
        );
    }
  }

  /** The editor's result; an image goes after the text, as an image block of the tool_result. */
  private editorOutcome(call: ToolUseBlockParam, outcome: EditorResult): ToolOutcome {
    const done = this.outcome(call, outcome.content, outcome.isError, outcome.summary);
    if (outcome.image === undefined) return done;
    const text = this.options.redact(outcome.content);
    const { mediaType, base64 } = outcome.image;
    done.result.content = [
      { type: 'text', text },
      { type: 'image', source: { type: 'base64', media_type: mediaType, data: base64 } },
    ];
    return done;
  }

  private outcome(
    call: ToolUseBlockParam,
    text: string,
    isError: boolean,
    summary: string,
    detail: string[] = [],
    ok = !isError,
  ): ToolOutcome {
    const result: ToolResultBlockParam = {
      type: 'tool_result',
      tool_use_id: call.id,
      content: this.options.redact(text),
      ...(isError ? { is_error: true } : {}),
    };
    return { result, ok, summary, detail: detail.map((line) => this.options.redact(line)) };
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** `1 line`, `12 lines`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function tail(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-DETAIL_LINES);
}
