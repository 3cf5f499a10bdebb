import type Anthropic from '@anthropic-ai/sdk';
import type { Middleware } from '@anthropic-ai/sdk';
import type { Message, MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import { DEFAULT_STALL_SECONDS } from '../config/schema.js';

/**
 * Guards a Messages API request against a model that goes silent: a stream that stalls after
 * `message_start` used to hold a turn until undici's 300 s body timeout, on every retry (issue 10,
 * "The server survives its model"). The guard watches the bytes of the response (headers, then
 * every body chunk; `ping` events count, which the SDK's own events hide) and aborts the request
 * when none came for `stallMs`, and when an overall deadline passes.
 *
 * Used by the built-in agent (one guarded request per attempt, inside its own visible retry loop)
 * and by the judge and the reviewer ({@link requestMessage}, which retries stalls itself).
 */

/**
 * A turn's bound across all its attempts and the waits between them, in stall windows: at the
 * default 60 s that is 30 minutes, more than a 64k-token answer needs at 40 tokens/s (27 min),
 * and an end for a stream that trickles one event every 59 s forever.
 */
export const TURN_BOUND_STALL_WINDOWS = 30;

/** The bound of one turn across its retries, ms, for a stall limit of `stallMs`. */
export function turnBoundMs(stallMs: number): number {
  return TURN_BOUND_STALL_WINDOWS * stallMs;
}

/** `60 s`, `1 s`, `0.25 s`: a stall limit or bound as the transcript and errors show it. */
export function formatSeconds(ms: number): string {
  if (ms >= 120_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The response sent nothing for {@link ModelStallError.stallMs}; the request was aborted. */
export class ModelStallError extends Error {
  /** The stall limit that was hit, ms. */
  readonly stallMs: number;

  constructor(stallMs: number, options?: { cause?: unknown }) {
    super(`no event for ${formatSeconds(stallMs)}`, options);
    this.name = 'ModelStallError';
    this.stallMs = stallMs;
  }
}

/** The request was still running at its deadline (a turn's bound); it was aborted, not retried. */
export class ModelDeadlineError extends Error {
  /** The bound that was hit, ms (from the start of the turn, not of this request). */
  readonly boundMs: number;

  constructor(boundMs: number, options?: { cause?: unknown }) {
    super(`no complete answer within ${formatSeconds(boundMs)}`, options);
    this.name = 'ModelDeadlineError';
    this.boundMs = boundMs;
  }
}

/** Options of a {@link StallGuard}. */
export interface StallGuardOptions {
  /** Most ms without a byte of the response (before the headers too) before the request is aborted. */
  stallMs: number;
  /** The caller's abort (Ctrl-C, shutdown): passed through, and reported as the SDK's abort error. */
  signal?: AbortSignal | undefined;
  /** When the request must be done, ms since the epoch, with the bound it stands for (for the error). */
  deadline?: { at: number; boundMs: number } | undefined;
}

/**
 * One guarded request. Pass {@link requestOptions} to the SDK call and await its result through
 * {@link watch}, which turns the guard's own abort into a {@link ModelStallError} or
 * {@link ModelDeadlineError} and clears the timers.
 */
export class StallGuard {
  private readonly controller = new AbortController();
  private stallTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private reason: ModelStallError | ModelDeadlineError | undefined;

  constructor(private readonly o: StallGuardOptions) {
    if (o.deadline !== undefined) {
      const deadline = o.deadline;
      this.deadlineTimer = setTimeout(
        () => this.abort(new ModelDeadlineError(deadline.boundMs)),
        Math.max(0, deadline.at - Date.now()),
      );
    }
  }

  /** `signal` (the caller's and the guard's) and the watching middleware, for the SDK call. */
  get requestOptions(): { signal: AbortSignal; middleware: Middleware[] } {
    const signals = [this.controller.signal, ...(this.o.signal ? [this.o.signal] : [])];
    return { signal: AbortSignal.any(signals), middleware: [this.middleware] };
  }

  /**
   * Awaits the request.
   * @throws ModelStallError or ModelDeadlineError when the guard aborted it, else what `work` throws
   */
  async watch<T>(work: Promise<T>): Promise<T> {
    try {
      const result = await work;
      if (this.reason) throw this.reason;
      return result;
    } catch (error) {
      if (this.reason && error !== this.reason) throw withCause(this.reason, error);
      throw error;
    } finally {
      this.dispose();
    }
  }

  /** Clears the timers; the guard aborts nothing after this. */
  dispose(): void {
    clearTimeout(this.stallTimer);
    clearTimeout(this.deadlineTimer);
    this.stallTimer = undefined;
    this.deadlineTimer = undefined;
  }

  /** Runs per HTTP attempt (the SDK's own retries included): times the headers and every body chunk. */
  private readonly middleware: Middleware = async (request, next) => {
    this.arm();
    let response: Response;
    try {
      response = await next(request);
    } catch (error) {
      // The SDK may wait (retry-after) before its next attempt; that wait is no stall.
      this.disarm();
      throw error;
    }
    if (response.body === null) {
      this.disarm();
      return response;
    }
    this.arm();
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          this.arm();
          controller.enqueue(chunk);
        },
        flush: () => this.disarm(),
      }),
    );
    return new Response(body, response);
  };

  private arm(): void {
    if (this.reason) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.abort(new ModelStallError(this.o.stallMs)), this.o.stallMs);
  }

  private disarm(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private abort(reason: ModelStallError | ModelDeadlineError): void {
    if (this.reason || this.o.signal?.aborted) return;
    this.reason = reason;
    this.dispose();
    this.controller.abort(reason);
  }
}

