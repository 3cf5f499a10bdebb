import * as z from 'zod';
import { globProblem } from '../common/path-glob.js';
import { BUILTIN_AGENTS, BUILTIN_PROFILES, DEFAULT_MODEL } from './builtins.js';
import { copyPathProblem } from './copy-path.js';
import { deepMerge, isPlainObject } from './deep-merge.js';
import { parseDockerAddress } from './docker-address.js';
import { describeValue } from './format-issue.js';
import { DEFAULT_KEY_BINDINGS, KEY_ACTIONS, KEY_NAME_PATTERN } from './key-bindings.js';

/**
 * The one schema for `.orchestra/orchestra.json` and the user-level `config.json`: keys, types,
 * defaults, limits and the `.describe()` texts that the template and docs are made from. Every
 * object is strict, so a misspelt key is an error rather than a silently ignored setting.
 */

/** Where a worker runs: Docker when available (`auto`), always Docker, or always a local process. */
export const SANDBOX_MODES = ['auto', 'docker', 'local'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** The adapters agents can be run through (DESIGN.md, "Agents"). */
export const AGENT_TYPES = ['orchestra', 'claude', 'codex', 'aider', 'shell', 'custom'] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

/** The built-in agent's tools: `bash`, `editor` (str_replace_based_edit_tool) and `task_complete`. */
export const AGENT_TOOLS = ['bash', 'editor', 'task_complete'] as const;
export type AgentTool = (typeof AGENT_TOOLS)[number];

/** Placeholders a custom agent's command template may use; the adapter substitutes them. */
export const COMMAND_PLACEHOLDERS = ['{task_file}', '{prompt}', '{run_dir}'] as const;

/** Agent and profile names: they appear in task front matter and on the command line. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Session names become socket file names, so only file-name-safe characters. */
const SESSION_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** Unix socket paths are limited to 108 bytes; 64 leaves room for the socket directory. */
const SESSION_NAME_MAX = 64;
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A `{word}` not preceded by `$`, so shell `${VAR}` expansions are left alone. */
const PLACEHOLDER_PATTERN = /(?<!\$)\{[a-z_]+\}/g;

function patternString(pattern: RegExp, expected: string) {
  return z.string().regex(pattern, {
    error: (issue) => `expected ${expected}, received ${describeValue(issue.input)}`,
  });
}

const sandboxSchema = z.enum(SANDBOX_MODES);
const nonEmpty = z.string().min(1);
const commandList = z.array(nonEmpty);
const agentName = patternString(NAME_PATTERN, 'a name of letters, digits, "-" and "_"');
const positiveUsd = z.number().positive();

/**
 * Worker network policies (DESIGN.md, "Security"): `model-only` reaches the model endpoint through
 * orchestra's forwarder and nothing else; `bridge` is Docker's default network with full egress;
 * `none` has no network at all (an agent then cannot reach the model either).
 */
export const WORKER_NETWORKS = ['model-only', 'bridge', 'none'] as const;
export type WorkerNetwork = (typeof WORKER_NETWORKS)[number];

/** One machine whose Docker engine runs workers (issue 14); see workers/host-url.ts for `docker`. */
const workerHostSchema = z
  .strictObject({
    name: patternString(
      /^[a-z0-9][a-z0-9-]{0,31}$/,
      'a short name: lowercase letters, digits and dashes, e.g. "build-1"',
    ).describe('Name shown on the board and in pane titles.'),
    docker: z
      .string()
      .superRefine((text, ctx) => {
        const address = parseDockerAddress(text);
        if ('problem' in address) ctx.addIssue({ code: 'custom', message: address.problem });
      })
      .describe('The engine: "local", "unix:///path", "ssh://user@host[:port]" or "tcp://host:port".'),
    tls: z
      .strictObject({
        ca: nonEmpty.describe('CA certificate file (PEM) the engine is checked against.'),
        cert: nonEmpty.describe('Client certificate file (PEM).'),
        key: nonEmpty.describe('Client key file (PEM).'),
      })
      .optional()
      .describe('TLS files for a tcp:// engine, as `docker --tlsverify` takes them.'),
    capacity: z.int().min(1).max(256).describe('Attempts that may run on this host at once.'),
    memoryMb: z
      .int()
      .min(256)
      .optional()
      .describe("The host's memory for workers, in MiB (shown by `orchestra hosts`)."),
    modelUrl: z
      .url()
      .optional()
      .describe(
        "ANTHROPIC_BASE_URL for this host's workers, when the server's own is not reachable from there.",
      ),
  })
  .superRefine((host, ctx) => {
    if (host.tls && !host.docker.startsWith('tcp://')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls files are for a tcp:// engine only' });
    }
  });

const workerSchema = z.strictObject({
  image: nonEmpty.default('orchestra-worker:latest').describe('Docker image each worker container runs.'),
  cpus: z
    .number()
    .positive()
    .max(1024)
    .default(2)
    .describe('CPUs per worker container (fractions allowed, like docker --cpus).'),
  memoryMb: z
    .int()
    .min(128)
    .default(4096)
    .describe('Memory limit per worker container, in MiB (Node and a test run need well over 128).'),
  pids: z
    .int()
    .min(16)
    .default(512)
    .describe('Process limit per worker container, so a fork bomb stays inside it.'),
  network: z
    .enum(WORKER_NETWORKS)
    .default('model-only')
    .describe(
      'Agent network: "model-only" (only the model endpoint, through a forwarder), "bridge" (full egress) or "none". Setup commands always get "bridge".',
    ),
  user: z
    .string()
    .regex(/^\d+(:\d+)?$/, { error: 'expected "uid:gid" in digits, e.g. "1000:1000"' })
    .optional()
    .describe("uid:gid workers run as; default the host user's, or 1000:1000 when orchestra runs as root."),
  homeTmpfsMb: z
    .int()
    .min(1)
    .optional()
    .describe("Size of the tmpfs mounted as the container user's home, in MiB; unset uses Docker's default."),
  tmpTmpfsMb: z
    .int()
    .min(1)
    .optional()
    .describe("Size of the tmpfs mounted at /tmp, in MiB; unset uses Docker's default."),
  hosts: z
    .array(workerHostSchema)
    .min(1)
    .optional()
    .superRefine((hosts, ctx) => {
      const seen = new Set<string>();
      for (const [i, host] of (hosts ?? []).entries()) {
        if (seen.has(host.name))
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${host.name}" names two hosts` });
        seen.add(host.name);
      }
    })
    .describe(
      "Docker engines workers run on (this machine, others over SSH or TLS); unset: this machine's engine only.",
    ),
  packageCache: z
    .boolean()
    .default(true)
    .describe(
      "Keep npm's cache in a Docker volume of the session, used by every attempt's setup (so the second `npm ci` is fast); only setup, which runs before any agent, can write it.",
    ),
});

const agentSchema = z
  .strictObject({
    type: z.enum(AGENT_TYPES).describe('Which adapter runs this agent.'),
    command: nonEmpty
      .optional()
      .describe(
        'Command to run. For "custom" a template with {task_file}, {prompt} and {run_dir}; for the others it replaces the CLI\'s name.',
      ),
    args: z.array(z.string()).default([]).describe('Extra arguments appended to the command.'),
    profile: agentName
      .optional()
      .describe('Profile (model, tools, limits) for the built-in "orchestra" agent.'),
    sandbox: sandboxSchema.optional().describe('Overrides the top-level "sandbox" for this agent.'),
    env: z
      .record(patternString(ENV_NAME_PATTERN, 'an environment variable name'), z.string())
      .default({})
      .describe(
        'Extra environment for the agent. This file is committed: keep secrets in your shell environment.',
      ),
  })
  .superRefine((agent, ctx) => {
    if (agent.type === 'custom' && agent.command === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        message: `required when type is "custom": a command template such as "my-agent --task {task_file}"`,
      });
    }
    for (const match of agent.command?.matchAll(PLACEHOLDER_PATTERN) ?? []) {
      if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(match[0])) {
        ctx.addIssue({
          code: 'custom',
          path: ['command'],
          message: `unknown placeholder ${match[0]}; known: ${COMMAND_PLACEHOLDERS.join(', ')}`,
        });
      }
    }
  });

