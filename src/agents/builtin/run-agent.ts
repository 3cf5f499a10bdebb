import { mkdir, readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { errorMessage, isOrchestraError, OrchestraError } from '../../common/errors.js';
import { git } from '../../git/run-git.js';
import { collectSecrets, SECRET_ENV_VARS, secretValueRedactor } from '../../log/redact.js';
import { parseTaskFile, type TaskFile } from '../../tasks/task-file.js';
import { AgentEventLog } from './agent-events.js';
import { AgentLoop } from './agent-loop.js';
import { type AgentSetup, resolveAgentSetup } from './agent-setup.js';
import { ToolBox } from './agent-tools.js';
import { DEFAULT_RETRY_BASE_MS } from './api-retry.js';
import { BashSession, DEFAULT_BASH_TIMEOUT_MS } from './bash-session.js';
import { CHECKPOINT_VERSION, type Checkpoint, emptyUsage, loadCheckpoint } from './checkpoint.js';
import { editPolicyOf } from './edit-policy.js';
import { formatBudget, formatCost } from './format.js';
import { HumanInput } from './human-input.js';
import { InboxReader } from './inbox.js';
import { ProposalRecorder } from './proposal-tool.js';
import { buildSystemPrompt } from './system-prompt.js';
import { toolDefinitions } from './tool-definitions.js';
import { Transcript } from './transcript.js';

/**
 * `orchestra agent`: the built-in coding agent. It runs on a TTY (a pane of the server: under
 * node-pty, or as a Docker container's main process), in one git worktree (its cwd), on one task.
 * See DESIGN.md, "Processes" 4 and "Agent status protocol".
 */

/** Options of {@link runAgentCommand}: the CLI's flags plus the process's cwd, env and stdio. */
export interface RunAgentOptions {
  /** `--task`: the task file (relative to `cwd` or absolute). */
  task: string;
  /** `--run-dir`: where transcript.log, events.jsonl, conversation.json (and agent.json) live. */
  runDir: string;
  /** `--resume`: continue from `<run-dir>/conversation.json`. */
  resume: boolean;
  /** `--profile`: a profile of the repository's config, when there is no agent.json (default coder). */
  profile?: string;
  /** The worktree. */
  cwd: string;
  /** Environment: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, ORCHESTRA_BASH_TIMEOUT_MS, ORCHESTRA_RETRY_BASE_MS, NO_COLOR. */
  env: NodeJS.ProcessEnv;
  /** The human's input (the TTY, in cooked mode). */
  stdin: NodeJS.ReadableStream;
  /** The live transcript goes here (the TTY). */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Most files of `git ls-files` read for the layout; the prompt shows fewer (see system-prompt.ts). */
const LS_FILES_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Runs the agent until the task is complete or it stops.
 *
 * @returns the exit code: 0 after task_complete, 1 on an error, a limit, or a stop by the human
 *   (the reason is in the transcript and in a `status` event). Never throws for a user-facing
 *   failure; setup problems (bad agent.json, unreadable task, missing API key) also end with 1.
 */
export async function runAgentCommand(opts: RunAgentOptions): Promise<number> {
  const runDir = resolve(opts.cwd, opts.runDir);
  const redact = secretValueRedactor(collectSecrets([], opts.env));
  try {
    await mkdir(runDir, { recursive: true });
  } catch (error) {
    opts.stdout.write(redact(`error: cannot create the run directory ${runDir}: ${errorMessage(error)}\n`));
    return 1;
  }
  // When the pane's PTY goes away (the server died), writes fail with EIO; the agent must still
  // get to its SIGHUP handling and final checkpoint rather than die on an unhandled 'error'.
  const ignoreWriteError = () => {};
  opts.stdout.on('error', ignoreWriteError);
  const color = opts.stdout.isTTY === true && !opts.env.NO_COLOR;
  const transcript = new Transcript(opts.stdout, runDir, { color, redact });
  const events = new AgentEventLog(runDir, redact);
  const bashTimeoutMs = positiveInt(opts.env.ORCHESTRA_BASH_TIMEOUT_MS) ?? DEFAULT_BASH_TIMEOUT_MS;
  const bash = new BashSession({ cwd: opts.cwd, env: bashEnvironment(opts.env), timeoutMs: bashTimeoutMs });
  const signals: [NodeJS.Signals, () => void][] = [];
  let input: HumanInput | undefined;
  let inbox: InboxReader | undefined;
  try {
    const prepared = await prepare(opts, runDir, transcript, events);
    if ('error' in prepared) {
      transcript.line(`✗ ${prepared.error.message}`, 'red', 'bold');
      if (prepared.error.hint) transcript.line(`  hint: ${prepared.error.hint}`, 'dim');
      events.status('error', prepared.error.message);
      return 1;
    }
    const { setup, checkpoint, systemPrompt, firstMessage, apiKey, authToken, proposals } = prepared;
    const { profile } = setup;
    const loop = new AgentLoop({
      client: new Anthropic({
        apiKey: apiKey ?? null,
        authToken: authToken ?? null,
        baseURL: opts.env.ANTHROPIC_BASE_URL || undefined,
        // Our own retry loop shows each retry in the transcript.
        maxRetries: 0,
      }),
      settings: {
        model: profile.model,
        maxTokens: profile.maxTokens,
        system: systemPrompt,
        tools: toolDefinitions(profile.tools, { proposals: setup.proposals !== undefined }),
      },
      firstMessage,
      maxTurns: profile.maxTurns,
      budgetUsd: setup.budgetUsd,
      runDir,
      checkpoint,
      transcript,
      events,
      tools: new ToolBox({
        root: opts.cwd,
        policy: editPolicyOf(profile, runDir),
        tools: profile.tools,
        bash,
        bashTimeoutMs,
        redact,
        ...(proposals === undefined ? {} : { proposals }),
      }),
      retryBaseMs: nonNegativeInt(opts.env.ORCHESTRA_RETRY_BASE_MS) ?? DEFAULT_RETRY_BASE_MS,
      stallMs: setup.stallSeconds * 1000,
      rateLimitMaxWaitMs: setup.rateLimitMaxWaitMinutes * 60_000,
      redact,
      stayAfterComplete: setup.stayAfterComplete,
      endTurnCompletes: setup.proposals !== undefined,
    });
    inbox = new InboxReader(runDir, checkpoint.inboxOffset ?? 0, (item, offsetAfter) => {
      if (item.type === 'message') loop.inboxMessage(item.text, offsetAfter);
      else loop.finishRequested(offsetAfter);
    });
    inbox.start();
    input = new HumanInput(opts.stdin, {
      onLine: (line) => loop.humanLine(line),
      onInterrupt: () => loop.interrupt(),
      onEnd: () => loop.inputClosed(),
    });
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const handler = () => loop.terminate(signal);
      signals.push([signal, handler]);
      process.on(signal, handler);
    }
    return await loop.run();
  } finally {
    for (const [signal, handler] of signals) process.off(signal, handler);
    input?.dispose();
    inbox?.stop();
    await bash.dispose();
    transcript.close();
    opts.stdout.off('error', ignoreWriteError);
  }
}

/** Everything the loop needs, or the user-facing error that prevents it. */
type Prepared =
  | {
      setup: AgentSetup;
      checkpoint: Checkpoint;
      systemPrompt: string;
      firstMessage: string;
      apiKey: string | undefined;
      authToken: string | undefined;
      /** The planner's proposal book, when agent.json asks for proposals. */
      proposals: ProposalRecorder | undefined;
    }
  | { error: OrchestraError };

async function prepare(
  opts: RunAgentOptions,
  runDir: string,
  transcript: Transcript,
  events: AgentEventLog,
): Promise<Prepared> {
  try {
    const setup = await resolveAgentSetup({
      runDir,
      cwd: opts.cwd,
      profileName: opts.profile,
      env: opts.env,
    });
    const apiKey = opts.env.ANTHROPIC_API_KEY || undefined;
    const authToken = opts.env.ANTHROPIC_AUTH_TOKEN || undefined;
    if (apiKey === undefined && authToken === undefined) {
      throw new OrchestraError('USAGE', 'ANTHROPIC_API_KEY is not set', {
        hint: 'export ANTHROPIC_API_KEY in the environment orchestra runs in (never pass it as an argument)',
      });
    }
    const taskPath = resolve(opts.cwd, opts.task);
    const taskText = await readFile(taskPath, 'utf8').catch((error: unknown) => {
      throw new OrchestraError(
        'TASK_NOT_FOUND',
        `cannot read the task file ${taskPath}: ${errorMessage(error)}`,
        {
          hint: 'pass an existing task file with --task',
          cause: error,
        },
      );
    });
    const fileId = basename(taskPath).replace(/\.md$/i, '');
    const taskId = setup.taskId ?? (/^task-\d+$/.test(fileId) ? fileId : undefined);
    const { profile } = setup;
    const policy = editPolicyOf(profile, runDir);
    let checkpoint: Checkpoint | undefined;
    if (opts.resume) checkpoint = await loadCheckpoint(runDir);
    const label = taskId ?? basename(taskPath);
    transcript.line(
      `orchestra agent · ${label} · ${profile.model} (${setup.source}) · budget ${formatBudget(setup.budgetUsd)} · ${profile.maxTurns} turns max${profile.readOnly ? ' · read-only' : ''}${policy.editable ? ` · edits only ${policy.editable.join(', ')}` : ''}`,
      'bold',
    );
    if (opts.resume && checkpoint === undefined) {
      transcript.line('! --resume: no conversation.json yet, starting a new conversation', 'yellow');
    }
    if (checkpoint !== undefined) {
      transcript.line(
        `── resumed from conversation.json: ${checkpoint.turns} turns, ${formatCost(checkpoint.costUsd)} spent ──`,
        'dim',
      );
    }
    let task: TaskFile | undefined;
    try {
      task = parseTaskFile(taskText, { id: taskId ?? 'task-0001' });
    } catch (error) {
      // The model gets the file's full text either way; a task the queue would reject still runs by hand.
      transcript.line(
        `! the task file does not parse (${errorMessage(error)}); using its text as it is`,
        'yellow',
      );
    }
    const systemPrompt = buildSystemPrompt({
      ...(profile.systemPrompt === undefined ? {} : { role: profile.systemPrompt }),
      worktree: opts.cwd,
      ...(taskId === undefined ? {} : { taskId }),
      taskText,
      ...(await trackedFiles(opts.cwd)),
      checks: setup.checks,
      readOnly: profile.readOnly,
      ...(policy.editable === undefined ? {} : { editable: policy.editable }),
      ...(policy.reportPath === undefined ? {} : { reportPath: policy.reportPath }),
      images: policy.images,
      tools: {
        bash: profile.tools.includes('bash'),
        editor: profile.tools.includes('editor'),
        taskComplete: profile.tools.includes('task_complete'),
      },
      ...(setup.proposals === undefined ? {} : { proposals: setup.proposals }),
      ...(setup.memory === undefined ? {} : { memory: setup.memory }),
    });
    const title = task?.title ? `: ${task.title}` : '';
    const firstMessage = `Work on ${taskId ?? 'the task'}${title}. The full task file is in the system prompt; start by looking at the code it concerns.`;
    const proposals =
      setup.proposals === undefined
        ? undefined
        : await ProposalRecorder.open({
            runDir,
            max: setup.proposals.max,
            root: opts.cwd,
            sink: (index, toolUseId, proposal) => events.proposal(index, toolUseId, proposal),
          }).catch((error: unknown) => {
            throw new OrchestraError(
              'STATE_CORRUPT',
              `cannot read the earlier proposals: ${errorMessage(error)}`,
              {
                hint: "the run directory's events.jsonl must be a regular file; start the attempt again",
                cause: error,
              },
            );
          });
    return {
      setup,
      proposals,
      checkpoint: checkpoint ?? freshCheckpoint(profile.model),
      systemPrompt,
      firstMessage,
      apiKey,
      authToken,
    };
  } catch (error) {
    if (isOrchestraError(error)) return { error };
    return { error: new OrchestraError('INTERNAL', errorMessage(error), { cause: error }) };
  }
}

function freshCheckpoint(model: string): Checkpoint {
  return {
    version: CHECKPOINT_VERSION,
    model,
    messages: [],
    turns: 0,
    usage: emptyUsage(),
    costUsd: 0,
    humanQueue: [],
    state: 'working',
    updatedAt: new Date().toISOString(),
  };
}

/** `{ files }` from `git ls-files` in the worktree, or `{}` when it is not a git worktree. */
async function trackedFiles(cwd: string): Promise<{ files?: string[] }> {
  try {
    const out = await git(cwd).raw(['ls-files', '-z']);
    const text = out.length > LS_FILES_MAX_BYTES ? out.slice(0, LS_FILES_MAX_BYTES) : out;
    return { files: text.split('\0').filter((f) => f !== '') };
  } catch {
    // Not a repository (an agent started by hand elsewhere): the prompt just has no layout.
    return {};
  }
}

/**
 * The bash tool's environment: the agent's own minus every secret (DESIGN.md, "Security": a key
 * the model could `echo` would end up in the transcript and the checkpoint), and with pagers off,
 * since the tool has no terminal to page on.
 */
export function bashEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of SECRET_ENV_VARS) delete out[name];
  out.PAGER = 'cat';
  out.GIT_PAGER = 'cat';
  return out;
}

function positiveInt(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(n) && n > 0 ? n : undefined;
}

function nonNegativeInt(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(n) && n >= 0 ? n : undefined;
}
