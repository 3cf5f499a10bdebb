import matter from 'gray-matter';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import * as z from 'zod';
import { OrchestraError } from '../common/errors.js';
import { codeSpan, firstCodeSpan, hasUnclosedFence, listItems, parseHeading, scanLines } from './markdown.js';
import { formatTaskId, taskNumber, taskNumberFromRef } from './naming.js';

/**
 * The task file format (DESIGN.md, "Task file"): optional YAML front matter, a `# ` title and
 * `## ` sections, of which only Goal is required. Pure: text in, {@link TaskFile} out, and back.
 */

/**
 * Largest task file accepted, in bytes. A task is a page of prose; a file this big is a pasted
 * log or a wrong file, and all of it would go into every attempt's prompt.
 */
export const MAX_TASK_FILE_BYTES = 256 * 1024;

/**
 * Most attempts one best-of-n task may start at once: each is a container and an agent session,
 * so a larger number is far more likely a typo (`n: 30` for 3) than a plan.
 */
export const MAX_PARALLEL_ATTEMPTS = 16;

/** Attempts a best-of-n task runs when its front matter gives no `n`. */
export const DEFAULT_BEST_OF_N = 3;

/** The front-matter keys a task file may use; any other key is refused. */
export const TASK_FRONT_MATTER_KEYS = [
  'strategy',
  'n',
  'agent',
  'profile',
  'maxAttempts',
  'budgetUsd',
  'dependsOn',
  'rounds',
  'title',
  'origin',
  'cycle',
  'proposal',
  'kind',
] as const;

/** Who wrote a task: `autonomy`, the autonomy loop (issue 11). A person's tasks have no origin. */
export type TaskOrigin = 'autonomy';

/** What a task is for besides code: `plan`, the autonomy loop's planning task. */
export type TaskKind = 'plan';

/** Options that decide how a task runs, from the front matter, with defaults filled in. */
export interface TaskMeta {
  /** `single` (default), `best-of-n`, `refine`, or the name of a custom strategy. */
  strategy: string;
  /** Attempts in parallel: 1, or 3 for best-of-n unless given; at most {@link MAX_PARALLEL_ATTEMPTS}. */
  n: number;
  /** Agent adapter name from the config. */
  agent?: string;
  /** Profile name from the config. */
  profile?: string;
  /** How many times the task may be tried before it is failed. */
  maxAttempts?: number;
  /** Spending limit for the whole task, in USD. */
  budgetUsd?: number;
  /** Tasks that must be done first, as ids (`task-01`); bare numbers are written as ids. */
  dependsOn: string[];
  /** Rounds of the refine strategy. */
  rounds?: number;
  /** `autonomy` when the autonomy loop wrote the task; absent for a person's. */
  origin?: TaskOrigin;
  /** The autonomy cycle that wrote it, 1 or more; only with `origin`. */
  cycle?: number;
  /** The proposal's number within its cycle, 1 or more; only with `cycle`. */
  proposal?: number;
  /** `plan` for the autonomy loop's planning task. */
  kind?: TaskKind;
}

/** One line of the Acceptance criteria: `- [x] text` is done, `- [ ] text` and `- text` are not. */
export interface AcceptanceCriterion {
  text: string;
  done: boolean;
}

/** A parsed task file. */
export interface TaskFile {
  /** The file name without `.md`: `task-03`. */
  id: string;
  /** The number in the id: 3. */
  number: number;
  title: string;
  meta: TaskMeta;
  /** The Goal section, trimmed; never empty. */
  goal: string;
  before?: string;
  after?: string;
  acceptance: AcceptanceCriterion[];
  /** Files to touch, as written (relative to the repository); see `validateTaskPaths`. */
  files: string[];
  /** Commands of the Test plan: the first inline code of each item that has one. */
  testPlan: string[];
  /** Test plan items without inline code, as prose, in order. */
  testPlanText: string[];
  /** Every `## ` section by lower-cased, space-collapsed heading → its body (unknown ones too). */
  sections: Record<string, string>;
  /** The text the task was parsed from. */
  raw: string;
}

