import { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { ModelDeadlineError, ModelStallError, TURN_BOUND_STALL_WINDOWS } from '../stall-guard.js';

/**
 * Which Messages API failures are worth retrying, and when. The agent runs its own retry loop (the
 * SDK's `maxRetries` is 0) so every retry is a visible line in the transcript.
 */

/** Attempts per request, the first included; at a 1 s base the waits add up to half a minute. */
export const MAX_API_ATTEMPTS = 5;

/** Base of the exponential backoff, ms; `ORCHESTRA_RETRY_BASE_MS` overrides it (tests use a few ms). */
export const DEFAULT_RETRY_BASE_MS = 1000;

/** Longest wait before one retry, ms, even when the server's retry-after asks for more. */
export const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** Error types the API sends in an SSE `error` event that mean "try again" (no HTTP status there). */
const TRANSIENT_TYPES = new Set(['overloaded_error', 'api_error', 'rate_limit_error', 'timeout_error']);

/** What the agent makes of one failed request. */
export interface ApiFailure {
  /**
   * True for 408, 409, 429, 5xx (529 overloaded included), dropped connections, stalled streams and
   * stream errors of those kinds.
   */
  transient: boolean;
  /** Short words for the transcript: `529 overloaded`, `network error`, `no event for 60 s`. */
  label: string;
  /** One line with the API's own message, for the final error. */
  detail: string;
  /** The server's retry-after, ms, when it sent one (else its rate-limit reset headers' latest time). */
  retryAfterMs: number | undefined;
  /** A rate limit (429, `rate_limit_error`): waited out, and no failed try (issue 13). */
  rateLimited?: boolean;
}

/** True when the request failed because our AbortController fired (Ctrl-C, shutdown). */
export function isAbort(error: unknown): boolean {
  return error instanceof APIUserAbortError || (error instanceof Error && error.name === 'AbortError');
}

/** Classifies a thrown value from the SDK. */
export function describeApiFailure(error: unknown): ApiFailure {
  if (error instanceof ModelStallError) {
    const detail = `${error.message}: the model API went silent (model.stallSeconds)`;
    return { transient: true, label: error.message, detail, retryAfterMs: undefined };
  }
  if (error instanceof ModelDeadlineError) {
    // The bound spans every retry of the turn, so reaching it ends the turn.
    const detail = `${error.message}, the bound of a turn (${TURN_BOUND_STALL_WINDOWS} × model.stallSeconds)`;
    return { transient: false, label: error.message, detail, retryAfterMs: undefined };
  }
  if (error instanceof APIConnectionError) {
    const code = causeCode(error);
    const label = code === undefined ? 'network error' : `network error (${code})`;
    return {
      transient: true,
      label,
      detail: `${label}: ${oneLine(causeMessages(error))}`,
      retryAfterMs: undefined,
    };
  }
  if (error instanceof APIError) {
    const type = error.type ?? undefined;
    const words = type?.replace(/_error$/, '').replace(/_/g, ' ');
    const status = error.status;
    const label =
      [status, words].filter((part) => part !== undefined && part !== '').join(' ') || 'API error';
    const message = error.apiMessage ?? error.message;
    const transient =
      status === undefined
        ? type !== undefined && TRANSIENT_TYPES.has(type)
        : status === 408 || status === 409 || status === 429 || status >= 500;
    const rateLimited = status === 429 || type === 'rate_limit_error';
    return {
      transient,
      label,
      detail: `${label}: ${oneLine(message)}`,
      retryAfterMs:
        retryAfterMs(error.headers) ?? (rateLimited ? rateLimitResetMs(error.headers) : undefined),
      ...(rateLimited ? { rateLimited } : {}),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  // A stream that ends early or a body that fails to parse is a network-level failure.
  return {
    transient: true,
    label: 'network error',
    detail: `network error: ${oneLine(message)}`,
    retryAfterMs: undefined,
  };
}

/**
 * The wait before attempt `attempt` (2 for the first retry): `base * 2^(attempt-1)`, or the
 * server's retry-after when it asks for longer, capped at {@link MAX_RETRY_DELAY_MS}.
 */
export function retryDelayMs(attempt: number, baseMs: number, retryAfter: number | undefined): number {
  const backoff = baseMs * 2 ** (attempt - 1);
  return Math.min(Math.max(backoff, retryAfter ?? 0), MAX_RETRY_DELAY_MS);
}

/** `retry-after` (seconds, fractions allowed, or an HTTP date) in ms, or undefined. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const value = headers?.get?.('retry-after');
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * The time until the latest of Anthropic's rate-limit reset headers (`anthropic-ratelimit-requests-reset`,
 * `-tokens-reset`, `-input-tokens-reset`, `-output-tokens-reset`: RFC 3339 times), ms, or undefined
 * when none is there (docs.anthropic.com, "Rate limits", response headers).
 */
export function rateLimitResetMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  let latest: number | undefined;
  for (const kind of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
    const value = headers?.get?.(`anthropic-ratelimit-${kind}-reset`);
    const at = value ? Date.parse(value) : Number.NaN;
    if (!Number.isNaN(at)) latest = Math.max(latest ?? at, at);
  }
  return latest === undefined ? undefined : Math.max(0, latest - now);
}

/** The messages down an error's cause chain (`Connection error.: fetch failed: connect ECONNREFUSED ...`). */
function causeMessages(error: Error): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message !== '') messages.push(current.message.replace(/\.$/, ''));
    current = current.cause;
  }
  return messages.join(': ');
}

/** The errno code (`ECONNREFUSED`) somewhere down an error's cause chain, if any. */
function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code !== '') return code;
    current = current.cause;
  }
  return undefined;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
