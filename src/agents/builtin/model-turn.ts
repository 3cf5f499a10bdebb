import type Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageParam,
  TextBlockParam,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';
import { withCacheBreakpoints } from './prompt-cache.js';

/**
 * One model turn: a streamed Messages API request (`client.messages.stream`), its text deltas
 * passed on as they arrive, and the final message once the stream ends.
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
 * Streams one response.
 *
 * @param onText called with each text delta as it arrives
 * @param signal aborting it aborts the HTTP stream (Ctrl-C)
 * @param onWarning gets what the SDK would `console.warn` while building the request (it warns of
 *   deprecated models on every call, which on the agent's TTY would break into the transcript)
 * @returns the complete message
 * @throws the SDK's APIError family (APIUserAbortError when `signal` fired)
 */
export async function streamTurn(
  client: Anthropic,
  settings: TurnSettings,
  messages: MessageParam[],
  signal: AbortSignal,
  onText: (delta: string) => void,
  onWarning: (text: string) => void = () => {},
): Promise<Message> {
  const system: TextBlockParam[] = [{ type: 'text', text: settings.system }];
  const cached = withCacheBreakpoints({ system, tools: settings.tools, messages });
  const warn = console.warn;
  // The SDK's create() runs synchronously inside stream() up to the HTTP request, so restoring
  // console.warn right after covers its warnings and nothing else.
  console.warn = (...args: unknown[]) => onWarning(args.map(String).join(' '));
  let stream: ReturnType<typeof client.messages.stream>;
  try {
    stream = client.messages.stream(
      {
        model: settings.model,
        max_tokens: settings.maxTokens,
        system: cached.system,
        tools: cached.tools,
        messages: cached.messages,
      },
      { signal },
    );
  } finally {
    console.warn = warn;
  }
  stream.on('text', (delta: string) => onText(delta));
  return stream.finalMessage();
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