/** What `renderTaskFile` writes, e.g. from `orchestra task add`. Lists are one line per entry. */
export interface NewTask {
  title: string;
  goal: string;
  before?: string;
  after?: string;
  /** Acceptance criteria, written unchecked. */
  accept?: string[];
  /** Paths relative to the repository. */
  files?: string[];
  /** Shell commands, each written as "N. Run `command`". */
  testPlan?: string[];
  strategy?: string;
  n?: number;
  agent?: string;
  profile?: string;
  maxAttempts?: number;
  budgetUsd?: number;
  dependsOn?: string[];
  rounds?: number;
  origin?: TaskOrigin;
  cycle?: number;
  proposal?: number;
  kind?: TaskKind;
}

const HINT =
  'fix the file and queue it again; DESIGN.md "Task file" shows the format (only "## Goal" is required)';

function invalid(id: string | undefined, reason: string): OrchestraError {
  return new OrchestraError('TASK_INVALID', id === undefined ? reason : `${id}: ${reason}`, { hint: HINT });
}

/** Known sections by normalised heading; the aliases are the short forms people type. */
const SECTION_ALIASES: Record<string, string> = {
  goal: 'goal',
  before: 'before',
  after: 'after',
  'acceptance criteria': 'acceptance criteria',
  acceptance: 'acceptance criteria',
  'files to touch': 'files to touch',
  files: 'files to touch',
  'test plan': 'test plan',
  tests: 'test plan',
};
const KNOWN_SECTIONS = new Set(Object.values(SECTION_ALIASES));

/** Strategy, agent and profile names: the same alphabet as names in the config. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const NAME_MAX = 64;
/** `task-03`, `task-3` or `3`; nine digits at most keeps the number exact. */
const TASK_REF = /^(?:task-)?0*[1-9]\d{0,8}$/;

const nameSchema = z.string().max(NAME_MAX).regex(NAME_PATTERN);
const taskRefSchema = z.union([z.string().regex(TASK_REF), z.int().min(1)]);

const frontMatterSchema = z.strictObject({
  strategy: nameSchema.optional(),
  n: z.int().min(1).max(MAX_PARALLEL_ATTEMPTS).optional(),
  agent: nameSchema.optional(),
  profile: nameSchema.optional(),
  maxAttempts: z.int().min(1).optional(),
  budgetUsd: z.number().min(0).optional(),
  dependsOn: z.union([taskRefSchema, z.array(taskRefSchema)]).optional(),
  rounds: z.int().min(1).optional(),
  title: z
    .string()
    .regex(/^[^\n]*\S[^\n]*$/)
    .optional(),
  origin: z.literal('autonomy').optional(),
  cycle: z.int().min(1).optional(),
  proposal: z.int().min(1).optional(),
  kind: z.literal('plan').optional(),
});

/** What each key must be, for a message a task author can act on. */
const EXPECTED: Record<(typeof TASK_FRONT_MATTER_KEYS)[number], string> = {
  strategy: 'a strategy name (single, best-of-n, refine or a custom one; letters, digits, "-" and "_")',
  n: `an integer from 1 to ${MAX_PARALLEL_ATTEMPTS}`,
  agent: 'an agent name from the config (letters, digits, "-" and "_")',
  profile: 'a profile name from the config (letters, digits, "-" and "_")',
  maxAttempts: 'an integer of at least 1',
  budgetUsd: 'a number of US dollars, 0 or more',
  dependsOn: 'a task id or a list of them (task-01, or 1)',
  rounds: 'an integer of at least 1',
  title: 'a non-empty one-line string',
  origin: '"autonomy" (only the autonomy loop writes it; a person\'s task has none)',
  cycle: 'an integer of at least 1 (the autonomy cycle that wrote the task)',
  proposal: "an integer of at least 1 (the proposal's number within its cycle)",
  kind: '"plan" (the autonomy loop\'s planning task)',
};

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** `max_attempts` and `MaxAttempts` are meant as `maxAttempts`. */
function suggestKey(key: string): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_ ]/g, '');
  return TASK_FRONT_MATTER_KEYS.find((k) => fold(k) === fold(key));
}