/** A worktree-relative glob of a profile's `editable` list (the subset of `common/path-glob.ts`). */
const editableGlob = z.string().superRefine((pattern, ctx) => {
  const problem = globProblem(pattern);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', message: `bad glob ${JSON.stringify(pattern)}: ${problem}` });
  }
});

const profileFields = z.strictObject({
  model: nonEmpty.default(DEFAULT_MODEL).describe('Anthropic model id.'),
  systemPrompt: z.string().optional().describe("Instructions added to the built-in agent's system prompt."),
  tools: z
    .array(z.enum(AGENT_TOOLS))
    .default([...AGENT_TOOLS])
    .describe('Tools the agent may call: "bash", "editor", "task_complete".'),
  readOnly: z.boolean().default(false).describe('Refuse file edits and mount the worktree read-only.'),
  maxTurns: z.int().min(1).default(50).describe('Most model turns per attempt.'),
  budgetUsd: positiveUsd.default(5).describe('Spending cap per attempt, in USD.'),
  maxTokens: z
    .int()
    .min(1)
    .default(16384)
    .describe('max_tokens per model response: room for one large file edit in a single tool call.'),
  sandbox: sandboxSchema
    .optional()
    .describe('Overrides the top-level "sandbox" for agents using this profile.'),
  editable: z
    .array(editableGlob)
    .min(1)
    .optional()
    .describe(
      'Globs of the worktree files the agent may change, e.g. ["**/*.md", "docs/**"]; bash then only reads. Unset: every file (unless readOnly).',
    ),
  report: z
    .boolean()
    .default(false)
    .describe('The agent may write one file outside the worktree: report.md in its run directory.'),
  images: z
    .boolean()
    .default(false)
    .describe("The editor's view of a PNG, JPEG, GIF or WebP file shows the model the image."),
});

