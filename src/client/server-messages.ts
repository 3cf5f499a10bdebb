/**
 * Reads what a server sends a client (WELCOME, ERROR, SNAPSHOT and control payloads) without zod:
 * a command client starts in the time Node itself takes, and zod alone costs more than that
 * (issue 12). The server validates what clients send with the schemas of protocol/messages.ts;
 * here each payload is checked for the fields the client reads, with the same one-line errors
 * (`WELCOME: pid: expected number`).
 */

import type {
  Control,
  ErrorPayload,
  LayoutState,
  PaneInfo,
  ServerEvent,
  Snapshot,
  Welcome,
} from '../protocol/messages.js';

type Json = Record<string, unknown>;
type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/** Parses `payload` as a JSON object. @throws Error `<what>: payload is not JSON` (or not an object) */
export function jsonObject(payload: Buffer | string, what: string): Json {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    throw new Error(`${what}: payload is not JSON`);
  }
  if (kindOf(raw) !== 'object') throw new Error(`${what}: (root): expected object, received ${kindOf(raw)}`);
  return raw as Json;
}

/**
 * Checks that each named field of `object` has its kind (`?` after the kind: may be absent;
 * `|null`: may be null). @throws Error `<what>: <path>: expected <kind>, received <kind>`
 */
function expect(object: Json, fields: Record<string, string>, what: string, path = ''): void {
  for (const [key, spec] of Object.entries(fields)) {
    const optional = spec.endsWith('?');
    const [kind, orNull] = spec.replace('?', '').split('|') as [Kind, string | undefined];
    const value = object[key];
    if (value === undefined && optional) continue;
    if (value === null && orNull === 'null') continue;
    const actual = kindOf(value);
    if (actual !== kind) throw new Error(`${what}: ${path}${key}: expected ${kind}, received ${actual}`);
  }
}

/** A WELCOME payload. @throws Error naming the first field that is wrong */
export function parseWelcome(payload: Buffer): Welcome {
  const o = jsonObject(payload, 'WELCOME');
  expect(
    o,
    {
      protocol: 'number',
      version: 'string',
      session: 'string',
      pid: 'number',
      clientId: 'number',
      ui: 'object',
      missingEnv: 'array?',
    },
    'WELCOME',
  );
  const ui = o.ui as Json;
  expect(ui, { prefix: 'string?', bindings: 'object', theme: 'string' }, 'WELCOME', 'ui.');
  for (const [key, action] of Object.entries(ui.bindings as Json)) {
    if (typeof action !== 'string')
      throw new Error(`WELCOME: ui.bindings.${key}: expected string, received ${kindOf(action)}`);
  }
  (o.missingEnv as unknown[] | undefined)?.forEach((name, i) => {
    if (typeof name !== 'string')
      throw new Error(`WELCOME: missingEnv.${i}: expected string, received ${kindOf(name)}`);
  });
  return o as unknown as Welcome;
}

/** An ERROR payload: code, message, optional hint. @throws Error naming the first field that is wrong */
export function parseErrorPayload(payload: Buffer | Json, what = 'ERROR'): ErrorPayload {
  const o = Buffer.isBuffer(payload) ? jsonObject(payload, what) : payload;
  expect(o, { code: 'string', message: 'string', hint: 'string?' }, what);
  return o as unknown as ErrorPayload;
}

/** A SNAPSHOT payload (bytes-mode clients). @throws Error naming the first field that is wrong */
export function parseSnapshot(payload: Buffer): Snapshot {
  const o = jsonObject(payload, 'SNAPSHOT');
  expect(o, { cols: 'number', rows: 'number', data: 'string' }, 'SNAPSHOT');
  return o as unknown as Snapshot;
}

function parseLayout(o: Json, what: string): LayoutState {
  expect(
    o,
    {
      session: 'string',
      kind: 'string',
      zoomed: 'boolean',
      focus: 'number|null',
      cols: 'number',
      rows: 'number',
      panes: 'array',
      status: 'object?',
      sizes: 'object?',
    },
    what,
  );
  if (o.sizes !== undefined) {
    const sizes = o.sizes as Json;
    expect(sizes, { main: 'number?', cols: 'array?', rows: 'array?' }, what, 'sizes.');
    for (const key of ['cols', 'rows'] as const) {
      (sizes[key] as unknown[] | undefined)?.forEach((n, i) => {
        if (typeof n !== 'number')
          throw new Error(`${what}: sizes.${key}.${i}: expected number, received ${kindOf(n)}`);
      });
    }
  }
  (o.panes as unknown[]).forEach((pane, i) => {
    if (kindOf(pane) !== 'object')
      throw new Error(`${what}: panes.${i}: expected object, received ${kindOf(pane)}`);
    expect(
      pane as Json,
      {
        id: 'number',
        index: 'number',
        name: 'string',
        cols: 'number',
        rows: 'number',
        exited: 'boolean',
        exitCode: 'number|null',
        pid: 'number?',
        command: 'array',
        cwd: 'string',
        state: 'string?',
        until: 'string?',
        detail: 'string?',
      },
      what,
      `panes.${i}.`,
    );
  });
  const status = (o.status ?? {}) as Json;
  for (const [key, value] of Object.entries(status)) {
    if (typeof value !== 'string')
      throw new Error(`${what}: status.${key}: expected string, received ${kindOf(value)}`);
  }
  return {
    ...(o as unknown as LayoutState),
    panes: o.panes as PaneInfo[],
    status: status as Record<string, string>,
  };
}

function parseEvent(o: Json, what: string): ServerEvent {
  if (o.event === 'layout') {
    expect(o, { layout: 'object' }, what);
    return { event: 'layout', layout: parseLayout(o.layout as Json, what) };
  }
  if (o.event === 'server-exit') {
    expect(o, { reason: 'string' }, what);
    return { event: 'server-exit', reason: o.reason as string };
  }
  if (o.event === 'notify') {
    expect(
      o,
      {
        pane: 'number',
        name: 'string',
        state: 'string',
        summary: 'string',
        attempt: 'string?',
        task: 'string?',
      },
      what,
    );
    return o as unknown as ServerEvent;
  }
  throw new Error(`${what}: event: unknown event ${JSON.stringify(o.event)}`);
}

/**
 * A control payload from the server: a response to a request, or an event (layout, server-exit).
 * @throws Error naming the first field that is wrong (a server never sends a request)
 */
export function parseServerControl(payload: Buffer): Exclude<Control, { kind: 'request' }> {
  const what = 'control message';
  const o = jsonObject(payload, what);
  if (o.kind === 'response') {
    expect(o, { id: 'number', ok: 'boolean', error: 'object?' }, what);
    if (o.error !== undefined) parseErrorPayload(o.error as Json, what);
    return o as unknown as Exclude<Control, { kind: 'request' }>;
  }
  if (o.kind === 'event') {
    expect(o, { event: 'object' }, what);
    return { kind: 'event', event: parseEvent(o.event as Json, what) };
  }
  throw new Error(`${what}: kind: expected response or event, received ${JSON.stringify(o.kind)}`);
}
