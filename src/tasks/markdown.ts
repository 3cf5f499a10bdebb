/**
 * The little Markdown a task file needs (headings, fenced code, list items, inline code), after
 * CommonMark but tolerant where people are sloppy. Pure: strings in, strings out.
 */

/** One line of a document, marked when it belongs to a fenced code block (fences included). */
export interface ScannedLine {
  text: string;
  code: boolean;
}

/**
 * Opening fence: three or more backticks or tildes. CommonMark allows at most three spaces of
 * indentation, but fences inside list items are indented further, so any indentation counts here:
 * a `## ` inside an indented fence must not start a section.
 */
const FENCE_OPEN = /^[ \t]*(`{3,}|~{3,})(.*)$/;

/** Splits `text` (LF line endings) into lines, marking those inside fenced code blocks. */
export function scanLines(text: string): ScannedLine[] {
  return scan(text).lines;
}

/** True when `text` ends inside a fenced code block that was never closed. */
export function hasUnclosedFence(text: string): boolean {
  return scan(text).open;
}

function scan(text: string): { lines: ScannedLine[]; open: boolean } {
  const lines: ScannedLine[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    if (fence === undefined) {
      const open = FENCE_OPEN.exec(line);
      // A backtick fence's info string may not contain backticks (CommonMark 4.5), else it is inline code.
      if (open && !(open[1]!.startsWith('`') && open[2]!.includes('`'))) {
        fence = open[1]!;
        lines.push({ text: line, code: true });
      } else {
        lines.push({ text: line, code: false });
      }
    } else {
      const trimmed = line.trim();
      if (trimmed.length >= fence.length && trimmed === fence[0]!.repeat(trimmed.length)) fence = undefined;
      lines.push({ text: line, code: true });
    }
  }
  return { lines, open: fence !== undefined };
}

/** An ATX heading: `level` 1–6 and its text with the optional closing `#`s removed. */
export interface Heading {
  level: number;
  text: string;
}

/** The ATX heading on `line` (`## Goal`, `##   Goal  ##`), or undefined when it is not one. */
export function parseHeading(line: string): Heading | undefined {
  const match = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/.exec(line);
  if (!match) return undefined;
  let text = (match[2] ?? '').trim();
  // A closing sequence is `#`s preceded by a space (or the whole content): "C#" keeps its "#".
  text = text === '' || /^#+$/.test(text) ? '' : text.replace(/[ \t]+#+$/, '');
  return { level: match[1]!.length, text: text.trim() };
}

/** A bullet (`-`, `*`, `+`) or ordered (`1.`, `1)`) list marker followed by a space or the line end. */
const LIST_ITEM = /^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;

/**
 * The list items of a section body, each as one line of text: continuation lines (indented, or
 * directly after the item) are joined with a space; nested items count as items of their own;
 * lines inside fenced code and paragraphs after a blank line are not items.
 */
export function listItems(body: string): string[] {
  const items: string[] = [];
  let current: string[] | undefined;
  let blank = false;
  const flush = () => {
    if (current !== undefined) items.push(current.join(' ').trim());
    current = undefined;
  };
  for (const line of scanLines(body)) {
    if (line.code) continue;
    if (line.text.trim() === '') {
      blank = true;
      continue;
    }
    const item = LIST_ITEM.exec(line.text);
    if (item) {
      flush();
      current = [(item[1] ?? '').trim()];
    } else if (current !== undefined && (/^[ \t]/.test(line.text) || !blank)) {
      current.push(line.text.trim());
    } else {
      flush();
    }
    blank = false;
  }
  flush();
  return items.filter((item) => item !== '');
}

/**
 * The content of the first inline code span in `text` (CommonMark 6.1): a run of N backticks up
 * to the next run of exactly N; one space is stripped from each side when both sides have one.
 * Undefined when `text` has no complete code span.
 */
export function firstCodeSpan(text: string): string | undefined {
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('`', i);
    if (open === -1) return undefined;
    let end = open;
    while (text[end] === '`') end++;
    const run = end - open;
    if (open > 0 && text[open - 1] === '\\') {
      // An escaped backtick is literal; the rest of the run may still open a span.
      i = open + 1;
      continue;
    }
    let search = end;
    for (;;) {
      const close = text.indexOf('`', search);
      if (close === -1) break;
      let closeEnd = close;
      while (text[closeEnd] === '`') closeEnd++;
      if (closeEnd - close === run) {
        let content = text.slice(end, close);
        if (
          content.length >= 2 &&
          content.startsWith(' ') &&
          content.endsWith(' ') &&
          content.trim() !== ''
        ) {
          content = content.slice(1, -1);
        }
        return content;
      }
      search = closeEnd;
    }
    // No closing run of the same length: the opening run is literal text.
    i = end;
  }
  return undefined;
}

/** `content` as an inline code span that {@link firstCodeSpan} reads back unchanged. */
export function codeSpan(content: string): string {
  let longest = 0;
  for (const run of content.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  const fence = '`'.repeat(longest + 1);
  const pad =
    content.startsWith('`') || content.endsWith('`') || (content.startsWith(' ') && content.endsWith(' '));
  return pad ? `${fence} ${content} ${fence}` : `${fence}${content}${fence}`;
}

/** A fence for a code block holding `content`: longer than any backtick run inside it. */
export function codeFence(content: string): string {
  let longest = 0;
  for (const run of content.match(/^[ \t]*`{3,}/gm) ?? []) longest = Math.max(longest, run.trim().length);
  return '`'.repeat(Math.max(3, longest + 1));
}
