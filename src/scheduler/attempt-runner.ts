import { access, lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveAgent } from '../agents/adapters/registry.js';
import type { AgentLaunch } from '../agents/adapters/types.js';
import { attemptCost } from '../agents/attempt-cost.js';
import { INBOX_FILE } from '../agents/builtin/inbox.js';
import { readMemory } from '../autonomy/memory.js';
import { writeFileAtomic } from '../common/atomic-write.js';
import { waitingOutDiskFull } from '../common/disk-full.js';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { attemptBranch, attemptId as makeAttemptId } from '../common/ids.js';
import { appendNoFollow, readNoFollow, writeNoFollow } from '../common/no-follow.js';
import { matchesAnyGlob } from '../common/path-glob.js';
import type { OrchestraPaths } from '../common/paths.js';
import { printable } from '../common/printable.js';
import { SECRET_ENV } from '../common/secret-env.js';
import type { OrchestraConfig } from '../config/schema.js';
import { diffStat, hostIdentity, hostObjectsDir, importBundle } from '../git/attempt-repo.js';
import { changedPaths } from '../git/merge.js';
import { headCommit } from '../git/repo.js';
import { DEFAULT_SETUP_TIMEOUT_MS } from '../git/run-setup.js';
import { createWorktree } from '../git/worktree.js';
import { copyIntoWorktree } from '../git/worktree-copy.js';
import type { Logger } from '../log/logger.js';
import type { Pane } from '../panes/pane.js';
import type { PaneExit, PaneProcess } from '../panes/pane-process.js';
import { PlaceholderProcess } from '../panes/placeholder-process.js';
import { type AgentEvent, tailEvents } from '../server/events-tail.js';
import type { SessionServer } from '../server/session-server.js';
import { addAttempt, setAttemptState } from '../store/records.js';
import { type AttemptRecord, type AttemptState, FINISHED_ATTEMPT_STATES } from '../store/schema.js';
import type { StateStore } from '../store/store.js';
import type { AttemptOutcome } from '../strategies/types.js';
import type { TaskFile } from '../tasks/task-file.js';
import { workerUser } from '../workers/container-spec.js';
import { dockerClient } from '../workers/docker-engine.js';
import { CONTAINER_RUN_DIR, DockerWorker, hostIds } from '../workers/docker-worker.js';
import { exportCommand, exportEnv } from '../workers/export-script.js';
import type { LoopbackForwarderPool } from '../workers/loopback-forwarder.js';
import { chooseSandbox, type SandboxChoice } from '../workers/sandbox.js';
import { findWorkers } from '../workers/session-containers.js';
import { handOver, hostCaFile, runCommands, type ShellPlace, withShell } from '../workers/shells.js';
import type { WorkerShell } from '../workers/worker-shell.js';
import { runChecks, tail } from './check-gate.js';
import { appendTransition, lastTransition, MAX_EVENTS_BYTES } from './event-log.js';
import { endStaleAgent } from './stale-agent.js';

/** What attempts need from the server they run in. */
export interface AttemptHost {
  root: string;
  paths: OrchestraPaths;
  config: OrchestraConfig;
  store: StateStore;
  server: SessionServer;
  session: string;
  /** The server's environment: secrets (ANTHROPIC_API_KEY...) and endpoints come from here. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  forwarders: LoopbackForwarderPool;
  /** Shown once per server when `sandbox: auto` falls back to local panes. */
  warn(message: string): void;
}

/** Environment variables an agent may need that are secrets or endpoints: passed through Env only. */
const PASS_THROUGH_ENV = [
  ...SECRET_ENV,
  'ANTHROPIC_BASE_URL',
  'OPENAI_BASE_URL',
  'ORCHESTRA_RETRY_BASE_MS',
  'ORCHESTRA_BASH_TIMEOUT_MS',
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
];

/**
 * Turns in a row a CLI agent may end with nothing changed — questions for the person — before the
 * attempt fails: each is an export in a container, and the turn's end comes from the agent's own
 * events file, which a runaway agent can fill.
 */
const MAX_EMPTY_TURNS = 20;
/** How long an agent told to finish has to exit by itself before it is ended, ms. */
const FINISH_GRACE_MS = 10_000;

/** Budget for exporting an attempt's work (`git add -A` and a bundle), ms. */
const EXPORT_TIMEOUT_MS = 5 * 60_000;

/**
 * Thrown into a strategy when the server stops while an attempt runs: not a failure. The attempt
 * keeps its state in the store, and the next server resumes it.
 */
export class AttemptStopped extends Error {
  constructor(attemptId: string) {
    super(`${attemptId} was left to the next server`);
    this.name = 'AttemptStopped';
  }
}

/** The reason an attempt gets when a person ends its agent (`kill-pane`, prefix x). */
export const STOPPED_BY_USER = 'stopped by the user';

/** How an agent's round ended, as far as the attempt can tell. */
type AgentEnd =
  /** It said it was done (built-in agent: `task_complete`). */
  | { kind: 'done' }
  /** It said it stopped on an error (no key, the API failing after its retries). */
  | { kind: 'error'; reason: string }
  /** Its process ended (code null: by a signal). */
  | { kind: 'exited'; code: number | null };

/** The prompt for agent CLIs that take one on their command line. */
function firstPrompt(task: TaskFile, taskFile: string): string {
  return `You are working on a task from orchestra's queue, in a git worktree of the repository. The task file is ${taskFile}:\n\n${task.raw}\n\nMake the change, run the checks, and say when you are done.`;
}

/**
 * One attempt of a task through its lifecycle (DESIGN.md, "Attempt lifecycle"): queued →
 * preparing (worktree, setup, worker) → running (agent in a pane) → checking (check commands in the
 * worker) → succeeded | failed. Every transition is written to the store and appended to the
 * attempt's events.jsonl before the next step starts. Check failures go back to the agent as its
 * next message, up to `maxAttempts` rounds.
 */