/** Options of {@link streamMessage}. */
export interface StreamMessageOptions extends StallGuardOptions {
  /** Gets each text delta as it arrives. */
  onText?: (delta: string) => void;
}

/**
 * One streamed Messages API request under a {@link StallGuard}. The request is built synchronously,
 * before the first await (the agent relies on it to catch the SDK's `console.warn`).
 *
 * @returns the complete message
 * @throws ModelStallError after `stallMs` without a byte, ModelDeadlineError at `deadline`, the
 *   SDK's APIUserAbortError when `signal` fired, and its APIError family for other failures
 */
export function streamMessage(
  client: Anthropic,
  params: MessageCreateParamsBase,
  options: StreamMessageOptions,
): Promise<Message> {
  const guard = new StallGuard(options);
  const stream = client.messages.stream(params, guard.requestOptions);
  const { onText } = options;
  if (onText) stream.on('text', (delta: string) => onText(delta));
  return guard.watch(stream.finalMessage());
}

/** Stalled requests {@link requestMessage} makes in all, the first included, before it gives up. */
export const REQUEST_STALL_ATTEMPTS = 3;

/** Options of {@link requestMessage}. */
export interface RequestMessageOptions {
  signal?: AbortSignal | undefined;
  /** `model.stallSeconds`, seconds (default {@link DEFAULT_STALL_SECONDS}). */
  stallSeconds?: number | undefined;
  /** Requests in all when they stall (default {@link REQUEST_STALL_ATTEMPTS}). */
  attempts?: number;
}

/**
 * One Messages API answer, streamed so a silent model shows, and returned whole: what
 * `client.messages.create` returns, for callers without a transcript (the judge, the reviewer).
 * A stalled request is sent again at once, up to `attempts`, all within {@link turnBoundMs}.
 * Other failures are left to the client's own `maxRetries`.
 *
 * @throws ModelStallError when every attempt stalled, ModelDeadlineError at the bound, the SDK's
 *   APIUserAbortError when `signal` aborted, and its APIError family for other failures
 */
export async function requestMessage(
  client: Anthropic,
  params: MessageCreateParamsBase,
  options: RequestMessageOptions = {},
): Promise<Message> {
  const stallMs = (options.stallSeconds ?? DEFAULT_STALL_SECONDS) * 1000;
  const attempts = Math.max(1, options.attempts ?? REQUEST_STALL_ATTEMPTS);
  const boundMs = turnBoundMs(stallMs);
  const deadline = { at: Date.now() + boundMs, boundMs };
  for (let attempt = 1; ; attempt++) {
    try {
      return await streamMessage(client, params, { stallMs, signal: options.signal, deadline });
    } catch (error) {
      if (!(error instanceof ModelStallError) || attempt >= attempts) throw error;
    }
  }
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  if (error.cause === undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true });
  return error;
}
