import { OrchestraError } from '../../common/errors.js';
import type { AgentConfig, AgentType, OrchestraConfig } from '../../config/schema.js';
import { aiderAdapter } from './aider.js';
import { claudeAdapter } from './claude.js';
import { codexAdapter } from './codex.js';
import { customAdapter } from './custom.js';
import { orchestraAdapter } from './orchestra.js';
import { shellAdapter } from './shell.js';
import type { AgentAdapter } from './types.js';

/** One adapter per agent type (config/schema.ts, `AGENT_TYPES`). */
export const ADAPTERS: Readonly<Record<AgentType, AgentAdapter>> = {
  orchestra: orchestraAdapter,
  claude: claudeAdapter,
  codex: codexAdapter,
  aider: aiderAdapter,
  shell: shellAdapter,
  custom: customAdapter,
};

/** The adapter for an agent entry of the config. */
export function adapterFor(agent: AgentConfig): AgentAdapter {
  return ADAPTERS[agent.type];
}

/** An agent picked for a task: its name, config entry and adapter. */
export interface ResolvedAgent {
  name: string;
  agent: AgentConfig;
  adapter: AgentAdapter;
}

/**
 * The agent a task runs with: the one it names in its front matter, else the config's
 * `defaultAgent`.
 *
 * @param name the task's `agent` field, if any
 * @throws OrchestraError TASK_INVALID when `name` is not an agent of the config, CONFIG_INVALID
 *   when `defaultAgent` is not (the schema normally rules that out)
 */
export function resolveAgent(config: OrchestraConfig, name?: string): ResolvedAgent {
  const chosen = name ?? config.defaultAgent;
  if (!Object.hasOwn(config.agents, chosen)) {
    const known = Object.keys(config.agents).sort().join(', ');
    throw new OrchestraError(
      name === undefined ? 'CONFIG_INVALID' : 'TASK_INVALID',
      name === undefined
        ? `defaultAgent "${chosen}" names no agent`
        : `the task names agent "${chosen}", which is not configured`,
      { hint: `agents: ${known}; add one under "agents" in .orchestra/orchestra.json` },
    );
  }
  const agent = config.agents[chosen] as AgentConfig;
  return { name: chosen, agent, adapter: adapterFor(agent) };
}
