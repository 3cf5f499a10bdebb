/**
 * Scenario files for the scripted Messages API server: what the "model" answers, turn by turn.
 *
 * A scenario is an ordered list of assistant turns; each request routed to it consumes the next
 * one. A file holds either one scenario (`{ turns }`) or several named ones
 * (`{ scenarios: { name: { match?, turns } } }`), so several agents and a judge can share one server.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { errorMessage, OrchestraError } from '../common/errors.js';

/** The stop reasons the Messages API reports (https://docs.anthropic.com/en/api/messages). */
export const STOP_REASONS = ['end_turn', 'tool_use', 'max_tokens', 'stop_sequence'] as const;

const nonNegativeMs = z.number().finite().nonnegative();
const tokenCount = z.number().int().nonnegative();

const toolUseSchema = z.strictObject({
  /** Defaults to a stable `toolu_scripted_...` id derived from the scenario, turn and block. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'tool use ids may hold only letters, digits, _ and - (as the API requires)')
    .optional(),
  name: z.string().min(1),
  /** The tool's input; the API always sends an object here. */
  input: z.record(z.string(), z.unknown()),
});

const usageSchema = z.strictObject({
  input_tokens: tokenCount,
  output_tokens: tokenCount,
  cache_creation_input_tokens: tokenCount.optional(),
  cache_read_input_tokens: tokenCount.optional(),
});

const errorSchema = z.strictObject({
  /** HTTP status, e.g. 429 rate limit, 529 overloaded, 500 api_error. */
  status: z.number().int().min(400).max(599),
  /** The API's error type, e.g. `overloaded_error`, `rate_limit_error`. */
  type: z.string().min(1),
  message: z.string(),
  /** Sent as the `retry-after` header (seconds; fractions allowed so tests stay fast). */
  retryAfterSeconds: z.number().finite().nonnegative().optional(),
});

const streamErrorSchema = z.strictObject({
  /** How many SSE events (message_start and ping included) go out before the `error` event. */
  afterEvents: z.number().int().nonnegative(),
  type: z.string().min(1),
  message: z.string(),
});

const stallSchema = z.strictObject({
  /** How many SSE events (message_start and ping included) go out before the silence. */
  afterEvents: z.number().int().nonnegative(),
  /** How long nothing is sent, ms, before the connection is dropped. */
  ms: nonNegativeMs,
});

/** One assistant turn: the answer to one request. */
export const scriptedTurnSchema = z.strictObject({
  /** The text block; an array streams each element as its own `text_delta` event. */
  text: z.union([z.string(), z.array(z.string())]).optional(),
  /** tool_use blocks, after the text block. */
  toolUses: z.array(toolUseSchema).optional(),
  /** Default: `tool_use` when the turn has tool uses, else `end_turn`. */
  stopReason: z.enum(STOP_REASONS).optional(),
  /** Default: rough counts from the request and answer sizes (4 characters a token), no cache tokens. */
  usage: usageSchema.optional(),
  /** The model named in the answer; default: the request's `model`. */
  model: z.string().min(1).optional(),
  /** Wait this long (ms) before the response starts. */
  delayMs: nonNegativeMs.optional(),
  /** Wait this long (ms) between SSE events, so a test can interrupt a slow stream. */
  chunkDelayMs: nonNegativeMs.optional(),
  /** Answer with this HTTP error instead of a message. */
  error: errorSchema.optional(),
  /** Start the stream, then send an `event: error` after some events and end it. */
  streamError: streamErrorSchema.optional(),
  /** Send nothing for this long (ms), then drop the connection: a dead upstream. */
  hangMs: nonNegativeMs.optional(),
  /**
   * Start the stream, go silent after `afterEvents` events for `ms`, then drop the connection: an
   * upstream that stalls mid-answer. A non-streaming request has no events: it waits `ms`, then drops.
   */
  stallAfterEvents: stallSchema.optional(),
});

/** Which requests a named scenario answers; every given field must fit, none given fits all. */
export const scenarioMatchSchema = z.strictObject({
  /** Regular expression tested against the system prompt's text (text blocks joined by newlines). */
  system: z.string().optional(),
  /** Regular expression tested against the text of the first user message. */
  user: z.string().optional(),
  /** A request header (name case-insensitive) whose value must equal `value` exactly. */
  header: z.strictObject({ name: z.string().min(1), value: z.string() }).optional(),
});

/** One scenario: its turns, answered in order. */
export const scenarioSchema = z.strictObject({
  turns: z.array(scriptedTurnSchema),
});

/** A named scenario inside a scenario file with several. */
export const namedScenarioSchema = z.strictObject({
  match: scenarioMatchSchema.optional(),
  turns: z.array(scriptedTurnSchema),
});