export class AttemptRunner {
  readonly attemptId: string;
  readonly branch: string;
  readonly worktree: string;
  readonly runDir: string;
  private pane: Pane | undefined;
  /** The agent's container, when it runs in one. */
  private containerId: string | undefined;
  private sandbox: SandboxChoice | undefined;
  private objectsDir = '';
  private agentType = 'orchestra';
  /** How the agent's exit code reads (its adapter's rule), once prepared. */
  private exitState: (code: number | null) => 'done' | 'error' = () => 'error';
  private baseCommit: string | undefined;
  private checkRound = 0;
  /** Turns in a row that ended with nothing changed (CLI agents), see {@link MAX_EMPTY_TURNS}. */
  private emptyTurns = 0;
  private agentAlive = false;
  /** Set when the agent said done or its process ended; reset when it is sent back to work. */
  private agentFinished: Promise<void> = Promise.resolve();
  private finishAgent: () => void = () => {};
  private current: Promise<AttemptOutcome> | undefined;
  private tail: { dispose(): void } | undefined;
  private lastOutcome: AttemptOutcome | undefined;
  /** The server is going away: nothing more is recorded, the next server resumes. */
  private stopped = false;
  /** A person ended the agent: the attempt fails with {@link STOPPED_BY_USER}. */
  private stoppedByUser = false;
  private onUserStop: () => void = () => {};
  /**
   * The round's end once something claimed it (the checks' success, a failure, a person's stop):
   * the first claim is the outcome and every later one gets the same. A `send` opens a new round.
   */
  private ending: Promise<AttemptOutcome> | undefined;
  /** Why the worker ended, when it says (e.g. "out of memory"). */
  private exitReason: string | undefined;
  /** How the agent's current round ended; undefined while it works. */
  private agentEnd: AgentEnd | undefined;
  private readonly userStopped = new Promise<void>((resolve) => {
    this.onUserStop = resolve;
  });

  constructor(
    private readonly host: AttemptHost,
    readonly task: TaskFile,
    readonly n: number,
    private readonly options: { profile?: string; agent?: string } = {},
  ) {
    this.attemptId = makeAttemptId(task.id, n);
    this.branch = attemptBranch(task.id, n);
    this.worktree = join(host.paths.worktrees, this.attemptId);
    this.runDir = join(host.paths.runs, this.attemptId);
  }

  /**
   * An autonomy cycle's planning task: proposals, no change, no check gate. Only the loop's own
   * (origin autonomy, of the cycle the store says is current): a `kind: plan` anywhere else is an
   * ordinary task and goes through the gate.
   */
  private get isPlan(): boolean {
    const { kind, origin, cycle } = this.task.meta;
    return kind === 'plan' && origin === 'autonomy' && cycle === this.host.store.read().autonomy?.cycle;
  }

  /**
   * The profile this attempt runs with: the strategy's choice, the task's `profile:`, for an
   * autonomy task the configured executor, the agent's own, else `coder`.
   */
  private get profileName(): string {
    const resolved = resolveAgent(this.host.config, this.options.agent ?? this.task.meta.agent);
    return (
      this.options.profile ??
      this.task.meta.profile ??
      (this.task.meta.origin === 'autonomy' ? this.host.config.autonomy.executor : undefined) ??
      resolved.agent.profile ??
      'coder'
    );
  }

  private get record(): AttemptRecord | undefined {
    return this.host.store.read().attempts[this.attemptId] as AttemptRecord | undefined;
  }

  /**
   * Records a lifecycle transition in the store and in events.jsonl, in that order. Once the end
   * is recorded, or the server is stopping, nothing more is: an attempt ends exactly once, and a
   * shutdown is never written down as an outcome.
   */
  private async transition(state: AttemptState, patch: Partial<AttemptRecord> = {}): Promise<void> {
    const final = state === 'succeeded' || state === 'failed';
    // After the end is claimed only the end itself is written.
    if (this.ending && !final) return;
    if (this.stopped) throw new AttemptStopped(this.attemptId);
    await this.host.store.update((draft) => {
      setAttemptState(draft, this.attemptId, state, patch as never);
    });
    // The store is the record; the log line is a copy a restarted server catches up (and a full
    // disk must not fail the attempt over it).
    await mkdir(this.runDir, { recursive: true })
      .then(() => appendTransition(this.runDir, state, patch.error))
      .catch((error: unknown) =>
        this.host.logger.warn({ err: error, attempt: this.attemptId }, 'could not log a transition'),
      );
    this.host.logger.info({ attempt: this.attemptId, task: this.task.id, state }, `attempt ${state}`);
  }

  /**
   * Starts the attempt, or picks it up where a previous server left it. A finished attempt is
   * never run again: its recorded outcome is returned.
   */
  start(): Promise<AttemptOutcome> {
    this.current = this.settle(this.run());
    return this.current;
  }

  /**
   * A round's outcome: the round's own, or failed at once when a person stops the agent; a
   * round that throws fails with the error as its reason. When the server stops, it rejects with
   * {@link AttemptStopped} (marked handled: nobody may be waiting yet).
   */
  private settle(round: Promise<AttemptOutcome>): Promise<AttemptOutcome> {
    const outcome = Promise.race([round, this.userStopped.then(() => this.failWith(STOPPED_BY_USER))]).catch(
      (error: unknown) => {
        if (this.stopped || error instanceof AttemptStopped) throw new AttemptStopped(this.attemptId);
        return this.failWith(`orchestra error: ${errorMessage(error)}`);
      },
    );
    outcome.catch(() => {});
    return outcome;
  }

  /** Whether the attempt's end is already recorded in the store (it will not run again). */
  get finished(): boolean {
    const state = this.record?.state;
    return state !== undefined && (FINISHED_ATTEMPT_STATES as readonly string[]).includes(state);
  }

  /** The outcome of the current round (start, or the latest `send`). */
  outcome(): Promise<AttemptOutcome> {
    if (!this.current) return this.start();
    return this.current;
  }

