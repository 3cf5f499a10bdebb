/**
 * A scripted stand-in for the Anthropic Messages API, on plain `node:http`. These machines cannot
 * reach Anthropic, so tests and the demo point `ANTHROPIC_BASE_URL` at this server; it answers each
 * request with the next turn of a scenario, in the wire format `@anthropic-ai/sdk` parses.
 *
 * Endpoints: `POST /v1/messages` (SSE when `stream: true`, else a JSON Message),
 * `POST /v1/messages/count_tokens` (a rough count) and `GET /health`. Failures look like the API's:
 * the HTTP status with `{ type: 'error', error: { type, message } }` and a `request-id` header.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, OrchestraError } from '../common/errors.js';
import {
  type AnswerContext,
  buildMessage,
  buildStreamEvents,
  errorEvent,
  estimateTokens,
  formatSse,
} from './message-events.js';
import { pickScenario, routingInput } from './routing.js';
import { type ResolvedScenario, resolveScenarios, type Scenario, type ScenarioFile } from './scenario.js';

/** Request bodies above this are refused (413), so a runaway client cannot exhaust memory. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The HTTP status the API uses for each error type (https://docs.anthropic.com/en/api/errors). */
const STATUS_OF_ERROR_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/** One request the server received, kept in arrival order. */
export interface RecordedRequest {
  /** When it arrived (ms since the epoch). */
  at: number;
  method: string;
  /** The path without its query string, e.g. `/v1/messages`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
  /** The scenario that answered it; null when none did (invalid request, no match, other endpoint). */
  scenario: string | null;
  /** The index of the turn it consumed in that scenario; null when it consumed none. */
  turnIndex: number | null;
  /** The HTTP status answered; null while pending, or when the connection closed before any answer. */
  status: number | null;
  /** SSE events written so far (`error` included); 0 for a non-streaming answer. */
  eventsSent: number;
  /**
   * True once the whole answer was written; false while it is being written, or when the connection
   * closed first (the client aborted, a `hangMs` or `stallAfterEvents` turn, the server closing).
   */
  complete: boolean;
}