/**
 * Validates front-matter data and fills in defaults. Keys whose value is YAML null (`agent:`)
 * count as absent.
 *
 * @throws OrchestraError TASK_INVALID naming the first bad key
 */
function validateMeta(
  data: Record<string, unknown>,
  id: string | undefined,
): { meta: TaskMeta; title: string | undefined } {
  const present = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null && v !== undefined));
  const result = frontMatterSchema.safeParse(present);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const guess = suggestKey(key);
      const tail = guess ? ` (did you mean "${guess}"?)` : ` (allowed: ${TASK_FRONT_MATTER_KEYS.join(', ')})`;
      throw invalid(id, `front matter: unknown key "${key}"${tail}`);
    }
    const key = String(issue.path[0]) as keyof typeof EXPECTED;
    throw invalid(id, `front matter: "${key}" must be ${EXPECTED[key]}, got ${describe(present[key])}`);
  }
  const fm = result.data;
  // A cycle means nothing without the loop that counts cycles, a proposal number nothing without its cycle.
  if (fm.cycle !== undefined && fm.origin === undefined) {
    throw invalid(
      id,
      'front matter: "cycle" is only for tasks the autonomy loop wrote (with origin: autonomy)',
    );
  }
  if (fm.proposal !== undefined && fm.cycle === undefined) {
    throw invalid(id, 'front matter: "proposal" needs the "cycle" it was proposed in');
  }
  const strategy = fm.strategy ?? 'single';
  const dependsOn: string[] = [];
  const refs = fm.dependsOn === undefined ? [] : Array.isArray(fm.dependsOn) ? fm.dependsOn : [fm.dependsOn];
  for (const ref of refs) {
    const dep = typeof ref === 'number' || !ref.startsWith('task-') ? formatTaskId(Number(ref)) : ref;
    if (!dependsOn.includes(dep)) dependsOn.push(dep);
  }
  const own = id === undefined ? undefined : taskNumber(id);
  if (own !== undefined && dependsOn.some((dep) => taskNumberFromRef(dep) === own)) {
    throw invalid(id, 'front matter: "dependsOn" names the task itself');
  }
  const meta: TaskMeta = {
    strategy,
    n: fm.n ?? (strategy === 'best-of-n' ? DEFAULT_BEST_OF_N : 1),
    dependsOn,
  };
  if (fm.agent !== undefined) meta.agent = fm.agent;
  if (fm.profile !== undefined) meta.profile = fm.profile;
  if (fm.maxAttempts !== undefined) meta.maxAttempts = fm.maxAttempts;
  if (fm.budgetUsd !== undefined) meta.budgetUsd = fm.budgetUsd;
  if (fm.rounds !== undefined) meta.rounds = fm.rounds;
  if (fm.origin !== undefined) meta.origin = fm.origin;
  if (fm.cycle !== undefined) meta.cycle = fm.cycle;
  if (fm.proposal !== undefined) meta.proposal = fm.proposal;
  if (fm.kind !== undefined) meta.kind = fm.kind;
  return { meta, title: fm.title?.trim() };
}

const refuseEngine = {
  parse(): never {
    // gray-matter's `javascript` engine runs eval(); a task file must never execute code.
    throw new OrchestraError('TASK_INVALID', 'front matter must be YAML');
  },
};

/** YAML for gray-matter: the `yaml` package's core schema, duplicate keys refused, mapping required. */
function parseFrontMatterYaml(source: string): Record<string, unknown> {
  const value: unknown = parseYaml(source, { uniqueKeys: true, maxAliasCount: 100, logLevel: 'error' });
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new OrchestraError('TASK_INVALID', 'front matter must be a YAML mapping of keys to values');
  }
  return value as Record<string, unknown>;
}

/**
 * Splits off the front matter with gray-matter and parses it as YAML. `lineOffset` is the number
 * of blank lines cut from the file's top, added to YAML error line numbers.
 */
