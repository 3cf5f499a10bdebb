import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, relative, sep } from 'node:path';
import { type ParseError, parse, printParseErrorCode, stripComments, visit } from 'jsonc-parser';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { orchestraPaths } from '../common/paths.js';
import { ConfigError } from './config-error.js';
import { deepMerge } from './deep-merge.js';
import { formatIssues, issueMessage } from './format-issue.js';
import { configSchema, type OrchestraConfig } from './schema.js';
import { userConfigPath } from './user-config-path.js';

/** jsonc-parser's error codes in words a config author understands. */
const SYNTAX_PROBLEMS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'expected the end of the file after the top-level value',
  InvalidCommentToken: 'invalid comment',
  UnexpectedEndOfComment: 'unterminated /* comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

/** 1-based line and column (in UTF-16 units, as editors count) of `offset` in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Parses a config file's JSONC text (comments and trailing commas allowed). A file that holds only
 * comments or whitespace reads as `{}`, so a fully commented-out template is a valid config.
 *
 * @param text the file's content
 * @param file the name to report problems under
 * @returns the parsed value, not yet validated
 * @throws ConfigError (CONFIG_INVALID) with one `file:line:col: problem` per syntax error
 */
export function parseConfigText(text: string, file: string): unknown {
  // Editors on Windows may save a byte order mark; it is not part of the JSON.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (stripComments(source).trim() === '') return {};
  const errors: ParseError[] = [];
  const value: unknown = parse(source, errors, { allowTrailingComma: true, disallowComments: false });
  const problems = errors.map((error) => {
    const { line, column } = lineColumn(source, error.offset);
    const code = printParseErrorCode(error.error);
    return `${file}:${line}:${column}: ${SYNTAX_PROBLEMS[code] ?? code}`;
  });
  // The parser assigns keys with `obj[key] = value`, where "__proto__" would replace the object's
  // prototype instead of becoming a key the schema can refuse.
  visit(source, {
    onObjectProperty: (name, offset) => {
      if (name === '__proto__') {
        const { line, column } = lineColumn(source, offset);
        problems.push(`${file}:${line}:${column}: the key "__proto__" is not allowed`);
      }
    },
  });
  if (problems.length > 0) {
    throw new ConfigError(
      problems,
      `fix the syntax in ${file} (it is JSON with comments: keys and strings in double quotes)`,
    );
  }
  return value;
}

/**
 * Validates a parsed config against {@link configSchema} and fills in every default.
 *
 * @param raw the parsed file (from {@link parseConfigText})
 * @param file the name to report problems under
 * @throws ConfigError (CONFIG_INVALID): message is the first problem, `problems` all of them, each
 *   `file: json.path: expected ..., received ...`
 */
export function validateConfig(raw: unknown, file: string): OrchestraConfig {
  const result = configSchema.safeParse(raw, { error: issueMessage });
  if (result.success) return result.data;
  throw new ConfigError(
    formatIssues(result.error.issues, file, configSchema),
    `fix the key in ${file}, or run \`orchestra config validate\` to list every problem`,
  );
}

export { userConfigHome, userConfigPath } from './user-config-path.js';

/** The file's content, or undefined when it does not exist. */
async function readOptional(path: string, label: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OrchestraError('CONFIG_UNREADABLE', `cannot read ${label}: ${errorMessage(error)}`, {
      hint: `make ${label} a readable file, or remove it to use the defaults`,
      cause: error,
    });
  }
}

/** How a file is named in problems: relative to the repository, or to the home directory. */
function displayName(path: string, root: string, home: string): string {
  const inRepo = relative(root, path);
  if (!inRepo.startsWith('..') && !isAbsolute(inRepo)) return inRepo;
  const inHome = relative(home, path);
  if (home !== '' && !inHome.startsWith('..') && !isAbsolute(inHome)) return `~${sep}${inHome}`;
  return path;
}

/**
 * Loads the effective configuration of the repository at `root`: built-in defaults, under the
 * user-level file, under `.orchestra/orchestra.json`. Each file is validated on its own first, so
 * a problem names the file that has it; objects merge key by key, arrays replace. A missing file is
 * skipped. Nothing may start with a bad config, so every problem throws.
 *
 * @param root repository top level (absolute)
 * @param opts.userConfigPath overrides {@link userConfigPath}
 * @param opts.env environment for XDG_CONFIG_HOME and HOME (default `process.env`)
 * @returns the config and the absolute paths of the files that were read, lowest precedence first
 * @throws ConfigError (CONFIG_INVALID) for a syntax or schema problem
 * @throws OrchestraError CONFIG_UNREADABLE when a file exists but cannot be read
 */
export async function loadConfig(
  root: string,
  opts: { userConfigPath?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ config: OrchestraConfig; files: string[] }> {
  const env = opts.env ?? process.env;
  const home = env.HOME || homedir();
  const candidates = [opts.userConfigPath ?? userConfigPath(env), orchestraPaths(root).config];
  const files: string[] = [];
  const labels: string[] = [];
  let merged: unknown = {};
  for (const path of candidates) {
    const label = displayName(path, root, home);
    const text = await readOptional(path, label);
    if (text === undefined) continue;
    const raw = parseConfigText(text, label);
    validateConfig(raw, label);
    merged = deepMerge(merged, raw);
    files.push(path);
    labels.push(label);
  }
  // Files valid on their own can still clash once merged (a repo agent's profile defined only in
  // the user file, say); such a problem belongs to the combination, so it names both.
  const combined =
    labels.length > 1
      ? `${labels.at(-1)} (over ${labels.slice(0, -1).join(', ')})`
      : (labels[0] ?? 'defaults');
  return { config: validateConfig(merged, combined), files };
}