  private async run(): Promise<AttemptOutcome> {
    const existing = this.record;
    if (existing && ['succeeded', 'failed', 'archived'].includes(existing.state)) {
      // A server killed between the store and the log recorded the end in the store only.
      const last = await lastTransition(this.runDir);
      if (last !== existing.state && last !== 'archived') {
        await appendTransition(this.runDir, existing.state, existing.error).catch(() => {});
      }
      return this.recordedOutcome(existing);
    }
    if (!existing) {
      await this.host.store.update((draft) => {
        addAttempt(draft, {
          id: this.attemptId,
          taskId: this.task.id,
          n: this.n,
          branch: this.branch,
          worktree: this.worktree,
          runDir: this.runDir,
          ...(this.options.agent ? { agent: this.options.agent } : {}),
          ...(this.options.profile ? { profile: this.options.profile } : {}),
        });
      });
    }
    const resumeFrom = existing?.state;
    // Once the agent has been started, setup is done and the agent resumes from its checkpoint. An
    // attempt that was still preparing starts over: its setup may have died with the server (setup
    // commands are meant to be repeatable, like `npm ci`), and no agent ran yet.
    const resumeAgent = existing !== undefined && (resumeFrom === 'running' || resumeFrom === 'checking');
    if (resumeAgent) {
      // `checkRounds` counts the round being checked too: a restart during checks runs that round
      // again; one while the agent works goes on with the next. Without it a restarted attempt
      // would get maxAttempts rounds afresh.
      this.checkRound = Math.max(0, (existing.checkRounds ?? 0) - (resumeFrom === 'checking' ? 1 : 0));
      if (existing.sandbox === 'local' && existing.workerId !== undefined) {
        const ended = await endStaleAgent(Number(existing.workerId), this.runDir);
        if (ended)
          this.host.logger.warn(
            { attempt: this.attemptId },
            'ended the agent a previous server left running',
          );
      }
    }
    await this.prepare(resumeAgent);
    await this.startAgent(resumeAgent);
    return this.rounds(resumeFrom === 'checking');
  }

  private recordedOutcome(record: AttemptRecord): AttemptOutcome {
    // A plan task's attempt passes without a commit: its work is its proposals, not a change.
    const passed =
      record.state !== 'failed' &&
      record.checkPassed === true &&
      (record.commit !== undefined || this.isPlan);
    const outcome: AttemptOutcome = {
      attemptId: this.attemptId,
      n: this.n,
      branch: this.branch,
      worktree: this.worktree,
      passed,
      checkOutput: record.checkOutput ?? '',
      ...(record.commit ? { commit: record.commit } : {}),
      ...(record.baseCommit ? { base: record.baseCommit } : {}),
      ...(record.error ? { reason: record.error } : {}),
      ...(record.diffStat ? { diffStat: record.diffStat } : {}),
      ...(record.costUsd !== undefined ? { costUsd: record.costUsd } : {}),
    };
    this.lastOutcome = outcome;
    this.ending = Promise.resolve(outcome);
    return outcome;
  }

  /**
   * Claims the round's end: runs `record` unless another end was claimed first, in which case
   * that one's outcome is returned and `record` never runs.
   */
  private end(record: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
    // A claim whose recording throws is given up before anyone hears of it, so the failure that
    // follows (settle's) can claim the end; else it would be handed the same rejection again and
    // the error would escape the attempt and fail its whole task.
    this.ending ??= record().catch((error: unknown) => {
      this.ending = undefined;
      throw error;
    });
    return this.ending;
  }

  // ---- preparing ---------------------------------------------------------------------------

  /**
   * Opens the attempt's pane as it starts preparing (a placeholder runs there until the agent is
   * respawned into it), so the person sees its setup and progress, and can stop it with kill-pane.
   */
  private openPane(): Pane {
    const pane = this.host.server.newPane({
      name: `${this.task.id}/a${this.n}`,
      command: ['(preparing)'],
      cwd: this.worktree,
      remainOnExit: true,
      attemptId: this.attemptId,
      runDir: this.runDir,
      process: () => new PlaceholderProcess(),
    });
    pane.state = 'preparing';
    this.pane = pane;
    pane.onClose((reason) => {
      if (this.pane === pane) this.pane = undefined;
      if (reason !== 'killed' || this.stopped) return;
      this.stoppedByUser = true;
      this.host.logger.info({ attempt: this.attemptId }, 'attempt pane killed by the user');
      this.onUserStop();
      this.finishAgent();
    });
    return pane;
  }