function splitFrontMatter(
  text: string,
  id: string | undefined,
  lineOffset: number,
): { data: Record<string, unknown>; content: string } {
  if (!text.startsWith('---') || text.startsWith('----')) return { data: {}, content: text };
  const firstLineEnd = text.indexOf('\n');
  const language = (firstLineEnd === -1 ? text.slice(3) : text.slice(3, firstLineEnd)).trim();
  if (language !== '' && language !== 'yaml' && language !== 'yml') {
    throw invalid(id, `front matter language "${language}" is not supported; use YAML`);
  }
  // The same closing test gray-matter applies; without it gray-matter reads the whole file as YAML.
  if (firstLineEnd === -1 || text.indexOf('\n---', firstLineEnd - 1) === -1) {
    throw invalid(id, 'front matter is not closed: end it with a line of three dashes (---)');
  }
  try {
    // Passing options also keeps gray-matter from caching results by content, which would share objects.
    const file = matter(text, {
      language: 'yaml',
      engines: {
        yaml: { parse: parseFrontMatterYaml, stringify: () => '' },
        javascript: refuseEngine,
        js: refuseEngine,
        coffee: refuseEngine,
        json: refuseEngine,
      },
    });
    return { data: (file.data ?? {}) as Record<string, unknown>, content: file.content };
  } catch (error) {
    if (error instanceof OrchestraError) throw invalid(id, error.message);
    const first = (error instanceof Error ? error.message : String(error))
      .split('\n')[0]!
      .trim()
      .replace(/:$/, '')
      // gray-matter hands YAML the text from the end of the `---` line, so its line numbers are the
      // file's own, less the blank lines cut from the top.
      .replace(/\bat line (\d+)/, (_, line: string) => `at line ${Number(line) + lineOffset}`);
    throw invalid(id, `front matter is not valid YAML: ${first}`);
  }
}

/**
 * The front matter of a task file as plain data, read leniently and never validated: what a file
 * that the parser refuses (a rejected one) still says about itself, e.g. which proposal it was.
 *
 * @param text a task file's text
 * @returns the mapping; undefined when the text has no front matter or it is not YAML
 */
export function readFrontMatter(text: string): Record<string, unknown> | undefined {
  try {
    const normalised = text
      .replace(/^\uFEFF/, '')
      .replace(/\r\n?/g, '\n')
      .replace(/^(?:[ \t]*\n)*/, '');
    if (!normalised.startsWith('---')) return undefined;
    return splitFrontMatter(normalised, undefined, 0).data;
  } catch {
    // Unreadable front matter says nothing about the file; the caller treats it as having none.
    return undefined;
  }
}

/** Normalised section key: lower case, spaces collapsed, a trailing colon dropped, aliases resolved. */
function sectionKey(heading: string): string {
  const key = heading.toLowerCase().replace(/\s+/g, ' ').replace(/\s*:$/, '').trim();
  return SECTION_ALIASES[key] ?? key;
}

/** A section body without leading blank lines or trailing white space. */
function trimBody(lines: string[]): string {
  return lines
    .join('\n')
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
}

/**
 * The title (first `# ` heading, outside code) and the `## ` sections of a document. Text before
 * the first `## ` heading, and between the title and the next `## `, belongs to no section.
 */
function splitSections(
  content: string,
  id: string | undefined,
): { heading: string | undefined; sections: Map<string, string> } {
  let heading: string | undefined;
  const bodies = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of scanLines(content)) {
    const parsed = line.code ? undefined : parseHeading(line.text);
    if (parsed?.level === 1 && heading === undefined) {
      heading = parsed.text;
      current = undefined;
    } else if (parsed?.level === 2) {
      const key = sectionKey(parsed.text);
      const existing = bodies.get(key);
      if (existing !== undefined && KNOWN_SECTIONS.has(key)) {
        throw invalid(id, `the "## ${parsed.text}" section appears twice`);
      }
      if (existing !== undefined) {
        // An unknown section given twice is kept whole: both bodies, in order.
        existing.push('');
        current = existing;
      } else {
        current = [];
        bodies.set(key, current);
      }
    } else if (current !== undefined) {
      current.push(line.text);
    }
  }
  const sections = new Map<string, string>();
  for (const [key, lines] of bodies) sections.set(key, trimBody(lines));
  return { heading, sections };
}