/** A profile: its fields, and `editable` only where the profile is not read-only. */
const profileSchema = profileFields.superRefine((profile, ctx) => {
  if (profile.readOnly && profile.editable !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['editable'],
      message: 'contradicts "readOnly": true; drop one of them',
    });
  }
});

/**
 * Lays the user's record entries over built-in ones, so adding one agent keeps the others and a
 * partial entry changes only what it names. An entry whose `type` differs from the built-in's
 * replaces it, because the built-in's other fields belong to a different adapter.
 */
function overBuiltins(builtins: Readonly<Record<string, object>>) {
  return (value: unknown): unknown => {
    const user = value === undefined ? {} : value;
    // A wrong type is left for the record schema to report with its path.
    if (!isPlainObject(user)) return user;
    const out: Record<string, unknown> = { ...builtins };
    for (const [name, entry] of Object.entries(user)) {
      const base = Object.hasOwn(builtins, name) ? (builtins[name] as Record<string, unknown>) : undefined;
      const sameType = isPlainObject(entry) && (entry.type === undefined || entry.type === base?.type);
      out[name] = base !== undefined && sameType ? deepMerge(base, entry) : entry;
    }
    return out;
  };
}

const keysSchema = z.strictObject({
  prefix: patternString(KEY_NAME_PATTERN, 'a tmux key name such as "C-b", "M-a" or "C-Space"')
    .optional()
    .describe('Prefix key. Unset means C-b, or C-a when orchestra runs inside tmux.'),
  bindings: z
    .preprocess(
      (value) =>
        isPlainObject(value)
          ? { ...DEFAULT_KEY_BINDINGS, ...value }
          : value === undefined
            ? DEFAULT_KEY_BINDINGS
            : value,
      z.record(
        patternString(KEY_NAME_PATTERN, 'a tmux key name such as "o", "Left", "Space" or "M-x"'),
        z.enum(KEY_ACTIONS),
      ),
    )
    .describe('Keys after the prefix, merged over the defaults; bind a key to "none" to free it.'),
});

const budgetSchema = z.strictObject({
  perTaskUsd: positiveUsd.optional().describe('Spending cap per task across all its attempts, in USD.'),
  perSessionUsd: positiveUsd.optional().describe('Spending cap for the whole session, in USD.'),
});

/** Minutes, fractions allowed (a test or a demo need not wait): 0 or more, at most a week. */
const minutes = z
  .number()
  .min(0)
  .max(7 * 24 * 60);

const autonomySchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe('Let orchestra write and queue its own tasks toward the goal.'),
  goal: z.string().optional().describe('What autonomous tasks should work toward.'),
  idleMinutes: minutes
    .default(30)
    .describe('Minutes without a keystroke, an attempt or a queued task before a cycle starts.'),
  cooldownMinutes: minutes.default(5).describe('Minutes of rest after a cycle before the next may start.'),
  maxTasksPerCycle: z
    .int()
    .min(1)
    .max(20)
    .default(3)
    .describe('Most tasks the planner may propose per cycle.'),
  maxTasksPerDay: z.int().min(1).optional().describe('Most tasks orchestra may queue by itself per day.'),
  budgetUsdPerDay: positiveUsd.optional().describe('Spending cap per day for autonomous work, in USD.'),
  stopOnFirstFailure: z
    .boolean()
    .default(true)
    .describe('End a cycle at its first failed task; its tasks not yet started are archived as not run.'),
  planner: agentName.default('architect').describe('Profile the planner runs with (read-only).'),
  executor: agentName.default('coder').describe("Profile of the planned tasks (a proposal's own wins)."),
  selfImprove: z
    .strictObject({
      enabled: z.boolean().default(false).describe("Plan from the session's own record now and then."),
      everyCycles: z.int().min(1).default(3).describe('Every how many cycles the self-improve cycle comes.'),
    })
    .prefault({})
    .describe("Every everyCycles cycles, plan from the session's own failures instead of the goal."),
});

/**
 * Default of `model.stallSeconds`, in seconds. A healthy stream sends an event within seconds of the
 * request and then every token or so; a minute of silence is a dead upstream (issue 10: a stall
 * after message_start used to hold a turn for the SDK's 10-minute timeout, up to 25 minutes).
 */
export const DEFAULT_STALL_SECONDS = 60;
/** Largest `model.stallSeconds`: an hour is no guard any more, and timers overflow past 24 days. */
export const MAX_STALL_SECONDS = 3600;

const modelSchema = z.strictObject({
  stallSeconds: z
    .int()
    .min(1)
    .max(MAX_STALL_SECONDS)
    .default(DEFAULT_STALL_SECONDS)
    .describe('Seconds a streamed model response may go without an event before it is dropped and retried.'),
  rateLimitMaxWaitMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .default(60)
    .describe(
      "Minutes an agent may wait in all for the model API's rate limit (429) before its attempt fails; the waits count as no failed try.",
    ),
});

