/**
 * The shell one-liner that agent CLI hooks run to append a `status` line to the attempt's
 * `events.jsonl` (DESIGN.md, "Agent status protocol"). POSIX `sh`, `printf` and `date` only — no jq,
 * no Node — so it works in any worker image; the run directory comes from `$ORCHESTRA_RUN_DIR`.
 */

/** The states an agent reports (DESIGN.md, "Agent status protocol"). */
/**
 * The states an agent reports. `rate-limited`: the model API asked it to wait (429); its summary
 * is `until <ISO time>`, and it is working again after (issue 13).
 */
export const AGENT_STATUS_STATES = ['working', 'waiting', 'done', 'error', 'rate-limited'] as const;
export type AgentStatusState = (typeof AGENT_STATUS_STATES)[number];

/** Text that can sit inside the JSON line and the printf format unescaped: no quotes, `\`, `%` or `$`. */
const PLAIN_TEXT = /^[A-Za-z0-9 .,:_()/-]*$/;

/** The fixed fields of one status line. `summary` and `source` must be plain text (see PLAIN_TEXT). */
export interface StatusLine {
  state: AgentStatusState;
  summary: string;
  /** Which CLI hook wrote it, e.g. `claude-code:Stop`. */
  source: string;
}

/**
 * The script body: appends `{"ts":"<ISO 8601, UTC, seconds>","type":"status","state":...,
 * "summary":...,"source":...}` and a newline with one `printf` (one write(2) on an O_APPEND file,
 * so lines from concurrent hooks do not interleave). It always exits 0: a hook that fails must not
 * block the CLI (Claude Code treats exit code 2 from a Stop hook as "keep going").
 *
 * @throws Error when `summary` or `source` holds a character that would need escaping
 */
export function statusScript(line: StatusLine): string {
  for (const text of [line.summary, line.source]) {
    if (!PLAIN_TEXT.test(text)) throw new Error(`status text needs escaping: ${JSON.stringify(text)}`);
  }
  const json = `{"ts":"%s","type":"status","state":"${line.state}","summary":"${line.summary}","source":"${line.source}"}`;
  const format = `${json.replaceAll('"', '\\"')}\\n`;
  return `printf "${format}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$ORCHESTRA_RUN_DIR/events.jsonl" || true`;
}

/**
 * The same as one `sh -c '...'` command line, for CLIs that take a hook as a shell string (Claude
 * Code's `command` hooks, Aider's `--notifications-command`). Wrapping in `sh -c` keeps it POSIX
 * whatever shell the CLI hands it to.
 */
export function statusCommand(line: StatusLine): string {
  // statusScript never emits a single quote, so single-quoting it needs no escapes.
  return `sh -c '${statusScript(line)}'`;
}