  private async prepare(again: boolean): Promise<void> {
    await mkdir(this.runDir, { recursive: true });
    this.openPane();
    this.print(`── orchestra: ${this.task.id} attempt ${this.n}: preparing ──\n`);
    await this.transition('preparing');
    const exists = await access(this.worktree).then(
      () => true,
      () => false,
    );
    if (!exists) {
      this.print("creating the attempt's repository…\n");
      const info = await createWorktree({
        root: this.host.root,
        taskId: this.task.id,
        n: this.n,
        baseBranch: this.host.config.baseBranch,
      });
      this.baseCommit = info.base;
    } else {
      // Picked up after a restart: the folder is already there, with whatever the agent did. The
      // host's attempt branch stays at the base until the attempt's work is imported.
      this.baseCommit = this.record?.baseCommit ?? (await headCommit(this.host.root, this.branch));
    }
    await this.host.store.update((draft) => {
      const attempt = draft.attempts[this.attemptId];
      if (attempt) {
        attempt.worktree = this.worktree;
        attempt.baseCommit = this.baseCommit;
      }
    });
    this.objectsDir = await hostObjectsDir(this.host.root);
    const resolved = resolveAgent(this.host.config, this.options.agent ?? this.task.meta.agent);
    this.sandbox = await chooseSandbox(this.host.config.sandbox, resolved.agent.sandbox, {
      image: this.host.config.worker.image,
      env: this.host.env,
    });
    if (this.sandbox.warning) this.host.warn(this.sandbox.warning);
    this.checkStop();
    // The config's `copy` files (.env and the like), into the fresh worktree before any agent runs.
    if (!again && this.host.config.copy.length > 0) {
      const copied = await copyIntoWorktree(this.host.root, this.worktree, this.host.config.copy);
      if (copied.length > 0) this.print(`copy: ${copied.join(', ')}\n`);
    }
    // Only before any agent ran: walking a folder a live agent can rearrange would let it swap in
    // symlinks and have the (root) server chown what they point at.
    if (this.sandbox.kind === 'docker' && !again)
      await handOver([this.worktree, this.runDir], this.workerUser);
    if (!again && this.host.config.setup.length > 0) {
      this.print(`setup: ${this.host.config.setup.length} command(s)\n`);
      const result = await withShell(this.place, 'setup', (shell) =>
        runCommands(shell, this.host.config.setup, {
          timeoutMs: DEFAULT_SETUP_TIMEOUT_MS,
          onOutput: (chunk) => this.print(chunk),
        }),
      );
      await writeNoFollow(join(this.runDir, 'setup.log'), result.output);
      if (!result.ok) {
        throw new OrchestraError('SETUP_FAILED', `setup command ${result.detail ?? 'failed'}`, {
          hint: `see ${join(this.runDir, 'setup.log')}`,
        });
      }
    }
    this.checkStop();
    // The agent reads the task and its settings from the run directory: it is all a container sees.
    await writeNoFollow(join(this.runDir, 'task.md'), this.task.raw);
    this.agentType = resolved.agent.type;
    this.exitState = (code) => resolved.adapter.stateFromExit(code);
    const profileName = this.profileName;
    const profile = this.host.config.profiles[profileName];
    if (!profile) {
      throw new OrchestraError('TASK_INVALID', `no profile named "${profileName}"`, {
        hint: `profiles: ${Object.keys(this.host.config.profiles).join(', ')}`,
      });
    }
    const checks = this.checkCommands;
    const budgetUsd = this.task.meta.budgetUsd ?? this.host.config.budget?.perTaskUsd;
    // The repository's memory reaches every agent; one that cannot be read (a planted link) is left out.
    const memory = await readMemory(this.host.root).catch((error: unknown) => {
      this.host.warn(`memory not given to agents: ${errorMessage(error)}`);
      return '';
    });
    await writeFileAtomic(
      join(this.runDir, 'agent.json'),
      `${JSON.stringify(
        {
          profile,
          checks,
          taskId: this.task.id,
          stayAfterComplete: true,
          stallSeconds: this.host.config.model.stallSeconds,
          rateLimitMaxWaitMinutes: this.host.config.model.rateLimitMaxWaitMinutes,
          ...(budgetUsd ? { budgetUsd } : {}),
          ...(this.isPlan ? { proposals: { max: this.host.config.autonomy.maxTasksPerCycle } } : {}),
          ...(memory ? { memory } : {}),
        },
        null,
        2,
      )}\n`,
    );
  }

  // ---- running -----------------------------------------------------------------------------

  private resetFinished(): void {
    this.agentFinished = new Promise<void>((resolve) => {
      this.finishAgent = resolve;
    });
  }

  private async startAgent(resume: boolean): Promise<void> {
    this.checkStop();
    const resolved = resolveAgent(this.host.config, this.options.agent ?? this.task.meta.agent);
    const sandbox = this.sandbox ?? { kind: 'local' };
    const inContainer = sandbox.kind === 'docker';
    const runDirInWorker = inContainer ? CONTAINER_RUN_DIR : this.runDir;
    const taskFile = join(runDirInWorker, 'task.md');
    const record = this.record;
    const launch = resolved.adapter.launch({
      taskFile,
      taskText: this.task.raw,
      prompt: firstPrompt(this.task, taskFile),
      runDir: runDirInWorker,
      worktree: this.worktree,
      inContainer,
      resume,
      ...(record?.sessionId ? { sessionId: record.sessionId } : {}),
      agent: resolved.agent,
      profile: this.profileName,
      hostEnv: this.host.env,
    });
    // A resumed agent has its files already; writing into folders its live container can swap
    // for symlinks would let it redirect the host's writes.
    for (const file of resume ? [] : launch.files) {
      await writeNoFollow(join(this.runDir, file.path), file.content, file.mode ?? 0o644);
    }
    // What the host just wrote in the run directory must be the worker's too.
    if (inContainer && !resume) await handOver([this.runDir], this.workerUser);
    const secrets: Record<string, string> = {};
    for (const name of PASS_THROUGH_ENV) {
      const value = this.host.env[name];
      if (value) secrets[name] = value;
    }
    for (const [to, from] of Object.entries(launch.renameEnv ?? {})) {
      const value = this.host.env[from];
      if (value) secrets[to] = value;
      delete secrets[from];
    }
    if (inContainer) Object.assign(secrets, await this.loginSecret(launch));
    this.resetFinished();
    await this.transition('running', {
      sandbox: sandbox.kind,
      agent: resolved.name,
      ...(launch.sessionId ? { sessionId: launch.sessionId } : {}),
    });
    // What earlier agents of this attempt reported is history: the tail below skips it, so an old
    // round's "done" cannot end the current round. A resumed agent that had already finished this
    // round says nothing new (its checkpoint is done), so that is taken from the history instead.
    const eventsPath = join(this.runDir, 'events.jsonl');
    const history = await readAgentHistory(eventsPath);
    if (resume && history.roundFinished) this.finishAgent();
    this.agentEnd = resume && history.roundFinished ? history.lastStatus : undefined;
    const name = `${this.task.id}/a${this.n}`;
    // Docker: the container is the pane's process; local: the server spawns the command on a PTY.
    const container =
      sandbox.kind === 'docker' ? await this.dockerProcess(launch, secrets, resume) : undefined;
    if (this.stopped) {
      container?.kill();
      throw new AttemptStopped(this.attemptId);
    }
    const pane = this.pane;
    if (!pane || this.stoppedByUser) {
      container?.kill();
      throw new OrchestraError('INTERNAL', STOPPED_BY_USER);
    }
    this.print(`── orchestra: starting ${name} ──\n`);
    this.host.server.respawnPane(pane, {
      command: launch.command,
      cwd: launch.cwd,
      env: sandbox.kind === 'local' ? { ...launch.env, ...secrets } : {},
      ...(container ? { process: () => container } : {}),
    });
    pane.state = undefined;
    this.agentAlive = true;
    // At once, before any await: an agent that ends at once (`true`) must still be heard.
    pane.onExit((exit) => this.agentExited(exit));
    await this.host.store.update((draft) => {
      const attempt = draft.attempts[this.attemptId];
      if (attempt && pane.process.pid !== undefined && sandbox.kind === 'local')
        attempt.workerId = String(pane.process.pid);
    });
    this.tail?.dispose();
    let skip = history.events;
    this.tail = tailEvents(eventsPath, (event) => {
      if (skip > 0) skip--;
      else this.agentEvent(event);
    });
    if (launch.initialInput) void this.typeInitialInput(launch.initialInput);
  }

