import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { PASTE_BUFFER_MAX_CHARS } from './paste.js';

// zod/mini carries no messages of its own; the English ones, as zod (classic) sets up itself.
z.config(en());

/**
 * Control messages of the wire protocol as zod/mini schemas (DESIGN.md, "Wire protocol"; mini, so a
 * session server without tasks loads 26 KB of zod, not 198 KB): the server
 * validates what clients send with them; clients read what the server sends with the zod-free
 * checks of client/server-messages.ts. Bump PROTOCOL_VERSION (version.ts) on any incompatible change.
 */

export { PROTOCOL_VERSION, versionMismatchMessage } from './version.js';

export const helloSchema = z.object({
  protocol: z.int(),
  version: z.string(),
  /** attach: a full client that receives layout, snapshots and output; command: one request, then close. */
  mode: z.enum(['attach', 'command']),
  cols: z.int().check(z.minimum(1), z.maximum(10_000)),
  rows: z.int().check(z.minimum(1), z.maximum(10_000)),
  term: z.string().check(z.maxLength(200)),
  readOnly: z.boolean(),
  /**
   * How an attached client gets pane screens: `bytes` (OUTPUT frames after a SNAPSHOT, for a client
   * with its own emulator) or `cells` (SCREEN frames: changed rows, the server's emulator the only
   * one; the TUI). Default bytes.
   */
  screen: z.optional(z.enum(['bytes', 'cells'])),
});
export type Hello = z.infer<typeof helloSchema>;

/**
 * What the person configured for the client (config `keys` and `theme`, or their defaults for a
 * session without a repository), sent in the welcome: the server is the one place a client's
 * options come from, as tmux's are, so `attach` reads no config of its own.
 */
export const clientUiSchema = z.object({
  /** The prefix key as configured; absent: the client's default (C-b, or C-a inside tmux). */
  prefix: z.optional(z.string()),
  /** Key name (after the prefix) → action name (config/key-bindings.ts), defaults included. */
  bindings: z.record(z.string(), z.string()),
  /** Theme name: `themes/<name>.json`. */
  theme: z.string(),
});
export type ClientUi = z.infer<typeof clientUiSchema>;

export const welcomeSchema = z.object({
  protocol: z.int(),
  version: z.string(),
  session: z.string(),
  pid: z.int(),
  clientId: z.int(),
  ui: clientUiSchema,
  /** Secrets the server's queued agents need and it lacks (a client that has one may `set-env` it). */
  missingEnv: z.optional(z.array(z.string())),
});
export type Welcome = z.infer<typeof welcomeSchema>;

export const errorPayloadSchema = z.object({
  code: z.string(),
  message: z.string(),
  hint: z.optional(z.string()),
});
export type ErrorPayload = z.infer<typeof errorPayloadSchema>;

export const layoutKindSchema = z.enum(['tiled', 'even-horizontal', 'even-vertical', 'main-vertical']);
export type LayoutKind = z.infer<typeof layoutKindSchema>;

/** A pane as clients see it. Sizes are in character cells. */
export const paneInfoSchema = z.object({
  id: z.int(),
  index: z.int(),
  name: z.string(),
  /** Agent state when known (working, waiting, done, error), else the pane's process state. */
  state: z.optional(z.string()),
  /** While the state is `rate-limited`: when the agent goes on (ISO time). */
  until: z.optional(z.string()),
  /** Extra title text: cost, container CPU and memory. */
  detail: z.optional(z.string()),
  cols: z.int(),
  rows: z.int(),
  exited: z.boolean(),
  exitCode: z.nullable(z.int()),
  pid: z.optional(z.int()),
  command: z.array(z.string()),
  cwd: z.string(),
});
export type PaneInfo = z.infer<typeof paneInfoSchema>;