/** A running scripted server. */
export interface ScriptedModelServer {
  /** Base URL for `ANTHROPIC_BASE_URL` / the SDK's `baseURL`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  /** Every request but `GET /health`, in arrival order. */
  requests: RecordedRequest[];
  /** Turns not yet consumed, by scenario name (`default` for a single scenario). */
  turnsLeft(): Record<string, number>;
  /** Stops listening and drops open connections, streams included. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@link startScriptedModelServer}. */
export interface ScriptedModelServerOptions {
  /** One scenario, or a file's worth of named ones (validated again here). */
  scenario: Scenario | ScenarioFile;
  /** Default 127.0.0.1: the server is for this machine only. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

/**
 * Starts the server and resolves once it listens.
 * @throws OrchestraError CONFIG_INVALID for an invalid scenario; USAGE when the port is taken
 */
export async function startScriptedModelServer(
  opts: ScriptedModelServerOptions,
): Promise<ScriptedModelServer> {
  const scenarios = resolveScenarios(opts.scenario);
  const cursors = new Map<string, number>(scenarios.map((s) => [s.name, 0]));
  const requests: RecordedRequest[] = [];
  const shutdown = new AbortController();
  const host = opts.host ?? '127.0.0.1';

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A handler bug must answer (or drop) this request, never take the server down with it.
      if (!res.headersSent && !res.destroyed) {
        sendError(res, 500, 'api_error', `scripted model server failed: ${errorMessage(error)}`);
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('request-id', `req_${randomId()}`);
    // Writes after the client went away fail on the socket; the close handler below already stops us.
    res.on('error', () => {});
    const gone = AbortSignal.any([signalOnClose(res), shutdown.signal]);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';

    if (method === 'GET' && path === '/health') {
      sendJson(res, 200, { status: 'ok', turnsLeft: turnsLeft() });
      return;
    }

    const raw = await readBody(req);
    if (raw === undefined) {
      sendError(res, 413, 'request_too_large', `Request exceeds the maximum allowed number of bytes.`);
      return;
    }
    const parsed = parseJson(raw);
    const record: RecordedRequest = {
      at: Date.now(),
      method,
      path,
      headers: req.headers,
      body: parsed.ok ? parsed.value : raw || undefined,
      scenario: null,
      turnIndex: null,
      status: null,
      eventsSent: 0,
      complete: false,
    };
    requests.push(record);
    // 'finish' comes before the client can have read the answer, so a test sees the outcome as soon
    // as its SDK call returns; 'close' covers connections that end without finishing.
    const settle = () => {
      record.status = res.headersSent ? res.statusCode : null;
      record.complete = res.writableFinished;
    };
    res.once('finish', settle);
    res.once('close', settle);

    const isMessages = path === '/v1/messages';
    const isCount = path === '/v1/messages/count_tokens';
    if (!isMessages && !isCount) {
      sendError(res, 404, 'not_found_error', `Not found: ${method} ${path}`);
      return;
    }
    if (method !== 'POST') {
      sendError(res, 405, 'invalid_request_error', `Method ${method} not allowed on ${path}; use POST.`);
      return;
    }
    if (!parsed.ok || !isRecord(parsed.value)) {
      sendError(res, 400, 'invalid_request_error', 'There was an error parsing the body of your request.');
      return;
    }
    const body = parsed.value;
    const invalid = validate(body, isMessages);
    if (invalid) {
      sendError(res, 400, 'invalid_request_error', invalid);
      return;
    }
    if (isCount) {
      sendJson(res, 200, { input_tokens: estimateInputTokens(body) });
      return;
    }

    const scenario = pickScenario(scenarios, routingInput(body, req.headers));
    if (!scenario) {
      const names = scenarios.map((s) => `"${s.name}"`).join(', ');
      sendScriptError(res, `scripted model server: no scenario matches this request (scenarios: ${names})`);
      return;
    }
    const turnIndex = cursors.get(scenario.name) ?? 0;
    const turn = scenario.turns[turnIndex];
    if (!turn) {
      sendScriptError(
        res,
        `scripted model server: scenario "${scenario.name}" has no turns left ` +
          `(it has ${scenario.turns.length}; this was request ${turnIndex + 1} routed to it)`,
      );
      return;
    }
    // The turn is consumed on arrival, so concurrent requests get turns in the order they came in.
    cursors.set(scenario.name, turnIndex + 1);
    record.scenario = scenario.name;
    record.turnIndex = turnIndex;

    if (turn.delayMs && !(await wait(turn.delayMs, gone))) return;
    const hangMs = turn.hangMs ?? (body.stream === true ? undefined : turn.stallAfterEvents?.ms);
    if (hangMs !== undefined) {
      await wait(hangMs, gone);
      req.socket.destroy();
      return;
    }
    if (turn.error) {
      const headers: Record<string, string> = {};
      if (turn.error.retryAfterSeconds !== undefined)
        headers['retry-after'] = String(turn.error.retryAfterSeconds);
      sendError(res, turn.error.status, turn.error.type, turn.error.message, headers);
      return;
    }

    const ctx = answerContext(body, scenario, turnIndex);
    if (body.stream !== true) {
      if (turn.streamError) {
        // Without a stream, a mid-answer failure can only show as the HTTP error of its type.
        const { type, message } = turn.streamError;
        sendError(res, STATUS_OF_ERROR_TYPE[type] ?? 500, type, message);
        return;
      }
      sendJson(res, 200, buildMessage(turn, ctx));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    const events = buildStreamEvents(turn, ctx);
    const failAt = turn.streamError
      ? Math.min(turn.streamError.afterEvents, events.length)
      : Number.POSITIVE_INFINITY;
    const stall = turn.stallAfterEvents;
    for (let i = 0; i <= events.length; i++) {
      if (i > 0 && turn.chunkDelayMs && !(await wait(turn.chunkDelayMs, gone))) return;
      if (gone.aborted || res.destroyed) return;
      if (stall && i === Math.min(stall.afterEvents, events.length)) {
        // The status line and headers go out even before a stall at 0 events, as the API's would.
        if (i === 0) res.flushHeaders();
        await wait(stall.ms, gone);
        req.socket.destroy();
        return;
      }
      if (i === failAt && turn.streamError) {
        res.end(formatSse(errorEvent(turn.streamError.type, turn.streamError.message)));
        record.eventsSent += 1;
        return;
      }
      const event = events[i];
      if (!event) break;
      res.write(formatSse(event));
      record.eventsSent += 1;
    }
    res.end();
  }

  function turnsLeft(): Record<string, number> {
    return Object.fromEntries(scenarios.map((s) => [s.name, s.turns.length - (cursors.get(s.name) ?? 0)]));
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new OrchestraError('USAGE', `port ${opts.port} on ${host} is already in use`, {
              hint: 'pick another --port, or 0 for any free port',
              cause: error,
            })
          : error,
      );
    };
    server.once('error', onError);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    turnsLeft,
    close() {
      closed ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The 500 for a scenario mistake; `x-should-retry: false` so the SDK fails at once instead of retrying. */
function sendScriptError(res: ServerResponse, message: string): void {
  sendError(res, 500, 'api_error', message, { 'x-should-retry': 'false' });
}

function answerContext(
  body: Record<string, unknown>,
  scenario: ResolvedScenario,
  turnIndex: number,
): AnswerContext {
  const stops = Array.isArray(body.stop_sequences) ? body.stop_sequences : [];
  return {
    messageId: `msg_${randomId()}`,
    requestModel: String(body.model),
    toolIdPrefix: `toolu_scripted_${scenario.name.replace(/[^A-Za-z0-9_-]/g, '-')}_${turnIndex}`,
    estimatedInputTokens: estimateInputTokens(body),
    stopSequence: typeof stops[0] === 'string' ? stops[0] : null,
  };
}

function estimateInputTokens(body: Record<string, unknown>): number {
  return estimateTokens(JSON.stringify([body.system ?? '', body.messages ?? [], body.tools ?? []]));
}

/** The API's minimal checks, with its wording (`<field>: Field required`); undefined when valid. */
function validate(body: Record<string, unknown>, needsMaxTokens: boolean): string | undefined {
  if (body.model === undefined) return 'model: Field required';
  if (typeof body.model !== 'string' || body.model === '') return 'model: Input should be a valid string';
  if (needsMaxTokens) {
    if (body.max_tokens === undefined) return 'max_tokens: Field required';
    if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
      return 'max_tokens: Input should be a positive integer';
    }
  }
  if (body.messages === undefined) return 'messages: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  return undefined;
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { type: 'error', error: { type, message } }, headers);
}

/** The body as text, or undefined when it exceeds {@link MAX_BODY_BYTES}. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Aborts when the response closes: finished, or the client went away mid-answer. */
function signalOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}

/** Sleeps `ms`; false when `signal` aborted first (the client left or the server is closing). */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function randomId(): string {
  return randomBytes(12).toString('hex');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