  private async dockerProcess(
    launch: AgentLaunch,
    secrets: Record<string, string>,
    resume: boolean,
  ): Promise<PaneProcess> {
    const size = this.host.server.nextPaneSize();
    if (resume) {
      const existing = (
        await findWorkers({ session: this.host.session, repo: this.host.root }, dockerClient(this.host.env))
      ).find((w) => w.attemptId === this.attemptId);
      if (existing?.state === 'paused') {
        // The server died during a check round, which freezes the agent: let it go on.
        await dockerClient(this.host.env)
          .getContainer(existing.id)
          .unpause()
          .then(() => {
            existing.state = 'running';
          })
          .catch(() => {});
      }
      if (existing && existing.state === 'running') {
        this.containerId = existing.id;
        return DockerWorker.reattach(existing.id, {
          ...size,
          forwarders: this.host.forwarders,
          env: { ...launch.env, ...secrets },
        });
      }
      if (existing) {
        // It ended while no server was watching: clear it away and start the agent again from its checkpoint.
        await dockerClient(this.host.env)
          .getContainer(existing.id)
          .remove({ force: true })
          .catch(() => {});
      }
    }
    const caFile = await hostCaFile(this.host.env);
    const worker = await DockerWorker.create({
      session: this.host.session,
      repo: this.host.root,
      taskId: this.task.id,
      attemptId: this.attemptId,
      command: launch.command,
      env: { ...launch.env, ...secrets },
      worktree: this.worktree,
      objectsDir: this.objectsDir,
      runDir: this.runDir,
      config: this.host.config.worker,
      user: this.workerUser,
      // A read-only profile (the planner, the reviewer) gets the worktree mounted read-only: its
      // tools refuse writes, and the mount holds when a command slips past them.
      ...(this.host.config.profiles[this.profileName]?.readOnly ? { readOnlyWorktree: true } : {}),
      ...size,
      forwarders: this.host.forwarders,
      ...(caFile ? { caFile } : {}),
    });
    this.containerId = worker.id;
    await this.host.store.update((draft) => {
      const attempt = draft.attempts[this.attemptId];
      if (attempt) attempt.workerId = worker.id;
    });
    return worker;
  }

  /**
   * The token of the launch's login file, as the secret it names (`{ CLAUDE_CODE_OAUTH_TOKEN:
   * ... }`), read here on the host as the server's user; nothing when there is no login file. A
   * file that is missing or holds no token leaves the agent signed out, and the pane says why.
   */
  private async loginSecret(launch: AgentLaunch): Promise<Record<string, string>> {
    const login = launch.loginToken;
    if (!login) return {};
    const info = await lstat(login.file).catch(() => undefined);
    // A login file is a few hundred bytes; anything else there is not one.
    const text =
      info?.isFile() && info.size < 64 * 1024 ? await readFile(login.file, 'utf8').catch(() => '') : '';
    const token = login.read(text);
    if (token) return { [login.env]: token };
    this.print(
      `orchestra: no API key in the server's environment and no login in ${login.file}; the agent starts signed out\n`,
    );
    return {};
  }

  /** Types an adapter's first line once the agent's screen reads as waiting (Aider). */
  private async typeInitialInput(text: string): Promise<void> {
    const resolved = resolveAgent(this.host.config, this.options.agent ?? this.task.meta.agent);
    for (let i = 0; i < 120 && this.pane && !this.pane.exited; i++) {
      await new Promise((r) => setTimeout(r, 500));
      if (resolved.adapter.stateFromScreen?.(this.pane.capture(0)) === 'waiting') break;
    }
    if (!this.pane || this.pane.exited) return;
    this.pane.input(text);
    await new Promise((r) => setTimeout(r, 100));
    this.pane.input('\r');
  }

  private agentEvent(event: AgentEvent): void {
    if (event.type !== 'status' || this.agentEnd) return;
    if (event.state === 'done') this.agentEnd = { kind: 'done' };
    else if (event.state === 'error') this.agentEnd = { kind: 'error', reason: statusReason(event) };
    else return;
    this.finishAgent();
  }

  private agentExited(exit: PaneExit): void {
    this.agentAlive = false;
    this.agentEnd ??= { kind: 'exited', code: exit.exitCode };
    // A worker killed for a reason of its own (the memory limit) has no work worth checking.
    if (exit.reason) this.exitReason = exit.reason;
    this.host.logger.info({ attempt: this.attemptId, exit }, 'agent process ended');
    this.finishAgent();
  }

  // ---- checking ----------------------------------------------------------------------------