function checkText(text: string, id: string | undefined): string {
  if (Buffer.byteLength(text, 'utf8') > MAX_TASK_FILE_BYTES) {
    throw invalid(id, tooLarge(Buffer.byteLength(text, 'utf8')));
  }
  if (text.includes('\0')) throw invalid(id, 'file is binary (it contains NUL bytes)');
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  if (normalised.trim() === '') throw invalid(id, 'file is empty');
  return normalised;
}

function tooLarge(bytes: number): string {
  return `file is ${Math.ceil(bytes / 1024)} KiB, over the ${MAX_TASK_FILE_BYTES / 1024} KiB limit for a task file`;
}

/**
 * Refuses a task file of `bytes` bytes when it is over {@link MAX_TASK_FILE_BYTES}, so the fs layer
 * can refuse a huge file from its size alone, before reading it.
 *
 * @throws OrchestraError TASK_INVALID
 */
export function checkTaskFileSize(bytes: number, id?: string): void {
  if (bytes > MAX_TASK_FILE_BYTES) throw invalid(id, tooLarge(bytes));
}

/**
 * Decodes the bytes of a task file, refusing what is not a text file before anything parses it.
 *
 * @param bytes the file's content
 * @param id the task id, for the message
 * @returns the text, without a byte-order mark
 * @throws OrchestraError TASK_INVALID when the file is empty, larger than
 *   {@link MAX_TASK_FILE_BYTES}, contains NUL bytes or is not valid UTF-8
 */
export function decodeTaskFile(bytes: Uint8Array, id?: string): string {
  if (bytes.length === 0) throw invalid(id, 'file is empty');
  if (bytes.length > MAX_TASK_FILE_BYTES) throw invalid(id, tooLarge(bytes.length));
  if (bytes.includes(0)) throw invalid(id, 'file is binary (it contains NUL bytes)');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw invalid(id, 'file is binary (it is not valid UTF-8 text)');
  }
}

/**
 * Parses a task file.
 *
 * Title: the first `# ` heading (a `task-NN:` prefix stripped), else front-matter `title`, else
 * the first line of the Goal. Section headings match case-insensitively with spaces collapsed;
 * `Acceptance`, `Files` and `Tests` are accepted for the long names.
 *
 * @param text the file's content (see {@link decodeTaskFile} for bytes)
 * @param opts.id the task id, i.e. the file name without `.md` (`task-03`)
 * @throws OrchestraError TASK_INVALID with a one-line reason: empty, binary or oversized text, a
 *   bad id, unclosed or invalid YAML, an unknown front-matter key, a value of the wrong type, a
 *   known section given twice, a missing or empty Goal
 */
export function parseTaskFile(text: string, opts: { id: string }): TaskFile {
  const { id } = opts;
  const number = taskNumber(id);
  if (number === undefined) {
    throw invalid(undefined, `"${id}" is not a task id: task files are named task-NN.md`);
  }
  // Leading blank lines would hide the front matter and turn it into Markdown.
  const checked = checkText(text, id);
  const leading = /^(?:[ \t]*\n)*/.exec(checked)![0];
  const normalised = checked.slice(leading.length);
  const { data, content } = splitFrontMatter(normalised, id, leading.split('\n').length - 1);
  const { meta, title: metaTitle } = validateMeta(data, id);
  const { heading, sections } = splitSections(content, id);

  const goal = sections.get('goal');
  if (goal === undefined) throw invalid(id, 'the "## Goal" section is missing');
  if (goal.trim() === '') throw invalid(id, 'the "## Goal" section is empty');

  const headingTitle = heading?.replace(/^task-\d+\s*:\s*/i, '').trim();
  const title =
    headingTitle ||
    metaTitle ||
    goal
      .split('\n')
      .find((line) => line.trim() !== '')!
      .trim();

  const acceptance = listItems(sections.get('acceptance criteria') ?? '').map((item) => {
    const box = /^\[([ xX])\](?:[ \t]+(.*))?$/.exec(item);
    return box ? { text: (box[2] ?? '').trim(), done: box[1] !== ' ' } : { text: item, done: false };
  });
  const files = listItems(sections.get('files to touch') ?? '')
    .map((item) => (firstCodeSpan(item) ?? item).trim())
    .filter((file) => file !== '');
  const testPlan: string[] = [];
  const testPlanText: string[] = [];
  for (const item of listItems(sections.get('test plan') ?? '')) {
    const command = firstCodeSpan(item)?.trim();
    if (command) testPlan.push(command);
    else testPlanText.push(item);
  }

  const task: TaskFile = {
    id,
    number,
    title,
    meta,
    goal,
    acceptance: acceptance.filter((criterion) => criterion.text !== ''),
    files,
    testPlan,
    testPlanText,
    sections: Object.fromEntries(sections),
    raw: text,
  };
  const before = sections.get('before');
  const after = sections.get('after');
  if (before) task.before = before;
  if (after) task.after = after;
  return task;
}

