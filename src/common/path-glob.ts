/**
 * The glob patterns of a profile's `editable` list: paths relative to the worktree, `/`-separated.
 * Pure; no file system. Node 20's `path.matchesGlob` is experimental (it prints a warning into the
 * agent's pane) and appears only in 20.17, and no glob library is a dependency, so this is the
 * small, strict subset the setting needs; anything outside it is refused rather than guessed at:
 *
 * - `*` any characters within one path segment, `?` one character within a segment;
 * - `**` as a whole segment: any number of segments (`**` alone: every path; `docs/**`: everything
 *   below docs; `**\/*.md`: markdown files at any depth);
 * - `{a,b}` alternatives within a segment (not nested);
 * - everything else is literal.
 *
 * As in shells and the usual glob libraries, a wildcard never matches a name that starts with `.`:
 * `**\/*.md` leaves `.github/notes.md` out; a pattern segment that starts with `.` matches such
 * names (`.github/**`).
 */

/** Matches a name segment that does not start with a dot: what `*` and `**` may stand for. */
const VISIBLE_SEGMENT = '(?!\\.)[^/]+';

/**
 * Why `pattern` is not a glob this module accepts, or undefined when it is.
 *
 * @returns a short reason, e.g. `character classes "[...]" are not supported; list alternatives with {a,b}`
 */
export function globProblem(pattern: string): string | undefined {
  if (pattern === '') return 'the pattern is empty';
  if (pattern.startsWith('/')) return 'it is absolute; patterns are relative to the worktree, e.g. "docs/**"';
  if (pattern.startsWith('!')) return 'negation ("!") is not supported; list only what may be edited';
  if (pattern.includes('\\')) return 'backslash escapes are not supported';
  if (/[[\]]/.test(pattern))
    return 'character classes "[...]" are not supported; list alternatives with {a,b}';
  for (const segment of pattern.split('/')) {
    if (segment === '')
      return 'it has an empty path segment ("//" or a trailing "/"); end with "/**" for a folder';
    if (segment === '.' || segment === '..') return '"." and ".." segments are not allowed';
    if (segment.includes('**') && segment !== '**')
      return '"**" must be a whole path segment, e.g. "docs/**/*.md"';
    let depth = 0;
    for (const char of segment) {
      if (char === '{') depth++;
      if (char === '}') depth--;
      if (depth < 0 || depth > 1) return '"{" and "}" must pair up, without nesting';
    }
    if (depth !== 0) return '"{" and "}" must pair up, without nesting';
  }
  return undefined;
}

/**
 * The regular expression for a valid pattern (see {@link globProblem}); it matches whole
 * `/`-separated relative paths.
 *
 * @throws Error when `pattern` is not valid: validate config input with {@link globProblem} first
 */
export function globRegExp(pattern: string): RegExp {
  const problem = globProblem(pattern);
  if (problem !== undefined) throw new Error(`invalid glob "${pattern}": ${problem}`);
  const segments = pattern.split('/');
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') {
      source += last ? `${VISIBLE_SEGMENT}(?:/${VISIBLE_SEGMENT})*` : `(?:${VISIBLE_SEGMENT}/)*`;
      return;
    }
    source += segmentSource(segment) + (last ? '' : '/');
  });
  return new RegExp(`^${source}$`);
}

function segmentSource(segment: string): string {
  let out = segment.startsWith('.') ? '' : '(?!\\.)';
  let inBraces = false;
  for (const char of segment) {
    if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else if (char === '{') {
      out += '(?:';
      inBraces = true;
    } else if (char === '}') {
      out += ')';
      inBraces = false;
    } else if (char === ',' && inBraces) out += '|';
    else out += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

/**
 * True when the relative path `path` (`/`-separated, no leading `./`) matches any of `patterns`.
 *
 * @throws Error for an invalid pattern (see {@link globRegExp})
 */
export function matchesAnyGlob(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => globRegExp(pattern).test(path));
}