/** Everything a client needs to draw the window: sent on attach and on every change. */
export const layoutStateSchema = z.object({
  session: z.string(),
  kind: layoutKindSchema,
  zoomed: z.boolean(),
  focus: z.nullable(z.int()),
  /** The size the panes are laid out for (tmux's `latest` policy: the last active client's). */
  cols: z.int(),
  rows: z.int(),
  panes: z.array(paneInfoSchema),
  /** Status-bar extras (task counts, cost), filled in by later parts of the server. */
  status: z._default(z.record(z.string(), z.string()), {}),
  /** What resize-pane set (layout/layout.ts `LayoutSizes`); absent: the even split. */
  sizes: z.optional(
    z.object({
      main: z.optional(z.int()),
      cols: z.optional(z.array(z.int())),
      rows: z.optional(z.array(z.int())),
    }),
  ),
});
export type LayoutState = z.infer<typeof layoutStateSchema>;

/** A pane's screen, as the serialize addon writes it, for a client to replay into its mirror. */
export const snapshotSchema = z.object({
  cols: z.int(),
  rows: z.int(),
  data: z.string(),
});
export type Snapshot = z.infer<typeof snapshotSchema>;

const target = z.string().check(z.minLength(1), z.maxLength(200));

/** Commands a client may send; the same set the TUI's `:` prompt takes. */
export const commandSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('list-panes') }),
  z.object({
    cmd: z.literal('new-pane'),
    name: z.optional(z.string().check(z.maxLength(100))),
    cwd: z.optional(z.string()),
    command: z.array(z.string()).check(z.minLength(1)),
    env: z.optional(z.record(z.string(), z.string())),
    /** Keep the pane after its process ends (agents). */
    remainOnExit: z.optional(z.boolean()),
    /** An agent's run directory: its events.jsonl drives the pane's state and cost. */
    runDir: z.optional(z.string()),
  }),
  /** data: base64 of the bytes to write (key names are translated client-side). */
  z.object({ cmd: z.literal('send-keys'), pane: target, data: z.string() }),
  z.object({
    cmd: z.literal('capture-pane'),
    pane: target,
    /** First line: 0 is the top of the visible screen, negative reaches into history. */
    start: z.optional(z.int()),
    /** Last line (inclusive); default the bottom of the visible screen. */
    end: z.optional(z.int()),
    /** Keep colours and attributes as escape sequences. */
    escapes: z.optional(z.boolean()),
  }),
  z.object({ cmd: z.literal('kill-pane'), pane: target }),
  z.object({ cmd: z.literal('select-pane'), pane: target }),
  z.object({
    cmd: z.literal('rename-pane'),
    pane: target,
    name: z.string().check(z.minLength(1), z.maxLength(100)),
  }),
  z.object({ cmd: z.literal('select-layout'), layout: z.union([layoutKindSchema, z.literal('next')]) }),
  z.object({ cmd: z.literal('zoom'), pane: z.optional(target) }),
  /** Moves a border of a pane (tmux's resize-pane -L/-R/-U/-D): answers `{ changed }`. */
  z.object({
    cmd: z.literal('resize-pane'),
    pane: z.optional(target),
    direction: z.enum(['L', 'R', 'U', 'D']),
    cells: z.int().check(z.minimum(1), z.maximum(1000)),
  }),
  /** Swaps a pane with the one before (`U`) or after it (`D`), tmux's swap-pane: answers `{ index }`. */
  z.object({ cmd: z.literal('swap-pane'), pane: z.optional(target), direction: z.enum(['U', 'D']) }),
  /** An attached client's terminal size changed. */
  z.object({
    cmd: z.literal('resize'),
    cols: z.int().check(z.minimum(1)),
    rows: z.int().check(z.minimum(1)),
  }),
  /** Pane history for scroll mode, as escape-sequence text. */
  z.object({ cmd: z.literal('history'), pane: target }),
  /**
   * Rows of a pane's buffer as cells (screen.ts HistoryRows), for scroll mode: `count` lines from
   * absolute line `start` (0 the oldest); without `start`, the `count` lines ending at the screen's top.
   */
  z.object({
    cmd: z.literal('history-rows'),
    pane: target,
    start: z.optional(z.int().check(z.minimum(0))),
    count: z.int().check(z.minimum(1), z.maximum(1000)),
  }),
  /**
   * Searches a pane's buffer for `text` (case-insensitive) from absolute line `from` upwards
   * (`direction` -1) or downwards (1). Answers `{ line }`, null when not found.
   */
  z.object({
    cmd: z.literal('search-history'),
    pane: target,
    text: z.string().check(z.minLength(1), z.maxLength(1000)),
    from: z.int(),
    direction: z.union([z.literal(-1), z.literal(1)]),
  }),
  /**
   * Sets the session's paste buffer (copy mode's copy: the text of the cells the person selected,
   * as their client showed them). Control characters are taken out. Answers `{ chars }`.
   */
  z.object({ cmd: z.literal('set-buffer'), data: z.string().check(z.maxLength(PASTE_BUFFER_MAX_CHARS)) }),
  /** Types the paste buffer into a pane (bracketed when the pane asked for it). Answers `{ pane, chars }`. */
  z.object({ cmd: z.literal('paste-buffer'), pane: target }),
  z.object({ cmd: z.literal('list-clients') }),
  /** What `orchestra ls` shows of a session, in one request: {@link SessionInfo}. */
  z.object({ cmd: z.literal('session-info') }),
  /** The task board: queue, running attempts with their panes, done, failed, costs. */
  z.object({ cmd: z.literal('task-board') }),
  /** One attempt's change and the task's candidates: {@link TaskDiff} (protocol/task-diff.ts). */
  z.object({
    cmd: z.literal('task-diff'),
    task: z.string().check(z.minLength(1)),
    attempt: z.optional(z.string().check(z.minLength(1))),
  }),
  /** Makes attempt `attempt` task `task`'s result (a person's pick over the strategy's). */
  z.object({
    cmd: z.literal('pick-winner'),
    task: z.string().check(z.minLength(1)),
    attempt: z.string().check(z.minLength(1)),
  }),
  /** Put a failed task back in the queue. */
  z.object({ cmd: z.literal('retry-task'), task: z.string().check(z.minLength(1)) }),
  /** Merge a done task's result into the base branch (after the checks pass on the merge). */
  z.object({ cmd: z.literal('merge-task'), task: z.string().check(z.minLength(1)) }),
  z.object({ cmd: z.literal('kill-server') }),
  /** The autonomous mode (issue 11): its status, or pause, resume, or start a cycle now. */
  z.object({ cmd: z.literal('autonomy'), action: z.enum(['status', 'pause', 'resume', 'run-now']) }),
  /** Hands the server a secret it lacks (one of SECRET_ENV, common/secret-env.ts); never logged. */
  z.object({
    cmd: z.literal('set-env'),
    name: z.string().check(z.minLength(1)),
    value: z.string().check(z.minLength(1), z.maxLength(10_000)),
  }),
]);
export type Command = z.infer<typeof commandSchema>;
export type CommandName = Command['cmd'];

