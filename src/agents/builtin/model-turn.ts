import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageParam,
  TextBlockParam,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';
import { type StreamMessageOptions, streamMessage } from '../stall-guard.js';
import { withCacheBreakpoints } from './prompt-cache.js';

/**
 * One model turn: a streamed Messages API request under the stall guard, its text deltas passed on
 * as they arrive, and the final message once the stream ends.
 */

/** What one request needs besides the conversation. */
export interface TurnSettings {
  model: string;
  /** max_tokens of the response. */
  maxTokens: number;
  system: string;
  tools: ToolUnion[];
}

/**
 * Streams one response under the stall guard ({@link streamMessage}).
 *
 * @param onText called with each text delta as it arrives
 * @param signal aborting it aborts the HTTP stream (Ctrl-C)
 * @param guard `stallMs`: longest silence of the response, ms (`model.stallSeconds`); `deadline`:
 *   when the turn's bound ends (ms since the epoch) and how long it is
 * @param onWarning gets what the SDK would `console.warn` while building the request (it warns of
 *   deprecated models on every call, which on the agent's TTY would break into the transcript)
 * @returns the complete message
 * @throws ModelStallError after `stallMs` without a byte, ModelDeadlineError at the deadline, and
 *   the SDK's APIError family (APIUserAbortError when `signal` fired)
 */
export async function streamTurn(
  client: Anthropic,
  settings: TurnSettings,
  messages: MessageParam[],
  signal: AbortSignal,
  guard: Pick<StreamMessageOptions, 'stallMs' | 'deadline'>,
  onText: (delta: string) => void,
  onWarning: (text: string) => void = () => {},
): Promise<Message> {
  const system: TextBlockParam[] = [{ type: 'text', text: settings.system }];
  const cached = withCacheBreakpoints({ system, tools: settings.tools, messages });
  const warn = console.warn;
  // streamMessage builds the request (the SDK's create() inside stream()) synchronously, before
  // it first waits, so restoring console.warn right after the call covers its warnings and nothing else.
  console.warn = (...args: unknown[]) => onWarning(args.map(String).join(' '));
  let answer: Promise<Message>;
  try {
    answer = streamMessage(
      client,
      {
        model: settings.model,
        max_tokens: settings.maxTokens,
        system: cached.system,
        tools: cached.tools,
        messages: cached.messages,
      },
      { ...guard, signal, onText },
    );
  } finally {
    console.warn = warn;
  }
  return answer;
}

/**
 * A response's content as request params, for the stored conversation: only the fields the API
 * takes back, and no empty text blocks (which it refuses).
 */
export function contentToParams(content: readonly ContentBlock[]): ContentBlockParam[] {
  const out: ContentBlockParam[] = [];
  for (const block of content) {
    switch (block.type) {
      case 'text':
        if (block.text !== '') out.push({ type: 'text', text: block.text });
        break;
      case 'tool_use':
        out.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} });
        break;
      case 'thinking':
        out.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
        break;
      case 'redacted_thinking':
        out.push({ type: 'redacted_thinking', data: block.data });
        break;
      default:
        // Server-tool blocks: this agent offers no server tools, so none should arrive.
        break;
    }
  }
  return out;
}
