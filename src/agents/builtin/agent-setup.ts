import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as z from 'zod';
import { errorMessage, isOrchestraError, OrchestraError } from '../../common/errors.js';
import { loadConfig } from '../../config/load.js';
import {
  configSchema,
  DEFAULT_STALL_SECONDS,
  defaultConfig,
  MAX_STALL_SECONDS,
  type OrchestraConfig,
  type ProfileConfig,
} from '../../config/schema.js';
import { findRepoRoot } from '../../git/repo.js';

/**
 * What the agent runs with: its profile (model, tools, limits), the check commands and the task id.
 * The scheduler writes them to `<run-dir>/agent.json`; without that file (the agent started by
 * hand) they come from the repository's config, else from the built-in profiles.
 */

/** The file the scheduler writes into the run directory. */
export const AGENT_JSON_FILE = 'agent.json';

/** The profile name used when neither agent.json nor `--profile` names one. */
export const DEFAULT_PROFILE = 'coder';

/** The resolved inputs of one agent run. */
export interface AgentSetup {
  profile: ProfileConfig;
  /** Where the profile came from, for the transcript: `agent.json`, `config profile "coder"`, ... */
  source: string;
  checks: string[];
  taskId?: string;
  /** Spending cap, USD: agent.json's `budgetUsd`, else the profile's. */
  budgetUsd: number;
  /**
   * After task_complete, stay (state `done`) and wait for orchestra's inbox or the human, instead of
   * exiting: the scheduler's check gate may send failures back (agent.json `stayAfterComplete`).
   */
  stayAfterComplete: boolean;
  /**
   * `model.stallSeconds`, seconds: agent.json's `stallSeconds` (the scheduler copies the config's;
   * 60 when absent), or without agent.json the repository config's.
   */
  stallSeconds: number;
  /** `model.rateLimitMaxWaitMinutes`: agent.json's (the scheduler copies the config's), else 60. */
  rateLimitMaxWaitMinutes: number;
  /**
   * The autonomy planner's run (agent.json `proposals`): the agent gets the `propose_task` tool,
   * records at most `max` proposals (1 or more), and ending its turn finishes it.
   */
  proposals?: { max: number };
  /** The repository's memory (`.orchestra/memory.md`, already bounded), for the system prompt. */
  memory?: string;
}

const agentJsonSchema = z.looseObject({
  profile: z.unknown(),
  checks: z.array(z.string()).optional(),
  taskId: z.string().optional(),
  budgetUsd: z.number().positive().optional(),
  stayAfterComplete: z.boolean().optional(),
  stallSeconds: z.int().min(1).max(MAX_STALL_SECONDS).optional(),
  rateLimitMaxWaitMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .optional(),
  proposals: z.strictObject({ max: z.int().min(1) }).optional(),
  memory: z.string().optional(),
});

/**
 * Resolves the profile, checks and task id.
 *
 * @param runDir the attempt's run directory
 * @param cwd the worktree
 * @param profileName `--profile`, ignored when agent.json exists
 * @throws OrchestraError CONFIG_INVALID for a bad agent.json or an unknown profile, CONFIG_UNREADABLE
 *   when agent.json cannot be read, and whatever {@link loadConfig} throws for a bad config
 */
export async function resolveAgentSetup(opts: {
  runDir: string;
  cwd: string;
  profileName?: string;
  env: NodeJS.ProcessEnv;
}): Promise<AgentSetup> {
  const agentJson = join(opts.runDir, AGENT_JSON_FILE);
  const text = await readFile(agentJson, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new OrchestraError('CONFIG_UNREADABLE', `cannot read ${agentJson}: ${errorMessage(error)}`, {
      hint: 'make the file readable, or remove it to use the repository config',
      cause: error,
    });
  });
  if (text !== undefined) return fromAgentJson(agentJson, text);

  const config = await repositoryConfig(opts.cwd, opts.env);
  const name = opts.profileName ?? DEFAULT_PROFILE;
  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
  if (profile === undefined) {
    throw new OrchestraError('CONFIG_INVALID', `no profile named "${name}"`, {
      hint: `profiles: ${Object.keys(config.profiles).sort().join(', ')}; define it under "profiles" in .orchestra/orchestra.json`,
    });
  }
  return {
    profile,
    source: `profile "${name}"`,
    checks: config.check,
    budgetUsd: profile.budgetUsd,
    stayAfterComplete: false,
    stallSeconds: config.model.stallSeconds,
    rateLimitMaxWaitMinutes: config.model.rateLimitMaxWaitMinutes,
  };
}

/** The effective config of the repository holding `cwd`, or the defaults outside a repository. */
async function repositoryConfig(cwd: string, env: NodeJS.ProcessEnv): Promise<OrchestraConfig> {
  let root: string;
  try {
    root = await findRepoRoot(cwd);
  } catch (error) {
    if (isOrchestraError(error, 'NOT_A_REPO')) return defaultConfig();
    throw error;
  }
  return (await loadConfig(root, { env })).config;
}

function fromAgentJson(path: string, text: string): AgentSetup {
  const name = basename(path);
  const invalid = (why: string) =>
    new OrchestraError('CONFIG_INVALID', `${path}: ${why}`, {
      hint: `${name} is written by the scheduler: { "profile": {...}, "checks": [...], "taskId": "task-01", "proposals"?: { "max": 3 }, "memory"?: "..." }`,
    });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(`not valid JSON (${errorMessage(error)})`);
  }
  const parsed = agentJsonSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(`${issue.path.join('.') || 'value'}: ${issue.message}`);
  }
  // The config schema is the one definition of a profile; validating through it fills the same
  // defaults a config file would get. "agent-json" is no built-in profile name, so nothing is merged into it.
  const wrapped = configSchema.safeParse({ profiles: { 'agent-json': parsed.data.profile ?? {} } });
  if (!wrapped.success) {
    const issue = wrapped.error.issues[0]!;
    const where = ['profile', ...issue.path.slice(2).map(String)].join('.');
    throw invalid(`${where}: ${issue.message}`);
  }
  const profile = wrapped.data.profiles['agent-json']!;
  const setup: AgentSetup = {
    profile,
    source: name,
    checks: parsed.data.checks ?? [],
    budgetUsd: parsed.data.budgetUsd ?? profile.budgetUsd,
    stayAfterComplete: parsed.data.stayAfterComplete ?? false,
    stallSeconds: parsed.data.stallSeconds ?? DEFAULT_STALL_SECONDS,
    rateLimitMaxWaitMinutes: parsed.data.rateLimitMaxWaitMinutes ?? 60,
  };
  if (parsed.data.taskId !== undefined) setup.taskId = parsed.data.taskId;
  if (parsed.data.proposals !== undefined) setup.proposals = parsed.data.proposals;
  if (parsed.data.memory !== undefined) setup.memory = parsed.data.memory;
  return setup;
}