  /** Waits for the agent, runs the check gate, sends failures back, until an outcome. */
  private async rounds(checkAtOnce: boolean): Promise<AttemptOutcome> {
    const maxRounds = this.task.meta.maxAttempts ?? this.host.config.maxAttempts;
    for (;;) {
      if (!checkAtOnce) await this.agentFinished;
      checkAtOnce = false;
      if (this.stopped) throw new AttemptStopped(this.attemptId);
      if (this.stoppedByUser) return this.failWith(STOPPED_BY_USER);
      if (this.exitReason) return this.failWith(this.exitReason);
      if (this.agentEnd?.kind === 'exited') {
        // Its last words may still be on their way through the events tail: read them directly.
        const history = await readAgentHistory(join(this.runDir, 'events.jsonl'));
        if (history.lastStatus) this.agentEnd = history.lastStatus;
      }
      const failure = this.agentFailure();
      if (failure) return this.keepWorkAndFail(failure);
      if (this.isPlan) return this.end(() => this.recordPlanned());
      this.checkRound++;
      await this.transition('checking', { checkRounds: this.checkRound });
      const commands = this.checkCommands;
      const base = this.base;
      const message = `${this.task.id}: ${this.task.title} (attempt ${this.n})`;
      const cli = this.agentType !== 'orchestra';
      const round = await this.withAgentPaused(() =>
        withShell(this.place, 'checks', async (shell) => {
          // The work is taken first, from the tree the checks are about to see; what the checks
          // do to the folder afterwards is not part of it.
          const bundle = await this.exportWork(shell, base, message);
          // A CLI agent's turn that changed nothing is a question for the person, or a pause —
          // not a result to check (Claude Code's Stop hook fires at the end of every turn).
          if (cli && this.agentAlive && bundle.length === 0) return { bundle, result: undefined };
          this.print(`\n── orchestra: checks, round ${this.checkRound} of ${maxRounds} ──\n`);
          const result = commands.length
            ? await runChecks({
                commands,
                shell,
                runDir: this.runDir,
                round: this.checkRound,
                stopOnFirstFailure: this.host.config.stopOnFirstFailure,
                onOutput: (chunk) => this.print(chunk),
              })
            : { passed: true, output: '(no check commands configured)\n' };
          return { bundle, result };
        }),
      );
      const { result } = round;
      if (this.stopped) throw new AttemptStopped(this.attemptId);
      if (this.ending) return this.ending;
      if (!result) {
        // Not a round: the attempt waits for the agent's next turn — a bounded number of times,
        // since each "done" the agent writes costs a container and an export.
        this.checkRound--;
        if (++this.emptyTurns > MAX_EMPTY_TURNS) {
          return this.failWith(`the agent ended ${MAX_EMPTY_TURNS} turns in a row without a change`);
        }
        await this.waitForNextTurn();
        continue;
      }
      this.emptyTurns = 0;
      const output = tail(result.output);
      if (result.passed) return this.end(() => this.recordPass(round.bundle, base, output));
      if (this.checkRound < maxRounds && this.agentAlive) {
        this.print(`✗ orchestra: ${result.failed} failed; the output goes back to the agent\n`);
        // The built-in agent ends with its task_complete tool; a CLI agent by ending its turn.
        const then = cli ? 'then end your turn' : 'then call task_complete';
        await this.deliver(
          `The checks failed (round ${this.checkRound} of ${maxRounds}): \`${result.failed}\` did not pass. Fix the problem, run the checks again yourself, ${then}.\n\nOutput (last part):\n${output}`,
        );
        continue;
      }
      return this.failWith(
        `checks failed: ${result.failed}${this.agentAlive ? '' : ' (the agent had exited)'}`,
        output,
      );
    }
  }

  /**
   * The end of a plan task's attempt once its agent finished: it passes without a check round or a
   * commit (its proposals are in its events file, which the autonomy loop reads).
   */
  private async recordPlanned(): Promise<AttemptOutcome> {
    const costUsd = (await attemptCost(this.runDir)).usd;
    await this.transition('succeeded', {
      checkPassed: true,
      checkOutput: '',
      ...(costUsd !== undefined ? { costUsd } : {}),
    });
    this.print('✓ orchestra: planning finished\n');
    const outcome: AttemptOutcome = {
      attemptId: this.attemptId,
      n: this.n,
      branch: this.branch,
      worktree: this.worktree,
      passed: true,
      checkOutput: '',
      ...(costUsd !== undefined ? { costUsd } : {}),
    };
    this.lastOutcome = outcome;
    return outcome;
  }

  /**
   * The end of a round whose checks passed: the work is fetched onto the attempt's branch and the
   * success recorded; work that changed nothing fails instead.
   */
  private async recordPass(bundle: Buffer, base: string, output: string): Promise<AttemptOutcome> {
    const work = await this.importWork(bundle, base);
    if (!work.changed) return this.recordFailure('the agent made no change', output);
    const head = work.commit;
    // The editor keeps to the profile's `editable` globs inside the worker, but bash does not: what
    // counts is the imported commit, checked here on the host.
    const editable = this.host.config.profiles[this.profileName]?.editable;
    if (editable !== undefined) {
      const outside = (await changedPaths(this.host.root, base, head)).filter(
        (p) => !matchesAnyGlob(p, editable),
      );
      if (outside.length > 0) {
        const named =
          outside.slice(0, 5).join(', ') + (outside.length > 5 ? ` and ${outside.length - 5} more` : '');
        return this.recordFailure(
          `it changed files its profile "${this.profileName}" may not edit: ${named} (editable: ${editable.join(', ')})`,
          output,
        );
      }
    }
    const stat = await diffStat(this.host.root, base, head);
    const costUsd = (await attemptCost(this.runDir)).usd;
    const diff = { files: stat.files, insertions: stat.insertions, deletions: stat.deletions };
    await this.transition('succeeded', {
      commit: head,
      checkPassed: true,
      checkOutput: output,
      diffStat: diff,
      ...(costUsd !== undefined ? { costUsd } : {}),
    });
    this.print(`✓ orchestra: checks passed; committed ${head.slice(0, 10)} on ${this.branch}\n`);
    this.lastOutcome = {
      attemptId: this.attemptId,
      n: this.n,
      branch: this.branch,
      worktree: this.worktree,
      passed: true,
      commit: head,
      base,
      checkOutput: output,
      diffStat: diff,
      ...(costUsd !== undefined ? { costUsd } : {}),
    };
    return this.lastOutcome;
  }

  /**
   * Fetches an exported bundle onto the attempt's branch (only that branch; see importBundle). A
   * full disk on the host is waited out (waitingOutDiskFull), as the store
   * waits: the work is in hand, and losing it to a moment without room would be a false failure.
   */
  private importWork(bundle: Buffer, base: string): ReturnType<typeof importBundle> {
    return waitingOutDiskFull(
      () =>
        importBundle({ root: this.host.root, bundle, branch: this.branch, base, attemptId: this.attemptId }),
      {
        giveUp: () => this.stopped,
        onFirstWait: () =>
          this.host.logger.warn(
            { attempt: this.attemptId },
            'the disk is full: taking the work back waits for room',
          ),
      },
    );
  }