/** The config file's schema; parse `{}` to get every default. */
export const configSchema = z
  .strictObject({
    baseBranch: nonEmpty
      .default('main')
      .describe('Branch that task worktrees start from and finished work is merged into.'),
    sessionName: patternString(SESSION_NAME_PATTERN, 'a session name of letters, digits, ".", "-" and "_"')
      .max(SESSION_NAME_MAX)
      .optional()
      .describe("Session (and socket) name; unset uses the repository's directory name."),
    setup: commandList
      .default([])
      .describe('Shell commands run in each new worktree before the agent starts, e.g. "npm ci".'),
    copy: z
      .array(
        nonEmpty.superRefine((path, ctx) => {
          const problem = copyPathProblem(path);
          if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(path)} ${problem}` });
        }),
      )
      .default([])
      .describe(
        'Gitignored files copied from the repository into each new worktree before the agent starts, e.g. ".env": paths inside the repository; each must be ignored by its .gitignore, and is never committed.',
      ),
    check: commandList
      .default([])
      .describe('Shell commands that must pass before finished work is accepted, e.g. "npm test".'),
    stopOnFirstFailure: z
      .boolean()
      .default(true)
      .describe('Stop running check commands at the first one that fails.'),
    maxParallel: z.int().min(1).max(64).default(2).describe('Most attempts running at once (1 to 64).'),
    maxAttempts: z
      .int()
      .min(1)
      .default(2)
      .describe('Rounds of "run checks, let the agent fix failures" per attempt.'),
    autoMerge: z
      .boolean()
      .default(false)
      .describe('Merge work that passes its checks into baseBranch without asking.'),
    sandbox: sandboxSchema
      .default('auto')
      .describe('Where agents run: "docker", "local" processes, or "auto" (Docker when available).'),
    worker: workerSchema.prefault({}).describe('Resource limits of each Docker worker container.'),
    agents: z
      .preprocess(overBuiltins(BUILTIN_AGENTS), z.record(agentName, agentSchema))
      .describe('Agent adapters by name, merged over the built-ins: orchestra, claude, codex, aider, shell.'),
    defaultAgent: agentName.default('orchestra').describe('Agent used when a task names none.'),
    profiles: z
      .preprocess(overBuiltins(BUILTIN_PROFILES), z.record(agentName, profileSchema))
      .describe(
        `Model profiles for the built-in agent, merged over the built-ins: ${Object.keys(BUILTIN_PROFILES).join(', ')}.`,
      ),
    keys: keysSchema.prefault({ bindings: {} }).describe('Prefix key and key bindings.'),
    theme: nonEmpty.default('default').describe('Colour theme name.'),
    notify: z
      .array(
        nonEmpty.refine(
          (arg) =>
            !/\{(task|attempt|state|summary)\}/.test(arg) || /^\{(task|attempt|state|summary)\}$/.test(arg),
          {
            message:
              'a placeholder must be an argument of its own ("{summary}", not "text {summary}"): the agent writes the summary, and inside a longer argument an interpreter could run it',
          },
        ),
      )
      .min(1)
      .refine((argv) => !/\{(task|attempt|state|summary)\}/.test(argv[0] ?? ''), {
        message: 'the program to run cannot be a placeholder: the agent would choose it',
        path: [0],
      })
      .optional()
      .describe(
        'Command run when an agent starts waiting for you or ends (done, error): argv, no shell. An argument that is exactly {task}, {attempt}, {state} or {summary} is replaced by that value; the values are also in ORCHESTRA_TASK, ORCHESTRA_ATTEMPT, ORCHESTRA_STATE and ORCHESTRA_SUMMARY. Put -- before the placeholders when the program reads options anywhere (a summary may start with -).',
      ),
    scrollback: z
      .int()
      .min(0)
      // Each line of a 200-column pane costs a few KB in @xterm/headless; a million caps a pane near 1 GB.
      .max(1_000_000)
      .default(10_000)
      .describe('Lines of history kept per pane.'),
    model: modelSchema
      .prefault({})
      .describe('How the built-in agent, judge and reviewer call the model API.'),
    budget: budgetSchema.prefault({}).describe('Spending caps, in USD.'),
    autonomy: autonomySchema.prefault({}).describe('Autonomous mode; off unless enabled here.'),
  })
  .superRefine((config, ctx) => {
    const agents = Object.keys(config.agents);
    if (!Object.hasOwn(config.agents, config.defaultAgent)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultAgent'],
        message: `"${config.defaultAgent}" names no agent; agents: ${agents.sort().join(', ')}`,
      });
    }
    for (const [name, agent] of Object.entries(config.agents)) {
      if (agent.profile !== undefined && !Object.hasOwn(config.profiles, agent.profile)) {
        ctx.addIssue({
          code: 'custom',
          path: ['agents', name, 'profile'],
          message: `"${agent.profile}" names no profile; profiles: ${Object.keys(config.profiles).sort().join(', ')}`,
        });
      }
    }
    for (const key of ['planner', 'executor'] as const) {
      const name = config.autonomy[key];
      if (!Object.hasOwn(config.profiles, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['autonomy', key],
          message: `"${name}" names no profile; profiles: ${Object.keys(config.profiles).sort().join(', ')}`,
        });
      }
    }
    const planner = config.profiles[config.autonomy.planner];
    if (planner && !planner.readOnly) {
      ctx.addIssue({
        code: 'custom',
        path: ['autonomy', 'planner'],
        message: `"${config.autonomy.planner}" may edit files; the planner must be a read-only profile (architect)`,
      });
    }
    // Unattended work must have a spending cap; a runaway loop would otherwise bill without limit.
    if (config.autonomy.enabled && config.autonomy.budgetUsdPerDay === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['autonomy', 'budgetUsdPerDay'],
        message: 'required when autonomy.enabled is true, so unattended work has a daily spending cap',
      });
    }
  });

/** The validated configuration, every default filled in. */
export type OrchestraConfig = z.output<typeof configSchema>;
/** One agent adapter entry of {@link OrchestraConfig}. */
export type AgentConfig = OrchestraConfig['agents'][string];
/** One profile entry of {@link OrchestraConfig}. */
export type ProfileConfig = OrchestraConfig['profiles'][string];
/** The `autonomy` section of {@link OrchestraConfig}. */
export type AutonomyConfig = OrchestraConfig['autonomy'];
/** The `worker` section of {@link OrchestraConfig}. */
export type WorkerConfig = OrchestraConfig['worker'];

/** The configuration with no file at all: every default, built-in agents and profiles. */
export function defaultConfig(): OrchestraConfig {
  return configSchema.parse({});
}
