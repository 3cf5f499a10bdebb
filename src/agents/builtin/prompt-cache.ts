import type {
  ContentBlockParam,
  MessageParam,
  TextBlockParam,
  ToolUnion,
} from '@anthropic-ai/sdk/resources/messages';

/**
 * Prompt-cache breakpoints (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching):
 * one on the system prompt, one on the last tool, and one on the last block of the newest user
 * message. The last one moves forward every turn, so each request reads the previous turn's prefix
 * from the cache and writes its own. Three of the API's four allowed breakpoints.
 */

const EPHEMERAL = { type: 'ephemeral' } as const;

/** The parts of a request that carry breakpoints. */
export interface CacheableRequest {
  system: TextBlockParam[];
  tools: ToolUnion[];
  messages: MessageParam[];
}

/**
 * A copy of the request with cache_control set on the last system block, the last tool and the
 * last content block of the newest user message. The input is not changed, so the stored
 * conversation never accumulates old breakpoints.
 */
export function withCacheBreakpoints(request: CacheableRequest): CacheableRequest {
  const system = request.system.map((block, i) =>
    i === request.system.length - 1 ? { ...block, cache_control: EPHEMERAL } : block,
  );
  const tools = request.tools.map((tool, i) =>
    i === request.tools.length - 1 ? ({ ...tool, cache_control: EPHEMERAL } as ToolUnion) : tool,
  );
  const messages = [...request.messages];
  let newestUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === 'user') {
      newestUser = i;
      break;
    }
  }
  if (newestUser !== -1) {
    const message = messages[newestUser]!;
    const content: ContentBlockParam[] =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : [...message.content];
    const last = content.length - 1;
    if (last >= 0) content[last] = { ...content[last]!, cache_control: EPHEMERAL } as ContentBlockParam;
    messages[newestUser] = { role: 'user', content };
  }
  return { system, tools, messages };
}
