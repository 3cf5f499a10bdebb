import { printable } from '../common/printable.js';

/** One attempt of a task as the compare view lists it. */
export interface DiffCandidate {
  id: string;
  state: string;
  /** Whether its last check run passed; undefined before it ran. */
  checkPassed?: boolean;
  /** The strategy's score (best-of-n's judge), higher is better. */
  score?: number;
  diffStat?: { files: number; insertions: number; deletions: number };
  /** Its commit is the task's result. */
  winner: boolean;
  /** A person picked it as the result (over the strategy's choice). */
  picked?: boolean;
}

/**
 * What `orchestra diff` and the task board's `d` show (command `task-diff`): one attempt's change
 * against the commit it started from, and every attempt of the task for comparison. The diff and
 * stat texts are git's, of files the agent wrote: hostile until made printable.
 */
export interface TaskDiff {
  taskId: string;
  attemptId: string;
  /** The commit the attempt started from, and its result (both in the host repository). */
  base: string;
  commit: string;
  /** `git diff --stat` text and its counts. */
  stat: { files: number; insertions: number; deletions: number; text: string };
  /** The unified diff, cut to a byte budget (`truncated`; `totalBytes` before the cut). */
  diff: { text: string; truncated: boolean; totalBytes: number };
  candidates: DiffCandidate[];
}

/** How a diff line is shown: added, removed, a hunk header, a file header, or context. */
export type DiffLineKind = 'add' | 'del' | 'hunk' | 'file' | 'context';

/** Columns a tab takes when a diff is shown (git's and less's default). */
const TAB_WIDTH = 8;

/**
 * A unified diff as lines to show: tabs expanded, every escape sequence and control character
 * the agent's files carried taken out, each line with its kind for colouring.
 */
export function diffDisplayLines(text: string): Array<{ text: string; kind: DiffLineKind }> {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((raw) => {
      let line = '';
      for (const ch of raw) line += ch === '\t' ? ' '.repeat(TAB_WIDTH - (line.length % TAB_WIDTH)) : ch;
      const shown = printable(line);
      const kind: DiffLineKind =
        raw.startsWith('diff --git') || raw.startsWith('+++ ') || raw.startsWith('--- ')
          ? 'file'
          : raw.startsWith('@@')
            ? 'hunk'
            : raw.startsWith('+')
              ? 'add'
              : raw.startsWith('-')
                ? 'del'
                : 'context';
      return { text: shown, kind };
    });
}

/** The compare view's lines: each candidate with its check result, score, diffstat, the winner marked. */
export function candidateLines(diff: TaskDiff): string[] {
  return diff.candidates.map((c) => {
    const check = c.checkPassed === undefined ? 'unchecked' : c.checkPassed ? 'checks pass' : 'checks fail';
    const score = c.score === undefined ? '' : `  score ${c.score}`;
    const stat = c.diffStat
      ? `  ${c.diffStat.files} files +${c.diffStat.insertions} -${c.diffStat.deletions}`
      : '';
    const mark = c.winner ? '*' : c.id === diff.attemptId ? '>' : ' ';
    const result = c.winner ? (c.picked ? '  (the result, picked by you)' : '  (the result)') : '';
    return printable(`${mark} ${c.id}  ${c.state}  ${check}${score}${stat}${result}`);
  });
}
