/**
 * Number formats of the agent's live transcript: token counts, dollars and delays, kept short so a
 * turn line fits a narrow pane.
 */

/** `950`, `12.4k`, `3.1M`: a token count in at most five characters plus the unit. */
export function formatTokens(count: number): string {
  if (count < 1000) return String(count);
  if (count < 1_000_000) return `${(count / 1000).toFixed(1)}k`;
  return `${(count / 1_000_000).toFixed(1)}M`;
}

/** `$0.0213` for a running cost: four decimals, because one turn often costs under a cent. */
export function formatCost(usd: number | undefined): string {
  return usd === undefined ? '$?' : `$${usd.toFixed(4)}`;
}

/** `$5.00`, `$0.50`, `$0.0010`: a budget, with cents unless it is smaller than a cent. */
export function formatBudget(usd: number): string {
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

/** `250ms`, `2s`, `1.5s`, `2m`, `2m 5s`: a delay for "retrying in ...". */
export function formatDelay(ms: number): string {
  const rounded = Math.round(ms);
  if (rounded < 1000) return `${rounded}ms`;
  if (rounded < 60_000) {
    const seconds = rounded / 1000;
    return Number.isInteger(seconds) ? `${seconds}s` : `${seconds.toFixed(1)}s`;
  }
  const minutes = Math.floor(rounded / 60_000);
  const seconds = Math.round((rounded % 60_000) / 1000);
  return seconds === 0 ? `${minutes}m` : `${minutes}m ${seconds}s`;
}

/** The first line of `text`, cut to `max` characters with an ellipsis; `…` marks hidden lines too. */
export function firstLine(text: string, max = 100): string {
  const trimmed = text.trim();
  const newline = trimmed.indexOf('\n');
  const line = newline === -1 ? trimmed : trimmed.slice(0, newline);
  const more = newline !== -1;
  if (line.length > max) return `${line.slice(0, max - 1)}…`;
  return more ? `${line} …` : line;
}

/** Number of lines in a tool's output: 0 for empty output, a missing final newline still counts. */
export function countLines(text: string): number {
  if (text === '') return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}
