/**
 * Runs the built-in agent the way a pane does: as the foreground process of a real PTY (node-pty),
 * in a real git repository, against the scripted Messages API server.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pty from 'node-pty';
import type { Scenario } from '../../../src/model-server/scenario.js';
import {
  type ScriptedModelServer,
  startScriptedModelServer,
} from '../../../src/model-server/scripted-server.js';
import { makeRepo, removeDir, tempDir } from '../../git/fixtures.js';

/** The key the agent gets; tests assert it never reaches a file or argv. */
export const SECRET_KEY = 'sk-ant-api03-orchestraTEST-secret-0123456789abcdef';

/** A model the SDK does not warn about and pricing.json prices. */
export const TEST_MODEL = 'claude-sonnet-4-6';

const ENTRY = fileURLToPath(new URL('./fixtures/agent-entry.ts', import.meta.url));
/** tsx by absolute URL: `--import tsx` would be resolved from the temp repository. */
const TSX = import.meta.resolve('tsx');

/** A resolved profile as the scheduler writes it into agent.json. */
export function profile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: TEST_MODEL,
    tools: ['bash', 'editor', 'task_complete'],
    readOnly: false,
    maxTurns: 20,
    budgetUsd: 5,
    maxTokens: 4096,
    ...overrides,
  };
}

/** One test's world: a repository with a task file and a run directory, and a scripted server. */
export interface AgentWorld {
  repo: string;
  runDir: string;
  taskFile: string;
  server: ScriptedModelServer;
  cleanup(): Promise<void>;
}

export const TASK_TEXT = `# task-01: Greet politely

## Goal
Change "hello" in README.md to "hi".

## Acceptance criteria
- [ ] README.md starts with "hi"

## Test plan
1. Run \`grep -q hi README.md\`
`;

/**
 * A repository (README.md = "hello\\nworld\\n") with `.orchestra/tasks/task-01.md`, the run
 * directory `.orchestra/runs/task-01-a1` and, unless `agentJson` is null, an agent.json there.
 * `scenario` may be a function of the world's paths, for turns that name an absolute path.
 */
export async function makeWorld(
  scenario: Scenario | ((paths: { repo: string; runDir: string }) => Scenario),
  agentJson: Record<string, unknown> | null = {
    profile: profile(),
    checks: ['grep -q hi README.md'],
    taskId: 'task-01',
  },
): Promise<AgentWorld> {
  const repo = await makeRepo();
  const runDir = join(repo, '.orchestra', 'runs', 'task-01-a1');
  const taskFile = join(repo, '.orchestra', 'tasks', 'task-01.md');
  await mkdir(runDir, { recursive: true });
  await mkdir(join(repo, '.orchestra', 'tasks'), { recursive: true });
  await writeFile(taskFile, TASK_TEXT);
  if (agentJson !== null) await writeFile(join(runDir, 'agent.json'), JSON.stringify(agentJson));
  const server = await startScriptedModelServer({
    scenario: typeof scenario === 'function' ? scenario({ repo, runDir }) : scenario,
  });
  return {
    repo,
    runDir,
    taskFile,
    server,
    async cleanup() {
      await server.close();
      await removeDir(repo);
    },
  };
}

/** A running agent on a PTY. */
export interface AgentProcess {
  pid: number;
  /** Everything it printed so far, escape sequences removed. */
  output(): string;
  /** Everything it printed so far, as the terminal got it. */
  rawOutput(): string;
  /** Resolves once the output matches; rejects after `timeoutMs` with the output so far. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Types into the terminal (`\r` is Enter, `\x03` is Ctrl-C). */
  write(data: string): void;
  kill(signal: NodeJS.Signals): void;
  /** Its exit code (or signal). */
  exit: Promise<{ exitCode: number; signal?: number }>;
}