/** The answer to `session-info`: the session's name, its pane count and attached clients. */
export interface SessionInfo {
  session: string;
  panes: number;
  clients: number;
}

/**
 * Something a person should know about (server/notifications.ts): pane `pane`'s agent entered
 * `state` (waiting, done, error). Every text is printable; `summary` is the agent's, cut short.
 */
export const noticeSchema = z.object({
  pane: z.int(),
  /** The pane's name (its title). */
  name: z.string(),
  state: z.string(),
  /** What the agent said about it, at most 200 characters; '' when it said nothing. */
  summary: z.string(),
  attempt: z.optional(z.string()),
  task: z.optional(z.string()),
});
export type Notice = z.infer<typeof noticeSchema>;

export const eventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('layout'), layout: layoutStateSchema }),
  z.object({ event: z.literal('server-exit'), reason: z.string() }),
  z.extend(noticeSchema, { event: z.literal('notify') }),
]);
export type ServerEvent = z.infer<typeof eventSchema>;

export const controlSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('request'), id: z.int(), command: commandSchema }),
  /** ok: result holds the command's answer; otherwise error says why. */
  z.object({
    kind: z.literal('response'),
    id: z.int(),
    ok: z.boolean(),
    result: z.optional(z.unknown()),
    error: z.optional(errorPayloadSchema),
  }),
  z.object({ kind: z.literal('event'), event: eventSchema }),
]);
export type Control = z.infer<typeof controlSchema>;

/** Parses a JSON payload with a schema; throws a one-line error naming what was wrong. */
export function parsePayload<T>(schema: z.ZodMiniType<T>, payload: Buffer, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Error(`${what}: payload is not JSON`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(
      `${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
    );
  }
  return result.data;
}
