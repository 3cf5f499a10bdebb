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

/** A built-in profile entry, before validation. */
export interface BuiltinProfileInput {
  model: string;
  systemPrompt?: string;
  tools?: string[];
  readOnly?: boolean;
  maxTurns?: number;
  budgetUsd?: number;
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
 * `coder` writes code; `architect` and `reviewer` only read. Read-only profiles get fewer turns and
 * a smaller budget because they produce a plan or a review, not a change.
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
};
