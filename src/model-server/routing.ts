/**
 * Which scenario answers a request: the first whose `match` fits the request's system prompt,
 * first user message and headers. Pure, so it can be tested without a server.
 */
import type { ResolvedScenario } from './scenario.js';

/** What routing looks at in one Messages API request. */
export interface RoutingInput {
  /** The system prompt's text: a string, or its text blocks joined by newlines ('' when absent). */
  system: string;
  /** The text of the first user message (its text blocks joined by newlines; '' when absent). */
  firstUser: string;
  /** Request headers, names lower-cased as node:http gives them. */
  headers: Record<string, string | string[] | undefined>;
}

/** Builds the routing view of a parsed request body. */
export function routingInput(
  body: Record<string, unknown>,
  headers: Record<string, string | string[] | undefined>,
): RoutingInput {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const firstUser = messages.find((m): m is { content: unknown } => isRecord(m) && m.role === 'user');
  return { system: contentText(body.system), firstUser: contentText(firstUser?.content), headers };
}

/** The first scenario that fits, or undefined when none does. */
export function pickScenario(
  scenarios: ResolvedScenario[],
  input: RoutingInput,
): ResolvedScenario | undefined {
  return scenarios.find((s) => matches(s, input));
}

function matches(scenario: ResolvedScenario, input: RoutingInput): boolean {
  const { system, user, header } = scenario.match;
  if (system && !system.test(input.system)) return false;
  if (user && !user.test(input.firstUser)) return false;
  if (header) {
    const value = input.headers[header.name.toLowerCase()];
    const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
    if (!values.includes(header.value)) return false;
  }
  return true;
}

/** Text of a Messages API content value: a string, or an array of blocks of which the text ones count. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter(
      (b): b is { type: 'text'; text: string } =>
        isRecord(b) && b.type === 'text' && typeof b.text === 'string',
    )
    .map((b) => b.text)
    .join('\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
