/**
 * Turns a scripted turn into what the Messages API sends: a Message object (non-streaming) or the
 * server-sent event sequence of a streamed one. Pure: the server only writes what this returns.
 *
 * Shapes follow https://docs.anthropic.com/en/api/messages-streaming and what `@anthropic-ai/sdk`'s
 * `MessageStream` accumulates: `message_start` (empty content, `stop_reason: null`, output_tokens 1),
 * per block `content_block_start` / `content_block_delta`... / `content_block_stop` (a `ping` after the
 * first block starts, as the API does), then `message_delta` (stop reason, output tokens) and
 * `message_stop`.
 */
import type { ScriptedTurn, StopReason } from './scenario.js';

/** Rough tokenizer stand-in: the API's own rule of thumb of about 4 characters a token. */
export const CHARS_PER_TOKEN = 4;

/** tool_use input JSON goes out in at most this many `partial_json` pieces. */
const MAX_JSON_PIECES = 4;

/** Usage as the API reports it on a Message. */
export interface ApiUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** A content block of an answer. */
export type ApiContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

/** A Message object as `POST /v1/messages` returns it. */
export interface ApiMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ApiContentBlock[];
  stop_reason: StopReason;
  stop_sequence: string | null;
  usage: ApiUsage;
}

/** One server-sent event: its `event:` name and its JSON `data`. */
export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** What an answer needs besides the turn. */
export interface AnswerContext {
  /** `msg_...` id of the answer. */
  messageId: string;
  /** The request's `model`, used when the turn names none. */
  requestModel: string;
  /** Default tool_use ids are `${toolIdPrefix}_${blockIndex}`. */
  toolIdPrefix: string;
  /** input_tokens when the turn's usage gives none (see {@link estimateTokens}). */
  estimatedInputTokens: number;
  /** The request's first stop sequence, reported when the turn stops with `stop_sequence`. */
  stopSequence: string | null;
}

/** About how many tokens `text` is, at {@link CHARS_PER_TOKEN} characters a token (at least 1). */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN));
}

/** The complete Message a turn answers with (the non-streaming form, and what a stream adds up to). */
export function buildMessage(turn: ScriptedTurn, ctx: AnswerContext): ApiMessage {
  const content = contentBlocks(turn, ctx);
  return {
    id: ctx.messageId,
    type: 'message',
    role: 'assistant',
    model: turn.model ?? ctx.requestModel,
    content,
    stop_reason: stopReason(turn),
    stop_sequence: stopReason(turn) === 'stop_sequence' ? ctx.stopSequence : null,
    usage: usage(turn, ctx, content),
  };
}

/** The event sequence of a streamed answer, `message_start` through `message_stop`. */
export function buildStreamEvents(turn: ScriptedTurn, ctx: AnswerContext): SseEvent[] {
  const message = buildMessage(turn, ctx);
  const events: SseEvent[] = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // The API reports the input side up front and a token-so-far count of 1 for the output.
          usage: { ...message.usage, output_tokens: 1 },
        },
      },
    },
  ];
  const textChunks = turn.text === undefined ? [] : typeof turn.text === 'string' ? [turn.text] : turn.text;
  message.content.forEach((block, index) => {
    const start = block.type === 'text' ? { type: 'text', text: '' } : { ...block, input: {} };
    events.push({
      event: 'content_block_start',
      data: { type: 'content_block_start', index, content_block: start },
    });
    if (index === 0) events.push(ping());
    const deltas =
      block.type === 'text'
        ? textChunks.map((text) => ({ type: 'text_delta', text }))
        : splitJson(JSON.stringify(block.input)).map((partial_json) => ({
            type: 'input_json_delta',
            partial_json,
          }));
    for (const delta of deltas) {
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  if (message.content.length === 0) events.push(ping());
  events.push({
    event: 'message_delta',
    data: {
      type: 'message_delta',
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
      usage: { output_tokens: message.usage.output_tokens },
    },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events;
}

/** The `event: error` a stream carries when the API fails mid-answer. */
export function errorEvent(type: string, message: string): SseEvent {
  return { event: 'error', data: { type: 'error', error: { type, message } } };
}

/** One event in SSE wire form: `event:` and `data:` lines and the blank line that ends it. */
export function formatSse(event: SseEvent): string {
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

function ping(): SseEvent {
  return { event: 'ping', data: { type: 'ping' } };
}

function stopReason(turn: ScriptedTurn): StopReason {
  return turn.stopReason ?? ((turn.toolUses?.length ?? 0) > 0 ? 'tool_use' : 'end_turn');
}

function contentBlocks(turn: ScriptedTurn, ctx: AnswerContext): ApiContentBlock[] {
  const blocks: ApiContentBlock[] = [];
  const text = typeof turn.text === 'string' ? turn.text : turn.text?.join('');
  if (text) blocks.push({ type: 'text', text });
  for (const tool of turn.toolUses ?? []) {
    blocks.push({
      type: 'tool_use',
      id: tool.id ?? `${ctx.toolIdPrefix}_${blocks.length}`,
      name: tool.name,
      input: tool.input,
    });
  }
  return blocks;
}

function usage(turn: ScriptedTurn, ctx: AnswerContext, content: ApiContentBlock[]): ApiUsage {
  const given = turn.usage;
  const written = content.map((b) => (b.type === 'text' ? b.text : JSON.stringify(b.input))).join('');
  return {
    input_tokens: given?.input_tokens ?? ctx.estimatedInputTokens,
    cache_creation_input_tokens: given?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: given?.cache_read_input_tokens ?? 0,
    output_tokens: given?.output_tokens ?? estimateTokens(written),
  };
}

/**
 * Splits JSON text into up to {@link MAX_JSON_PIECES} pieces, as the API streams tool input in
 * fragments that are not valid JSON on their own. Never cuts a surrogate pair apart.
 */
export function splitJson(json: string): string[] {
  const size = Math.max(1, Math.ceil(json.length / MAX_JSON_PIECES));
  const pieces: string[] = [];
  let start = 0;
  while (start < json.length) {
    let end = Math.min(json.length, start + size);
    const last = json.charCodeAt(end - 1);
    if (end < json.length && last >= 0xd800 && last <= 0xdbff) end += 1;
    pieces.push(json.slice(start, end));
    start = end;
  }
  return pieces;
}