/** Front-matter keys in the order `renderTaskFile` writes them. */
const RENDER_ORDER = [
  'strategy',
  'n',
  'agent',
  'profile',
  'maxAttempts',
  'budgetUsd',
  'dependsOn',
  'rounds',
  'origin',
  'cycle',
  'proposal',
  'kind',
] as const;

function checkLine(value: string, what: string): string {
  const line = value.trim();
  if (line === '') throw invalid(undefined, `cannot write task: ${what} is empty`);
  if (/[\r\n]/.test(line)) throw invalid(undefined, `cannot write task: ${what} spans several lines`);
  return line;
}

function checkBody(value: string, what: string): string {
  const body = value
    .replace(/\r\n?/g, '\n')
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
  for (const line of scanLines(body)) {
    if (!line.code && parseHeading(line.text)?.level === 2) {
      throw invalid(
        undefined,
        `cannot write task: ${what} contains a "## " heading; use "###" inside a section`,
      );
    }
  }
  if (hasUnclosedFence(body))
    throw invalid(undefined, `cannot write task: ${what} has an unclosed code fence`);
  return body;
}

/**
 * Writes a task in the canonical format of DESIGN.md: front matter with only the keys given, the
 * title as `# task-NN: title`, then Goal, Before, After, Acceptance criteria, Files to touch and
 * Test plan, each only when given. `parseTaskFile(renderTaskFile(x, id), { id })` gives back x.
 *
 * @param input the task; strings are trimmed
 * @param id the task id for the title line; omitted, the title stands alone
 * @throws OrchestraError TASK_INVALID when a value would not read back as written: an empty
 *   title or goal, a multi-line list entry, a `## ` heading inside a section, a bad option
 */
export function renderTaskFile(input: NewTask, id?: string): string {
  const title = checkLine(input.title, 'the title').replace(/^task-\d+\s*:\s*/i, '');
  const goal = checkBody(input.goal, 'the goal');
  if (goal.trim() === '') throw invalid(undefined, 'cannot write task: the goal is empty');

  const data: Record<string, unknown> = {};
  for (const key of RENDER_ORDER) {
    if (input[key] !== undefined) data[key] = input[key];
  }
  validateMeta(data, id);

  const out: string[] = [];
  if (Object.keys(data).length > 0) out.push('---', stringifyYaml(data).trimEnd(), '---');
  out.push(`# ${id === undefined ? '' : `${id}: `}${title}`, '');
  const section = (heading: string, lines: string[]) => out.push(`## ${heading}`, '', ...lines, '');
  section('Goal', [goal]);
  if (input.before !== undefined && input.before.trim() !== '')
    section('Before', [checkBody(input.before, 'Before')]);
  if (input.after !== undefined && input.after.trim() !== '')
    section('After', [checkBody(input.after, 'After')]);
  if (input.accept?.length) {
    section(
      'Acceptance criteria',
      input.accept.map((c, i) => `- [ ] ${checkLine(c, `acceptance criterion ${i + 1}`)}`),
    );
  }
  if (input.files?.length) {
    section(
      'Files to touch',
      input.files.map((f, i) => `- ${codeSpan(checkLine(f, `file ${i + 1}`))}`),
    );
  }
  if (input.testPlan?.length) {
    section(
      'Test plan',
      input.testPlan.map((c, i) => `${i + 1}. Run ${codeSpan(checkLine(c, `test command ${i + 1}`))}`),
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}