  /**
   * Why the agent's round cannot count as work to check, if so: it said it stopped on an error, or
   * its process ended before it said it was done. An agent CLI that does not report status (Claude
   * Code, Codex) is taken at its exit code, by its adapter's rule; the built-in agent always says.
   */
  private agentFailure(): string | undefined {
    const end = this.agentEnd;
    if (!end || end.kind === 'done') return undefined;
    if (end.kind === 'error') return `the agent stopped on an error: ${end.reason}`;
    if (this.agentType !== 'orchestra' && this.exitState(end.code) === 'done') return undefined;
    return end.code === null
      ? 'the agent was killed by a signal before it said it was done'
      : `the agent exited with code ${end.code} before it said it was done`;
  }

  /**
   * Fails the attempt with `reason`, first taking what the agent wrote onto the attempt's branch
   * (unchecked), so the work is kept for a retry or a person; a failure to take it is noted.
   */
  private async keepWorkAndFail(reason: string): Promise<AttemptOutcome> {
    let kept = '';
    try {
      const base = this.base;
      const bundle = await this.withAgentPaused(() =>
        withShell(this.place, 'checks', (shell) =>
          this.exportWork(shell, base, `${this.task.id}: unfinished work (attempt ${this.n})`),
        ),
      );
      if (this.stopped) throw new AttemptStopped(this.attemptId);
      const work = await this.importWork(bundle, base);
      if (work.changed) kept = `; its unfinished work is on ${this.branch}`;
    } catch (error) {
      if (error instanceof AttemptStopped) throw error;
      kept = `; its work could not be kept (${errorMessage(error)})`;
    }
    return this.failWith(`${reason}${kept}`);
  }

  /**
   * The check gate's commands: the repository's `check`, then the task's test plan, each command
   * once (a test plan that repeats `npm test` does not run it twice), in that order.
   */
  private get checkCommands(): string[] {
    return [...new Set([...this.host.config.check, ...this.task.testPlan].map((c) => c.trim()))];
  }

  /** Where this attempt's setup, checks and export run (see workers/shells.ts). */
  private get place(): ShellPlace {
    return {
      sandbox: this.sandbox?.kind ?? 'local',
      session: this.host.session,
      repo: this.host.root,
      taskId: this.task.id,
      attemptId: this.attemptId,
      worktree: this.worktree,
      runDir: this.runDir,
      objectsDir: this.objectsDir,
      config: this.host.config.worker,
      user: this.workerUser,
      env: this.host.env,
    };
  }

  /** The attempt's base commit, which `prepare` records before anything else runs. */
  private get base(): string {
    if (this.baseCommit === undefined)
      throw new OrchestraError('INTERNAL', `${this.attemptId} has no base commit yet`);
    return this.baseCommit;
  }

  /** The `uid:gid` this attempt's containers run as. */
  private get workerUser(): string {
    return workerUser(this.host.config.worker.user, hostIds());
  }

  /**
   * Runs `fn` with the agent's container frozen (`docker pause`), so the tree that is exported
   * and checked cannot change under it; a local agent keeps running (`local` is not a sandbox).
   */
  private async withAgentPaused<T>(fn: () => Promise<T>): Promise<T> {
    const container =
      this.containerId && this.agentAlive
        ? dockerClient(this.host.env).getContainer(this.containerId)
        : undefined;
    const paused = container
      ? await container.pause().then(
          () => true,
          () => false, // It exited meanwhile: nothing to freeze.
        )
      : false;
    try {
      return await fn();
    } finally {
      if (paused) await container?.unpause().catch(() => {});
    }
  }

  /**
   * Runs the export step (workers/export-script.ts) in `shell` and returns its bundle: empty when
   * the work's tree is the base's.
   *
   * @throws OrchestraError EXPORT_FAILED when the step fails (the agent broke its repository)
   */
  private async exportWork(shell: WorkerShell, base: string, message: string): Promise<Buffer> {
    let errors = '';
    const result = await shell.run(exportCommand(base, message), {
      timeoutMs: EXPORT_TIMEOUT_MS,
      captureStdout: true,
      env: exportEnv(await hostIdentity(this.host.root)),
      onOutput: (chunk) => {
        errors = tail(errors + chunk, 2000);
      },
    });
    if (result.exitCode !== 0) {
      throw new OrchestraError(
        'EXPORT_FAILED',
        `the attempt's work could not be exported (exit ${result.exitCode ?? 'by a signal or timeout'}): ${errors.trim().split('\n').at(-1) ?? ''}`,
        {
          hint: `do not run git in ${this.worktree} (its config is the agent's); copy it out with \`git clone --no-local ${this.worktree} /tmp/x\``,
        },
      );
    }
    return result.stdout ?? Buffer.alloc(0);
  }

  /** Claims the round's end as a failure with `reason` (see {@link end}). */
  private failWith(reason: string, checkOutput = ''): Promise<AttemptOutcome> {
    return this.end(() => this.recordFailure(reason, checkOutput));
  }

  private async recordFailure(reason: string, checkOutput: string): Promise<AttemptOutcome> {
    if (this.stopped) throw new AttemptStopped(this.attemptId);
    const costUsd = (await attemptCost(this.runDir).catch(() => undefined))?.usd;
    await this.transition('failed', {
      error: reason,
      checkPassed: false,
      checkOutput,
      ...(costUsd !== undefined ? { costUsd } : {}),
    }).catch((error: unknown) => {
      if (error instanceof AttemptStopped) throw error;
      this.host.logger.error({ err: error }, 'could not record a failed attempt');
    });
    this.print(`✗ orchestra: attempt failed: ${reason}\n`);
    if (this.pane?.state === 'preparing') this.pane.state = 'failed';
    this.lastOutcome = {
      attemptId: this.attemptId,
      n: this.n,
      branch: this.branch,
      worktree: this.worktree,
      passed: false,
      reason,
      checkOutput,
      ...(costUsd !== undefined ? { costUsd } : {}),
    };
    // Nothing is ever sent to a failed attempt again: its agent and container go now, not when
    // the rest of its task is settled.
    void this.finish().catch((error: unknown) =>
      this.host.logger.warn(
        { err: error, attempt: this.attemptId },
        "ending a failed attempt's agent failed",
      ),
    );
    return this.lastOutcome;
  }