/** A scenario file with several named scenarios; requests go to the first whose `match` fits. */
export const scenarioFileSchema = z.strictObject({
  scenarios: z.record(z.string().min(1), namedScenarioSchema),
});

export type ScriptedTurn = z.infer<typeof scriptedTurnSchema>;
export type ScriptedToolUse = z.infer<typeof toolUseSchema>;
export type ScriptedUsage = z.infer<typeof usageSchema>;
export type ScenarioMatch = z.infer<typeof scenarioMatchSchema>;
export type Scenario = z.infer<typeof scenarioSchema>;
export type NamedScenario = z.infer<typeof namedScenarioSchema>;
export type ScenarioFile = z.infer<typeof scenarioFileSchema>;
export type StopReason = (typeof STOP_REASONS)[number];

/** A scenario ready to serve: its name (`default` for a single-scenario file) and compiled match. */
export interface ResolvedScenario {
  name: string;
  turns: ScriptedTurn[];
  match: { system?: RegExp; user?: RegExp; header?: { name: string; value: string } };
}

/** The name a single-scenario file's scenario is recorded under. */
export const DEFAULT_SCENARIO_NAME = 'default';

/**
 * Validates a scenario or scenario file given as a value (parsed JSON/YAML or a test's literal).
 * @param source where it came from, for the error message
 * @throws OrchestraError CONFIG_INVALID naming the first problems
 */
export function parseScenario(value: unknown, source = 'scenario'): Scenario | ScenarioFile {
  const isFile = typeof value === 'object' && value !== null && 'scenarios' in value;
  const result = (isFile ? scenarioFileSchema : scenarioSchema).safeParse(value);
  if (!result.success) {
    throw new OrchestraError(
      'CONFIG_INVALID',
      `${source} is not a valid scenario: ${oneLine(result.error)}`,
      {
        hint: 'a scenario is { "turns": [...] } or { "scenarios": { "name": { "match": {...}, "turns": [...] } } }',
      },
    );
  }
  return result.data;
}

/**
 * Validates a scenario and compiles its match patterns, in file order (the routing order).
 * @throws OrchestraError CONFIG_INVALID for an invalid scenario or regular expression
 */
export function resolveScenarios(value: Scenario | ScenarioFile, source = 'scenario'): ResolvedScenario[] {
  const parsed = parseScenario(value, source);
  if (!('scenarios' in parsed)) return [{ name: DEFAULT_SCENARIO_NAME, turns: parsed.turns, match: {} }];
  const resolved = Object.entries(parsed.scenarios).map(([name, s]) => ({
    name,
    turns: s.turns,
    match: {
      ...(s.match?.system === undefined ? {} : { system: compile(s.match.system, source, name, 'system') }),
      ...(s.match?.user === undefined ? {} : { user: compile(s.match.user, source, name, 'user') }),
      ...(s.match?.header === undefined ? {} : { header: s.match.header }),
    },
  }));
  if (resolved.length === 0) {
    throw new OrchestraError('CONFIG_INVALID', `${source} has no scenarios`, {
      hint: 'add at least one entry under "scenarios"',
    });
  }
  return resolved;
}

/**
 * Reads a scenario file: JSON, or YAML when the name ends in `.yaml`/`.yml`.
 * @throws OrchestraError CONFIG_UNREADABLE when the file cannot be read or parsed,
 *   CONFIG_INVALID when it is not a valid scenario
 */
export async function loadScenarioFile(path: string): Promise<Scenario | ScenarioFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new OrchestraError(
      'CONFIG_UNREADABLE',
      `cannot read scenario file ${path}: ${errorMessage(error)}`,
      {
        hint: 'check the path given to --scenario',
        cause: error,
      },
    );
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new OrchestraError(
      'CONFIG_UNREADABLE',
      `scenario file ${path} is not valid ${yaml ? 'YAML' : 'JSON'}: ${errorMessage(error).split('\n')[0]}`,
      { hint: 'fix the syntax error, or name the file .yaml/.yml if it is YAML', cause: error },
    );
  }
  return parseScenario(value, `scenario file ${path}`);
}

function compile(pattern: string, source: string, name: string, field: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new OrchestraError(
      'CONFIG_INVALID',
      `${source}: scenario "${name}" has an invalid match.${field} pattern: ${errorMessage(error)}`,
      { hint: 'match patterns are JavaScript regular expressions', cause: error },
    );
  }
}

/** The first few zod issues as `path: message; ...`, so the CLI can print one line. */
function oneLine(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '';
  return shown.join('; ') + more;
}