/** Starts `orchestra agent` for `world` on a PTY; `env` is added to the test process's environment. */
export async function startAgent(
  world: AgentWorld,
  options: { resume?: boolean; profile?: string; env?: Record<string, string> } = {},
): Promise<AgentProcess> {
  const configHome = await tempDir();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  Object.assign(env, {
    ANTHROPIC_API_KEY: SECRET_KEY,
    ANTHROPIC_BASE_URL: world.server.url,
    ORCHESTRA_RETRY_BASE_MS: '5',
    // No user-level config of the machine running the tests.
    XDG_CONFIG_HOME: configHome,
    TERM: 'xterm-256color',
    ...options.env,
  });
  delete env.NO_COLOR;
  const args = ['--import', TSX, ENTRY, '--task', world.taskFile, '--run-dir', world.runDir];
  if (options.resume) args.push('--resume');
  if (options.profile) args.push('--profile', options.profile);
  const child = pty.spawn(process.execPath, args, {
    cwd: world.repo,
    env,
    cols: 160,
    rows: 50,
    name: 'xterm-256color',
  });
  let raw = '';
  const watchers = new Set<() => void>();
  child.onData((data) => {
    raw += data;
    for (const watcher of watchers) watcher();
  });
  const exit = new Promise<{ exitCode: number; signal?: number }>((resolve) => {
    child.onExit((e) => {
      void removeDir(configHome);
      resolve(e);
    });
  });
  const output = () => stripAnsi(raw);
  return {
    pid: child.pid,
    output,
    rawOutput: () => raw,
    write: (data) => child.write(data),
    kill: (signal) => child.kill(signal),
    exit,
    waitFor(pattern, timeoutMs = 15_000) {
      const matches = () =>
        typeof pattern === 'string' ? output().includes(pattern) : pattern.test(output());
      if (matches()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`timed out waiting for ${String(pattern)}; output so far:\n${output()}`));
        }, timeoutMs);
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        void exit.then(() => setTimeout(check, 50));
      });
    },
  };
}

export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07/g, '').replace(/\r/g, '');
}

/** The JSON lines of the run directory's events.jsonl. */
export async function readEvents(runDir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(runDir, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Status events only, as `state: summary`. */
export async function statuses(runDir: string): Promise<{ state: unknown; summary: unknown }[]> {
  return (await readEvents(runDir))
    .filter((e) => e.type === 'status')
    .map((e) => ({ state: e.state, summary: e.summary }));
}

/**
 * A content block or tool of a recorded request, as JSON: only the fields the tests read. `text`
 * and `content` are typed as present because tests read them on blocks of a known type; a missing
 * one fails the assertion.
 */
export interface RequestBlock {
  type?: string;
  name?: string;
  text: string;
  content: string;
  is_error?: boolean;
  tool_use_id?: string;
  cache_control?: unknown;
}

/** A recorded Messages API request body. */
export interface RequestBody {
  model: string;
  max_tokens: number;
  stream?: boolean;
  system: RequestBlock[];
  tools: RequestBlock[];
  messages: { role: string; content: RequestBlock[] }[];
}

/** The body of request `index`. */
export function requestBody(server: ScriptedModelServer, index: number): RequestBody {
  const body = server.requests[index]?.body as RequestBody | undefined;
  if (!body?.messages)
    throw new Error(`request ${index} has no messages (${server.requests.length} requests)`);
  return body;
}

/** The messages of request `index`. */
export function requestMessages(server: ScriptedModelServer, index: number): RequestBody['messages'] {
  return requestBody(server, index).messages;
}

/** The content blocks of the newest user message of request `index`. */
export function lastUserContent(server: ScriptedModelServer, index: number): RequestBlock[] {
  const last = requestMessages(server, index).at(-1)!;
  if (last.role !== 'user') throw new Error(`request ${index} does not end with a user message`);
  return last.content;
}

/** Block `block` of the newest user message of request `index`. */
export function userBlock(server: ScriptedModelServer, index: number, block: number): RequestBlock {
  const found = lastUserContent(server, index)[block];
  if (!found) throw new Error(`request ${index} has no block ${block} in its last user message`);
  return found;
}
