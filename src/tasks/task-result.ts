import { printable } from '../common/printable.js';
import { codeFence, scanLines } from './markdown.js';

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
  /** Check rounds each attempt ran (a round: the checks once, after the agent said done), oldest first. */
  checkRounds?: Array<{ attempt: string; rounds: number; passed: boolean }>;
  /** The reviews (refine), oldest first; `comments` is the reviewer's text, shortened to one line. */
  reviews?: Array<{ attempt: string; approved: boolean; comments: string }>;
  /** How `costUsd` splits: the agents, and the judge and reviewer calls, USD. */
  costParts?: { agentsUsd?: number; reviewUsd?: number };
  /** Rules applied that a reader must know of (a judge that failed and the fallback kept instead). */
  notes?: string[];
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

/** Characters of each review kept in the Result: its gist; the whole text is in the run's log. */
const REVIEW_CHARS = 300;

/** ` (agents $0.12 USD, judge and reviewer $0.01 USD)` when both parts are known, else ''. */
function costParts(parts: TaskResult['costParts']): string {
  if (parts?.agentsUsd === undefined || parts.reviewUsd === undefined || parts.reviewUsd === 0) return '';
  return ` (agents ${formatUsd(parts.agentsUsd)}, judge and reviewer ${formatUsd(parts.reviewUsd)})`;
}

/** One line of untrusted text (an agent's words, a reason): control sequences and characters out. */
function oneLine(text: string): string {
  return printable(text).replace(/\s+/g, ' ').trim();
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
    `- cost: ${formatUsd(result.costUsd)}${costParts(result.costParts)}`,
  ];
  if (outcome === 'failed' || result.reason !== undefined) {
    out.push(`- reason: ${oneLine(result.reason ?? '') || 'unknown'}`);
  }
  if (result.checkRounds?.length) {
    const rounds = result.checkRounds.map(
      (r) => `${r.attempt} ${r.rounds} (${r.passed ? 'passed' : 'not passed'})`,
    );
    out.push(`- check rounds: ${rounds.join(', ')}`);
  }
  if (result.reviews?.length) {
    const approved = result.reviews.filter((r) => r.approved).length;
    out.push(`- reviews: ${result.reviews.length}, ${approved} approving`);
  }
  for (const note of result.notes ?? []) out.push(`- note: ${oneLine(note)}`);
  if (result.candidates?.length) {
    out.push('', '| attempt | check | score | chosen |', '| --- | --- | --- | --- |');
    for (const c of result.candidates) {
      const score = c.score === undefined ? '' : String(c.score);
      out.push(`| ${cell(String(c.attempt))} | ${c.check} | ${score} | ${c.chosen ? 'yes' : ''} |`);
    }
  }
  if (result.reviews?.length) {
    out.push('', 'Reviews:', '');
    result.reviews.forEach((r, i) => {
      const words = oneLine(r.comments);
      const cut = words.length > REVIEW_CHARS ? `${words.slice(0, REVIEW_CHARS - 1)}…` : words;
      out.push(
        `${i + 1}. ${r.attempt}: ${r.approved ? 'approved' : 'changes asked'}${cut ? ` — ${cut}` : ''}`,
      );
    });
  }
  if (result.checkOutput !== undefined && result.checkOutput.trim() !== '') {
    const tail = outputTail(result.checkOutput);
    const fence = codeFence(tail);
    out.push('', `Check output (last ${CHECK_OUTPUT_LINES} lines):`, '', `${fence}text`, tail, fence);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The list right under the server's `## Result` heading of an archived task file: the last such
 * heading outside fenced code, and its `- key: value` lines up to the first other line. Fences
 * matter: the check output rendered below the list is an agent's, and a `## Result` with its own
 * `- branch:` and `- commit:` inside it must not stand in for the server's when a restarted server
 * reads a half-done archive back (archive.ts) and, with `autoMerge`, merges what it names.
 *
 * @param text the file's text, any line endings
 * @returns the list's lines, `- ` included; empty when there is no Result
 */
export function resultList(text: string): string[] {
  const lines = scanLines(text.replace(/\r\n?/g, '\n'));
  let start = -1;
  lines.forEach((line, i) => {
    if (!line.code && /^## Result[ \t]*$/.test(line.text)) start = i;
  });
  if (start === -1) return [];
  const list: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (line.code || !line.text.startsWith('- ')) break;
    list.push(line.text);
  }
  return list;
}

/** The `reason:` of the server's `## Result` section in an archived task file ({@link resultList}), if any. */
export function resultReason(text: string): string | undefined {
  for (const line of resultList(text)) {
    const match = /^- reason: (.*)$/.exec(line);
    if (match) return match[1]!.trim();
  }
  return undefined;
}
