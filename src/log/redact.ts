/**
 * Secret redaction for log lines (DESIGN.md, "Security": secrets never reach logs). Two layers:
 * values under secret-looking keys are replaced wherever they sit in a logged object, and known
 * secret values (plus anything shaped like an Anthropic key) are cut out of the final JSON line,
 * which also covers messages, error stacks and child bindings.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** Environment variables whose values are always treated as secrets. */
export const SECRET_ENV_VARS = [
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
] as const;

/**
 * Secret values shorter than this are ignored: replacing a 3-character "secret" everywhere would
 * shred unrelated text and could break the JSON line, and no real credential is that short.
 */
export const MIN_SECRET_LENGTH = 8;

/** Anthropic API keys and OAuth tokens all start with `sk-ant-`; redact them even when unknown. */
const ANTHROPIC_KEY_PATTERN = /sk-ant-[A-Za-z0-9_-]+/g;

/** Last words of key names whose values are secrets. */
const SECRET_LAST_WORDS = new Set([
  'apikey',
  'token',
  'secret',
  'secrets',
  'password',
  'passwd',
  'authorization',
]);

/**
 * True when a key names a secret: `apiKey`, `api_key`, `x-api-key`, `ANTHROPIC_API_KEY`, `token`,
 * `authToken`, `client_secret`, `password`, `Authorization`. Only the last word counts, so usage
 * counters such as `input_tokens` or `tokenCount` stay visible.
 */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  const last = words.at(-1);
  if (last === undefined) return false;
  if (SECRET_LAST_WORDS.has(last)) return true;
  return last === 'key' && words.at(-2) === 'api';
}

/**
 * A copy of `value` where every property with a secret key (at any depth, inside arrays too) is
 * {@link REDACTED}. Only plain objects and arrays are copied; class instances such as Error are
 * passed through for pino's serializers (their text is still covered by {@link redactSecretValues}).
 */
export function redactSecretKeys<T>(value: T): T {
  return walk(value, new WeakSet()) as T;
}

function walk(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  if (Array.isArray(value)) {
    seen.add(value);
    const out = value.map((item) => walk(item, seen));
    seen.delete(value);
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = isSecretKey(key) && child !== undefined && child !== null ? REDACTED : walk(child, seen);
  }
  seen.delete(value);
  return out;
}

/**
 * The secret values to cut out of log lines: the {@link SECRET_ENV_VARS} set in `env`, plus
 * `extra`, without empty or too-short ones, longest first (so a secret containing another is cut
 * whole).
 */
export function collectSecrets(
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const values = [...SECRET_ENV_VARS.map((name) => env[name]), ...extra];
  const usable = values.filter((v): v is string => typeof v === 'string' && v.length >= MIN_SECRET_LENGTH);
  return [...new Set(usable)].sort((a, b) => b.length - a.length);
}

/**
 * A function that replaces, in one serialized JSON log line, every occurrence of the given secret
 * values (as written and as JSON-escaped) and every `sk-ant-...` key with {@link REDACTED}.
 */
export function secretValueRedactor(secrets: readonly string[]): (line: string) => string {
  const needles = new Set<string>();
  for (const secret of secrets) {
    needles.add(secret);
    // Inside a JSON string, quotes, backslashes and control characters appear escaped.
    needles.add(JSON.stringify(secret).slice(1, -1));
  }
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const needle of ordered) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out.replace(ANTHROPIC_KEY_PATTERN, REDACTED);
  };
}
