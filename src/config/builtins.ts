/**
 * Agents and profiles that exist without any config. A user's entry of the same name is merged over
 * the built-in one (see `schema.ts`), so `"profiles": { "coder": { "model": "..." } }` changes only
 * the model. These are raw inputs: the schema fills the remaining fields with their defaults.
 */

/** The model the built-in profiles use: Anthropic's current general coding model. */
export const DEFAULT_MODEL = 'claude-sonnet-4-6';

/** A built-in agent adapter entry, before validation. */
export interface BuiltinAgentInput {
  type: string;
  profile?: string;
}

/** A built-in profile entry, before validation (fields as in the config's profile schema). */
export interface BuiltinProfileInput {
  model: string;
  systemPrompt?: string;
  tools?: string[];
  readOnly?: boolean;
  maxTurns?: number;
  budgetUsd?: number;
  maxTokens?: number;
  editable?: string[];
  report?: boolean;
  images?: boolean;
}

/** One adapter per supported agent CLI, plus orchestra's own agent using the `coder` profile. */
export const BUILTIN_AGENTS: Readonly<Record<string, BuiltinAgentInput>> = {
  orchestra: { type: 'orchestra', profile: 'coder' },
  claude: { type: 'claude' },
  codex: { type: 'codex' },
  aider: { type: 'aider' },
  shell: { type: 'shell' },
};

/**
 * What the `docs` profile may change: documentation by extension anywhere, and the `docs/` folder.
 * The README's profile table repeats this list.
 */
export const DOCS_EDITABLE = ['**/*.md', '**/*.mdx', '**/*.rst', '**/*.txt', 'docs/**'];

/**
 * The built-in profiles, one line of purpose each (the README's profile table says the same):
 *
 * - `coder` changes code and runs the checks: the default.
 * - `architect` reads the code and plans (read-only); the autonomy loop plans with it.
 * - `reviewer` reads a change and reports bugs, risks and missing tests (read-only); judges use it.
 * - `research` investigates a question (read-only) and writes `report.md` into its run directory.
 * - `docs` changes only documentation files ({@link DOCS_EDITABLE}).
 * - `memory` keeps `.orchestra/memory.md`, a short file of conventions and lessons; orchestra
 *   calls its model directly with this prompt and these limits (read-only: it edits nothing itself).
 * - `vision` is `coder` that also sees images: the editor's view of a PNG, JPEG, GIF or WebP
 *   returns the picture.
 *
 * Profiles that do not change code get fewer turns and a smaller budget because they produce a
 * plan, a review or a report, not a change.
 */
export const BUILTIN_PROFILES: Readonly<Record<string, BuiltinProfileInput>> = {
  coder: { model: DEFAULT_MODEL, readOnly: false, maxTurns: 50, budgetUsd: 5 },
  architect: {
    model: DEFAULT_MODEL,
    systemPrompt:
      'You are the architect. Read the code and write a step-by-step plan for the task; do not change files.',
    readOnly: true,
    maxTurns: 30,
    budgetUsd: 2,
  },
  reviewer: {
    model: DEFAULT_MODEL,
    systemPrompt:
      'You are the reviewer. Read the change against the task and report bugs, risks and missing tests; do not change files.',
    readOnly: true,
    maxTurns: 30,
    budgetUsd: 2,
  },
  research: {
    model: DEFAULT_MODEL,
    systemPrompt:
      'You are the researcher. Investigate what the task asks by reading the code, its history and its documentation; do not change files in the worktree. Write your findings as a markdown report to the report file named below, citing files and line numbers, then call task_complete with a short summary.',
    readOnly: true,
    report: true,
    maxTurns: 40,
    budgetUsd: 2,
  },
  docs: {
    model: DEFAULT_MODEL,
    systemPrompt:
      'You are the technical writer. Make the documentation change the task asks for, describing the code as it is (read it to check); only documentation files can be changed.',
    editable: DOCS_EDITABLE,
    maxTurns: 40,
    budgetUsd: 3,
  },
  memory: {
    model: DEFAULT_MODEL,
    systemPrompt:
      "You keep the repository's memory: a short markdown file of conventions and lessons for the agents that work here (how to build and test, style rules, pitfalls that cost a retry). Given the current file and what just happened, answer with the whole updated file: under about 60 lines, duplicates merged, stale entries dropped, and only what a future agent would act on.",
    readOnly: true,
    maxTurns: 5,
    budgetUsd: 0.5,
    maxTokens: 4096,
  },
  vision: { model: DEFAULT_MODEL, readOnly: false, images: true, maxTurns: 50, budgetUsd: 5 },
};
