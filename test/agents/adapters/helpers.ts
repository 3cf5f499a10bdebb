import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AgentLaunch, AgentLaunchContext } from '../../../src/agents/adapters/types.js';
import { type AgentConfig, configSchema } from '../../../src/config/schema.js';

/** Made-up secrets: tests assert they never reach argv or files. */
export const SECRETS = {
  ANTHROPIC_API_KEY: 'sk-ant-api03-SECRET-never-in-argv-0123456789',
  OPENAI_API_KEY: 'sk-proj-SECRET-never-in-argv-9876543210',
};

/** An agent entry as the real config schema makes it (built-ins filled in, defaults applied). */
export function agentConfig(name: string, entry?: Record<string, unknown>): AgentConfig {
  const config = configSchema.parse(entry === undefined ? {} : { agents: { [name]: entry } });
  const agent = config.agents[name];
  if (!agent) throw new Error(`no agent ${name}`);
  return agent;
}

/** A launch context for a local, fresh start; `over` changes any field. */
export function launchContext(
  agent: AgentConfig,
  over: Partial<AgentLaunchContext> = {},
): AgentLaunchContext {
  return {
    taskFile: '/repo/.orchestra/tasks/task-03.md',
    taskText: '# task-03: Add periodic cleanup\n\n## Goal\nSweep idle sessions.\n',
    prompt: 'Work on this task:\n\n# task-03: Add periodic cleanup\n\n## Goal\nSweep idle sessions.\n',
    runDir: '/repo/.orchestra/runs/task-03-a1',
    worktree: '/repo/.orchestra/worktrees/task-03-a1',
    inContainer: false,
    resume: false,
    agent,
    hostEnv: { SHELL: '/usr/bin/zsh', PATH: '/usr/bin:/bin', ...SECRETS },
    ...over,
  };
}

/** Writes a launch's files under `runDir`, as the worker does before starting the agent. */
export async function writeLaunchFiles(launch: AgentLaunch, runDir: string): Promise<void> {
  for (const file of launch.files) {
    const path = join(runDir, file.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.content, { mode: file.mode ?? 0o644 });
  }
}

/** Runs a command without a shell; resolves with its exit code and output. */
export function run(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) throw new Error('empty argv');
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A status hook exits without reading its input (Claude Code copes: seen with 2.1.197); EPIPE here is expected.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
