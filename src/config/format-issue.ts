import type { z } from 'zod';
import { knownKeysAt } from './schema-walk.js';

/**
 * Turns zod issues into one-line problems of the form `file: json.path: expected ..., received ...`.
 * Pure: it reads the schema only to suggest a key for a misspelt one.
 */

type Schema = z.core.$ZodType;
type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** Longest rendering of a received value before it is cut, so one problem stays one line. */
const MAX_VALUE_CHARS = 40;

/** A received value for a message: JSON, cut to a short line; `undefined` reads as "nothing". */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 3)}...` : text;
}

/** The JSON type name of a value as a config author thinks of it: string, number, array, null... */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * A JSON path as people read it: `worker.memoryMb`, `setup[2]`, `agents.my-agent.type`, and
 * `keys.bindings["["]` for keys that would be ambiguous after a dot.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z0-9_-]+$/.test(segment))
      out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate `word` was most likely meant as, if any is close enough to be worth a "did you mean". */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance =
      candidate.toLowerCase() === word.toLowerCase()
        ? 0
        : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the word's length catches typos and dropped letters without suggesting unrelated keys.
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function bound(
  origin: string,
  limit: number | bigint,
  inclusive: boolean | undefined,
  atLeast: boolean,
): string {
  switch (origin) {
    case 'string':
      if (atLeast && Number(limit) === 1) return 'a non-empty string';
      return `${atLeast ? 'at least' : 'at most'} ${limit} characters`;
    case 'array':
      return `${atLeast ? 'at least' : 'at most'} ${limit} items`;
    default:
      return `a number ${atLeast ? '>' : '<'}${inclusive ? '=' : ''} ${limit}`;
  }
}

function measured(origin: string, input: unknown): string {
  if (origin === 'string' && typeof input === 'string' && input !== '') return `${input.length} characters`;
  if (origin === 'array' && Array.isArray(input)) return `${input.length} items`;
  return describeValue(input);
}

/**
 * The message for one issue, without file or path; the error map passed to `safeParse`, so
 * messages given in the schema itself take precedence. Returns undefined to fall back to zod's.
 */
export function issueMessage(issue: RawIssue): string | undefined {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      // zod's names for its own kinds, in JSON's terms.
      const expected =
        issue.expected === 'int' ? 'integer' : issue.expected === 'record' ? 'object' : issue.expected;
      if (input === undefined) return `missing, expected ${expected}`;
      const received =
        issue.expected === 'int' && typeof input === 'number' ? describeValue(input) : typeName(input);
      return `expected ${expected}, received ${received}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => describeValue(v));
      if (input === undefined) return `missing, expected one of ${values.join(', ')}`;
      const guess =
        typeof input === 'string'
          ? closestMatch(
              input,
              issue.values.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
      return `expected one of ${values.join(', ')}, received ${describeValue(input)}${hint}`;
    }
    case 'too_small':
      return `expected ${bound(issue.origin, issue.minimum, issue.inclusive, true)}, received ${measured(issue.origin, input)}`;
    case 'too_big':
      return `expected ${bound(issue.origin, issue.maximum, issue.inclusive, false)}, received ${measured(issue.origin, input)}`;
    case 'not_multiple_of':
      return `expected a multiple of ${issue.divisor}, received ${describeValue(input)}`;
    case 'invalid_format':
      return `expected a string matching ${issue.pattern ?? issue.format}, received ${describeValue(input)}`;
    case 'invalid_key': {
      const inner = issue.issues[0];
      return inner === undefined ? `invalid key ${describeValue(input)}` : `invalid key: ${inner.message}`;
    }
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return undefined;
  }
}

/**
 * Every issue as a one-line problem `file: path: message`. An object with several unknown keys
 * gives one problem per key, each with its own path and, when a known key is close, a suggestion.
 */
export function formatIssues(issues: readonly Issue[], file: string, schema: Schema): string[] {
  const line = (path: readonly PropertyKey[], message: string) =>
    path.length === 0 ? `${file}: ${message}` : `${file}: ${formatPath(path)}: ${message}`;
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const guess = closestMatch(key, known);
        const tail =
          guess !== undefined
            ? ` (did you mean "${guess}"?)`
            : known.length > 0
              ? ` (known: ${known.join(', ')})`
              : '';
        problems.push(line([...issue.path, key], `unknown key${tail}`));
      }
    } else {
      problems.push(line(issue.path, issue.message));
    }
  }
  return problems;
}
