import { codeFence } from './markdown.js';

/**
 * The `## Result` section appended to a task file when it is archived (DESIGN.md, "On disk":
 * done/ and failed/ files carry what happened). Pure: data in, Markdown out, and the reason back.
 */

/** How one attempt of a task fared in the checks, for the candidates table. */
export interface CandidateResult {
  /** Attempt number (1-based) or attempt id (`task-03-a2`). */
  attempt: number | string;
  check: 'pass' | 'fail';
  /** The strategy's score, when it scores attempts. */
  score?: number;
  /** True for the attempt whose work was kept. */
  chosen?: boolean;
}

/** What a finished task produced, as recorded in its archived file. */
export interface TaskResult {
  /** Branch of the kept attempt (`orchestra/task-03/a2`). */
  branch?: string;
  /** Commit of the kept work. */
  commit?: string;
  /** Attempts started. */
  attempts: number;
  /** Wall time from the first attempt's start to the end, in ms. */
  durationMs: number;
  /** Total spend in USD; undefined when not known (an agent that reports no usage). */
  costUsd?: number;
  /** Why the task failed (one line); used for outcome `failed`. */
  reason?: string;
  candidates?: CandidateResult[];
  /** Output of the check commands; only its last {@link CHECK_OUTPUT_LINES} lines are kept. */
  checkOutput?: string;
}

/** Lines of check output kept in an archived task: enough for a failing test's report, not a whole log. */
export const CHECK_OUTPUT_LINES = 40;

/** Terminal control sequences (CSI, OSC, other ESC pairs), which only garble a Markdown file. */
const ANSI = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;

/** A duration for people: `850 ms`, `12s`, `4m 12s`, `1h 2m 3s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** A USD amount: `$1.23`, and four decimals under a cent so small runs do not read as free. */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined || !Number.isFinite(usd)) return 'unknown';
  return `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)} USD`;
}

/** The last `lines` lines of terminal output, with control sequences and carriage-return redraws removed. */
export function outputTail(output: string, lines = CHECK_OUTPUT_LINES): string {
  const clean = output
    .replace(ANSI, '')
    .replace(/\r\n/g, '\n')
    .split('\n')
    // A progress bar redraws its line after \r; only what was last drawn is what a person saw.
    .map((line) => line.slice(line.lastIndexOf('\r') + 1))
    .join('\n')
    .replace(/\n+$/, '');
  return clean.split('\n').slice(-lines).join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function cell(value: string): string {
  return value.replace(/\|/g, '\\|');
}

/**
 * The `## Result` section for a task archived as `outcome` at `finishedAt`.
 *
 * @returns Markdown starting with `## Result` and ending with a newline
 */
export function renderTaskResult(outcome: 'done' | 'failed', result: TaskResult, finishedAt: Date): string {
  const out = [
    '## Result',
    '',
    `- status: ${outcome === 'done' ? 'succeeded' : 'failed'}`,
    `- finished: ${finishedAt.toISOString()}`,
    `- branch: ${result.branch ? `\`${result.branch}\`` : 'none'}`,
    `- commit: ${result.commit ? `\`${result.commit}\`` : 'none'}`,
    `- attempts: ${result.attempts}`,
    `- duration: ${formatDuration(result.durationMs)} (${Math.round(result.durationMs)} ms)`,
    `- cost: ${formatUsd(result.costUsd)}`,
  ];
  if (outcome === 'failed' || result.reason !== undefined) {
    out.push(`- reason: ${oneLine(result.reason ?? '') || 'unknown'}`);
  }
  if (result.candidates?.length) {
    out.push('', '| attempt | check | score | chosen |', '| --- | --- | --- | --- |');
    for (const c of result.candidates) {
      const score = c.score === undefined ? '' : String(c.score);
      out.push(`| ${cell(String(c.attempt))} | ${c.check} | ${score} | ${c.chosen ? 'yes' : ''} |`);
    }
  }
  if (result.checkOutput !== undefined && result.checkOutput.trim() !== '') {
    const tail = outputTail(result.checkOutput);
    const fence = codeFence(tail);
    out.push('', `Check output (last ${CHECK_OUTPUT_LINES} lines):`, '', `${fence}text`, tail, fence);
  }
  return `${out.join('\n')}\n`;
}

/** The `reason:` of the last `## Result` section in an archived task file, if any. */
export function resultReason(text: string): string | undefined {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let start = -1;
  lines.forEach((line, i) => {
    if (/^## Result[ \t]*$/.test(line)) start = i;
  });
  if (start === -1) return undefined;
  // Only the list right under the heading: the check output below may contain anything.
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('- ')) break;
    const match = /^- reason: (.*)$/.exec(line);
    if (match) return match[1]!.trim();
  }
  return undefined;
}