  /**
   * Ends a round that was stopped meanwhile (the server going, a person's kill-pane) before its
   * next step: nothing more is started for it, an agent's container least of all.
   *
   * @throws AttemptStopped when the server stops; OrchestraError when a person stopped it
   */
  private checkStop(): void {
    if (this.stopped) throw new AttemptStopped(this.attemptId);
    if (this.stoppedByUser) throw new OrchestraError('INTERNAL', STOPPED_BY_USER);
  }

  /** Shows orchestra's own lines (the check gate) in the attempt's pane, exited or not. */
  private print(text: string): void {
    this.pane?.print(text);
  }

  /** Sends a message to the agent: the built-in agent's inbox, or typed into other CLIs. */
  private async deliver(text: string): Promise<void> {
    this.resetFinished();
    this.agentEnd = undefined;
    await this.transition('running');
    if (this.agentType === 'orchestra') {
      await appendNoFollow(join(this.runDir, INBOX_FILE), `${JSON.stringify({ type: 'message', text })}\n`);
    } else if (this.pane) {
      this.pane.input(text.replace(/\n/g, ' '));
      await new Promise((r) => setTimeout(r, 100));
      this.pane.input('\r');
    }
  }

  /**
   * After a CLI agent's turn that changed nothing: says so in the pane, marks the agent waiting
   * (a status line of the server's own in its events file, which the pane title and the
   * notifications read), and waits for its next turn's end.
   */
  private async waitForNextTurn(): Promise<void> {
    this.print('orchestra: the turn ended with no change; waiting for the agent (answer it here)\n');
    this.resetFinished();
    this.agentEnd = undefined;
    await this.transition('running');
    const line = {
      ts: new Date().toISOString(),
      type: 'status',
      state: 'waiting',
      summary: 'turn ended with no change',
      source: 'orchestra',
    };
    await appendNoFollow(join(this.runDir, 'events.jsonl'), `${JSON.stringify(line)}\n`).catch(() => {});
  }

  /**
   * A strategy's message to the agent (a review): it works again, and the next `outcome()` waits
   * for the new round.
   * @throws OrchestraError when the agent has exited
   */
  async send(text: string): Promise<void> {
    if (!this.agentAlive) {
      throw new OrchestraError('INTERNAL', `the agent of ${this.attemptId} has exited; nothing to send to`);
    }
    if (!this.lastOutcome?.passed) {
      throw new OrchestraError('INTERNAL', `${this.attemptId} has failed; nothing to send to`);
    }
    // A new round: the passing one stays recorded (and on its branch) until this one ends.
    this.ending = undefined;
    await this.deliver(text);
    this.current = this.settle(this.rounds(false));
  }

  /**
   * The task is settled: the agent is told to exit, given {@link FINISH_GRACE_MS}, then ended,
   * and its container removed (the pane stays with its transcript). Nothing of the attempt runs
   * after this.
   */
  async finish(): Promise<void> {
    this.tail?.dispose();
    const pane = this.pane;
    if (!pane) {
      // Its pane went first (kill-pane): a container it had goes too.
      if (this.containerId) {
        await dockerClient(this.host.env)
          .getContainer(this.containerId)
          .remove({ force: true })
          .catch(() => {});
      }
      return;
    }
    if (pane.process instanceof PlaceholderProcess) {
      pane.process.kill();
      return;
    }
    if (!pane.exited) {
      if (this.agentType === 'orchestra') {
        await appendNoFollow(join(this.runDir, INBOX_FILE), `${JSON.stringify({ type: 'finish' })}\n`).catch(
          () => {},
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.agentType === 'orchestra' ? FINISH_GRACE_MS : 0);
        pane.onExit(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // Ends a CLI agent that stays at its prompt; for a container, removes it, exited or not.
    pane.process.kill();
  }

  /** The server is going away: stop waiting (the agent checkpoints; a restart resumes it). */
  stop(): void {
    this.stopped = true;
    this.tail?.dispose();
    this.finishAgent();
  }

  /** The latest outcome, when there is one. */
  get latest(): AttemptOutcome | undefined {
    return this.lastOutcome;
  }
}

/**
 * What an attempt's events.jsonl holds so far: how many events `tailEvents` will replay from it
 * (complete lines that parse as JSON with a string `type`, counted as it counts them), and whether
 * the agent had finished the current round: its last status after the last `checking` transition
 * is done or error.
 */
async function readAgentHistory(
  path: string,
): Promise<{ events: number; roundFinished: boolean; lastStatus?: AgentEnd }> {
  const text = (await readNoFollow(path, MAX_EVENTS_BYTES).catch(() => Buffer.alloc(0))).toString('utf8');
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline: empty, or a line still being written
  let events = 0;
  let roundFinished = false;
  let lastStatus: AgentEnd | undefined;
  for (const line of lines) {
    if (!line.trim()) continue;
    let event: AgentEvent;
    try {
      event = JSON.parse(line) as AgentEvent;
    } catch {
      continue;
    }
    if (!event || typeof event.type !== 'string') continue;
    events++;
    if (event.type === 'attempt' && event.state === 'checking') roundFinished = false;
    else if (event.type === 'status' && typeof event.state === 'string') {
      roundFinished = event.state === 'done' || event.state === 'error';
      lastStatus =
        event.state === 'error' ? { kind: 'error', reason: statusReason(event) } : { kind: 'done' };
    }
  }
  return { events, roundFinished, ...(roundFinished && lastStatus ? { lastStatus } : {}) };
}

/** Longest agent-written reason kept, characters: the agent's words are untrusted and go in the Result. */
const MAX_AGENT_REASON_CHARS = 300;

/** The one-line reason an agent gave in an error status event (its `summary`), bounded. */
function statusReason(event: AgentEvent): string {
  const text = typeof event.summary === 'string' ? printable(event.summary).replace(/\s+/g, ' ').trim() : '';
  if (!text) return 'no reason given';
  return text.length > MAX_AGENT_REASON_CHARS ? `${text.slice(0, MAX_AGENT_REASON_CHARS - 1)}…` : text;
}
