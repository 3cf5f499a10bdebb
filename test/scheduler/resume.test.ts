import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { RecordedRequest } from '../../src/model-server/scripted-server.js';
import type { AttemptState } from '../../src/store/schema.js';
import { gitOut } from '../git/fixtures.js';
import { effect, FAST, FIRST, SECOND, type SlowWindows } from './resume-scenario.js';
import { processRunning, ResumeWorld, type RunEvent, waitFor } from './resume-world.js';

/**
 * Issue 6: "a server killed at any point and started again continues every unfinished attempt
 * from the store (local: the agent's `--resume`), never starts a finished attempt again and never
 * loses a queued task."
 *
 * Each case starts `orchestra server` (the built CLI) on a repository with two queued tasks
 * (resume-scenario.ts: task-01 needs two check rounds, task-02 one), waits until task-01's
 * attempt reaches one lifecycle step — kept open for a few seconds by a slow setup, model answer,
 * tool call, check or strategy — SIGKILLs the server there, starts it again and waits for the
 * queue to finish. One case cannot be hit from outside (inside the archive, a window of
 * milliseconds) and builds the state such a kill leaves instead. The cases run side by side, each
 * with its own repository, socket directory and scripted model server.
 *
 * What "nothing twice, nothing lost" is checked by:
 * - archives: one file per task in done/, none in tasks/ or failed/, the store agreeing; one
 *   attempt per task (a restart picks up task-01-a1, never starts task-01-a2); one commit each;
 * - side effects: every scripted tool call, setup and check appends a line to a log outside the
 *   repository; no tool call ran twice, checks and setup ran again only where the kill cut them;
 * - the model: once an answer reached the agent whole, it was never asked for again;
 * - finished attempts were not run again. An agent start writes a header to transcript.log, so
 *   the header count is the number of agent processes an attempt had; it is 1 for every attempt
 *   the kill did not find with a live agent. And in events.jsonl nothing follows `succeeded` but one
 *   `archived`: no lifecycle step (a restart would write `preparing`) and no agent status;
 * - the killed server's agents: each ended (on SIGHUP, checkpointing first) before its attempt's
 *   agent was started again, and none outlived the run.
 */
/** Generous on a loaded 2-core machine: a case takes 10–20 s there with the others beside it. */
const REACH_TIMEOUT_MS = 60_000;
const FINISH_TIMEOUT_MS = 90_000;

/** A window of a step, ms. */
const WINDOW_MS = 2500;

/** The transcript's first line at each start of the agent (src/agents/builtin/run-agent.ts). */
const AGENT_HEADER = /^orchestra agent · /;
/** The line a resumed agent writes after the header. */
const RESUMED = /^── resumed from conversation\.json: /;
/** The last line of an agent that checkpointed and ended on SIGHUP (agent-loop.ts, `terminated`). */
const TERMINATED = '✗ terminated by SIGHUP; resume continues from the checkpoint';

interface KillCase {
  /** The lifecycle step, as the test's title says it. */
  step: string;
  slow: Partial<SlowWindows>;
  strategy?: 'settle';
  /** task-02 is queued only just before the kill (the step between two tasks). */
  secondTaskLater?: boolean;
  /**
   * task-02 is queued only after the kill. For the steps after task-01's outcome: its slot is free
   * then, so task-02 would start during the window and the kill could find it preparing (which a
   * restart rightly prepares again) or not, as the machine's load decides.
   */
  secondTaskAfterKill?: boolean;
  /** True once task-01's attempt is at the step. */
  reached(world: ResumeWorld): Promise<boolean>;
  /** task-01's attempt state in the store right after the kill: proof the kill hit the step. */
  stateAtKill: AttemptState;
  /** How often task-01's attempt went through `preparing`: once, plus once per resume. */
  prepared: number;
  /** Whether task-01's agent was running at the kill, and so was started again with --resume. */
  agentResumed: boolean;
  /**
   * Runs of task-01's turn-1 tool call: 0 when the kill fell while the model was answering that
   * turn (the answer was lost with the agent; the scripted server, which hands out turns in order,
   * answers the repeated request with the next turn).
   */
  turn1Tool: 0 | 1;
  /** Runs of task-01's check: 2 rounds, plus the round a kill interrupted. */
  checkRuns: number;
  /** Starts of task-01's setup: once, plus once when the kill interrupted it. */
  setupStarts: number;
  /** A line task-01's transcript must have. */
  transcriptHas?: string;
  /** Leaves what a kill inside the archive would (after the kill, before the restart); returns the archive's name. */
  afterKill?: (world: ResumeWorld) => Promise<string>;
}

const attemptState = async (world: ResumeWorld) => (await world.state())?.attempts[FIRST]?.state;

const CASES: KillCase[] = [
  {
    step: 'preparing (setup command running)',
    slow: { setupMs: WINDOW_MS },
    reached: async (w) => (await w.count(effect.setupStart(FIRST))) === 1,
    stateAtKill: 'preparing',
    prepared: 2,
    agentResumed: false,
    turn1Tool: 1,
    checkRuns: 2,
    setupStarts: 2,
  },
  {
    step: 'running, mid-turn (the model is answering)',
    slow: { turnMs: WINDOW_MS },
    reached: async (w) =>
      w.model.requests.some((r) => r.scenario === FIRST && r.turnIndex === 1 && !r.complete),
    stateAtKill: 'running',
    prepared: 2,
    agentResumed: true,
    turn1Tool: 0,
    checkRuns: 2,
    setupStarts: 1,
  },
  {
    step: 'running, mid-tool (a bash command is running, after a failed check)',
    slow: { toolMs: WINDOW_MS },
    reached: async (w) => (await w.count(effect.tool(FIRST, 3))) === 1,
    stateAtKill: 'running',
    prepared: 2,
    agentResumed: true,
    turn1Tool: 1,
    checkRuns: 2,
    setupStarts: 1,
    transcriptHas: 'interrupted by a restart, not run again',
  },
  {
    step: 'checking (the first check round is running)',
    // Longer than a restart: the check the killed server left running keeps the old agent alive.
    slow: { checkMs: 4 * WINDOW_MS },
    reached: async (w) =>
      (await w.count(effect.check(FIRST))) === 1 && (await attemptState(w)) === 'checking',
    stateAtKill: 'checking',
    prepared: 2,
    agentResumed: true,
    turn1Tool: 1,
    checkRuns: 3,
    setupStarts: 1,
  },
  {
    step: 'succeeded, before the archive',
    slow: { settleMs: WINDOW_MS },
    strategy: 'settle',
    secondTaskAfterKill: true,
    reached: async (w) => (await attemptState(w)) === 'succeeded',
    stateAtKill: 'succeeded',
    prepared: 1,
    agentResumed: false,
    turn1Tool: 1,
    checkRuns: 2,
    setupStarts: 1,
  },
  {
    step: 'inside the archive (the archived file written, the queued one not yet removed)',
    slow: { settleMs: WINDOW_MS },
    strategy: 'settle',
    secondTaskAfterKill: true,
    reached: async (w) => (await attemptState(w)) === 'succeeded',
    afterKill: (w) => w.halfArchive('task-01', FIRST),
    stateAtKill: 'succeeded',
    prepared: 1,
    agentResumed: false,
    turn1Tool: 1,
    checkRuns: 2,
    setupStarts: 1,
  },
  {
    step: 'between the archive of task-01 and the start of task-02',
    slow: {},
    secondTaskLater: true,
    reached: async (w) => (await w.state())?.tasks['task-01']?.state === 'archived',
    stateAtKill: 'succeeded',
    prepared: 1,
    agentResumed: false,
    turn1Tool: 1,
    checkRuns: 2,
    setupStarts: 1,
  },
];

const worlds: ResumeWorld[] = [];

describe('a server SIGKILLed at each lifecycle step and started again', { concurrency: true }, () => {
  after(async () => {
    await Promise.all(worlds.map((world) => world.dispose()));
  });

  for (const [index, c] of CASES.entries()) {
    it(`finishes the queue once after a kill at: ${c.step}`, { timeout: 170_000 }, async () => {
      const world = await ResumeWorld.create({
        name: String(index + 1),
        slow: { ...FAST, ...c.slow },
        ...(c.strategy ? { strategy: c.strategy } : {}),
        ...(c.secondTaskLater || c.secondTaskAfterKill ? { secondTaskLater: true } : {}),
      });
      worlds.push(world);
      try {
        await runCase(world, c);
      } catch (error) {
        if (error instanceof Error) error.message += `\n${await diagnostics(world)}`;
        throw error;
      }
    });
  }
});

async function runCase(world: ResumeWorld, c: KillCase): Promise<void> {
  const first = world.startServer();
  await waitFor(() => c.reached(world), `task-01 to reach: ${c.step}`, REACH_TIMEOUT_MS, 25);
  if (c.secondTaskLater) await world.queueSecondTask();
  const agentsAtKill = await world.runningAgents();
  await world.killServer(first);

  // The kill hit the step it aimed at.
  const atKill = await world.state();
  assert.equal(
    atKill?.attempts[FIRST]?.state,
    c.stateAtKill,
    `task-01-a1 was ${c.stateAtKill} when the server died`,
  );
  if (c.secondTaskLater) {
    assert.equal(atKill?.tasks['task-01']?.state, 'archived', 'task-01 was archived when the server died');
    assert.equal(atKill?.attempts[SECOND], undefined, 'task-02 had not started when the server died');
  }
  if (c.agentResumed) assert.equal(agentsAtKill.length, 1, `task-01's agent was running at the kill`);
  const halfArchived = await c.afterKill?.(world);
  if (c.secondTaskAfterKill) await world.queueSecondTask();

  const second = world.startServer();
  await waitFor(
    async () => {
      const state = await world.state();
      return ['task-01', 'task-02'].every((id) => state?.tasks[id]?.state === 'archived');
    },
    'both tasks to be archived after the restart',
    FINISH_TIMEOUT_MS,
    100,
  );
  await world.stopServer(second);

  await assertArchivedOnce(world);
  if (halfArchived) {
    // The restarted server finished that archive instead of running the task again.
    const state = await world.state();
    assert.equal(
      state?.tasks['task-01']?.archivedAs,
      `done/${halfArchived}`,
      'task-01 kept the archive begun before the kill',
    );
    assert.equal(
      state?.tasks['task-01']?.resultBranch,
      'orchestra/task-01/a1',
      'the result branch was read from that archive',
    );
    assert.equal(
      state?.tasks['task-01']?.resultCommit,
      state?.attempts[FIRST]?.commit,
      'the result commit was read from that archive',
    );
  }
  await assertEffectsOnce(world, c);
  assertModelTurnsOnce(world, c);
  await assertLifecycle(world, FIRST, c.prepared);
  await assertLifecycle(world, SECOND, 1);
  await assertAgentStarts(world, FIRST, c.agentResumed ? 2 : 1, c.transcriptHas);
  await assertAgentStarts(world, SECOND, 1);

  // The agents of the killed server died with it (SIGHUP from the hung-up terminal, or from the
  // restarted server when a leftover child kept the terminal open): none outlived the test run.
  for (const pid of agentsAtKill)
    assert.equal(processRunning(pid), false, `the killed server's agent ${pid} ended`);
  assert.deepEqual(await world.runningAgents(), [], 'no agent runs after the server stopped');
}

/** Every task archived exactly once, in done/, and recorded so; none left in the queue. */
async function assertArchivedOnce(world: ResumeWorld): Promise<void> {
  assert.deepEqual(await world.queueFiles('tasks'), [], 'no task is left in the queue');
  assert.deepEqual(await world.queueFiles('failed'), [], 'no task failed');
  const done = await world.queueFiles('done');
  assert.deepEqual(
    done.map((f) => f.replace(/-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}(-\d+)?\.md$/, '')),
    ['task-01', 'task-02'],
    `one archive per task in done/ (${done.join(', ')})`,
  );
  const state = await world.state();
  for (const [i, id] of ['task-01', 'task-02'].entries()) {
    assert.equal(state?.tasks[id]?.archivedAs, `done/${done[i]}`, `the store points at ${id}'s archive`);
  }
  // One attempt per task: a restart picks up task-01-a1 again rather than starting a task-01-a2.
  assert.deepEqual(
    Object.keys(state?.attempts ?? {}).sort(),
    [FIRST, SECOND],
    'no task got a second attempt',
  );
  assert.equal(state?.attempts[FIRST]?.state, 'succeeded', 'task-01-a1 succeeded');
  assert.equal(state?.attempts[SECOND]?.state, 'succeeded', 'task-02-a1 succeeded');
  // The check rounds count on across a restart: 1 failed + 1 passed, never a fresh allowance.
  assert.equal(state?.attempts[FIRST]?.checkRounds, 2, 'task-01-a1 used exactly two check rounds');
  assert.equal(state?.attempts[SECOND]?.checkRounds, 1, 'task-02-a1 used one check round');
  for (const [task, attempt] of [
    ['task-01', FIRST],
    ['task-02', SECOND],
  ] as const) {
    const count = gitOut(world.root, 'rev-list', '--count', `main..orchestra/${task}/a1`);
    assert.equal(count, '1', `${attempt} was committed once`);
  }
}

/** Each tool call, setup and check ran as often as the case allows, and no tool call twice. */
async function assertEffectsOnce(world: ResumeWorld, c: KillCase): Promise<void> {
  const lines = await world.effects();
  const count = (line: string) => lines.filter((l) => l === line).length;
  for (const line of new Set(lines.filter((l) => l.startsWith('tool:')))) {
    assert.equal(count(line), 1, `tool call ${line} ran once, not again after the restart`);
  }
  assert.equal(count(effect.tool(FIRST, 0)), 1, 'task-01 turn 0 tool call ran');
  assert.equal(
    count(effect.tool(FIRST, 1)),
    c.turn1Tool,
    'task-01 turn 1 tool call ran as often as expected',
  );
  assert.equal(count(effect.tool(FIRST, 3)), 1, 'task-01 turn 3 tool call (the fix) ran');
  assert.equal(count(effect.tool(SECOND, 0)), 1, 'task-02 tool call ran');
  assert.equal(
    count(effect.check(FIRST)),
    c.checkRuns,
    'task-01 checks ran once per round (and the killed round again)',
  );
  assert.equal(count(effect.check(SECOND)), 1, 'task-02 check ran once');
  assert.equal(
    count(effect.setupStart(FIRST)),
    c.setupStarts,
    'task-01 setup started again only if the kill cut it',
  );
  // The setup killed with the server died of SIGPIPE before its end: it completed exactly once.
  assert.equal(count(effect.setupEnd(FIRST)), 1, 'task-01 setup completed once');
  assert.equal(count(effect.setupStart(SECOND)), 1, 'task-02 setup ran once');
}

/**
 * The scripted model never had to answer a turn twice: once an answer reached the agent in full,
 * the agent's next request carries it (one more assistant message), so no completed turn was asked
 * for again; and every scripted turn was used, none beyond the script.
 */
function assertModelTurnsOnce(world: ResumeWorld, c: KillCase): void {
  const requests = world.model.requests.filter((r) => r.path === '/v1/messages');
  assert.ok(
    requests.every((r) => r.scenario !== null),
    `every model request was answered from the script (${requests.filter((r) => r.scenario === null).length} were not)`,
  );
  assert.deepEqual(world.model.turnsLeft(), { [FIRST]: 0, [SECOND]: 0 }, 'every scripted turn was used once');
  for (const attempt of [FIRST, SECOND]) {
    const mine = requests.filter((r) => r.scenario === attempt);
    for (let i = 1; i < mine.length; i++) {
      const before = mine[i - 1]!;
      if (!(before.complete && before.status === 200)) continue;
      assert.ok(
        assistantTurns(mine[i]!) > assistantTurns(before),
        `${attempt}: request ${i + 1} builds on the answer to request ${i} instead of asking again`,
      );
    }
    const last = mine.at(-1);
    assert.ok(last, `${attempt} asked the model`);
    const { uses, results } = toolIds(last);
    assert.equal(
      new Set(uses).size,
      uses.length,
      `${attempt}: no tool call appears twice in the conversation`,
    );
    assert.deepEqual(
      [...results].sort(),
      [...uses].sort(),
      `${attempt}: each tool call has exactly one result`,
    );
  }
  const cut = requests.filter((r) => !r.complete);
  assert.equal(
    cut.length,
    c.turn1Tool === 0 ? 1 : 0,
    `the only answer the agents did not receive whole is the one the kill cut off (${cut.length} cut)`,
  );
}

function messagesOf(request: RecordedRequest): Array<{ role: string; content: unknown }> {
  const body = request.body as { messages?: Array<{ role: string; content: unknown }> } | undefined;
  return body?.messages ?? [];
}

function assistantTurns(request: RecordedRequest): number {
  return messagesOf(request).filter((m) => m.role === 'assistant').length;
}

function toolIds(request: RecordedRequest): { uses: string[]; results: string[] } {
  const uses: string[] = [];
  const results: string[] = [];
  for (const message of messagesOf(request)) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content as Array<{ type: string; id?: string; tool_use_id?: string }>) {
      if (block.type === 'tool_use' && block.id) uses.push(block.id);
      if (block.type === 'tool_result' && block.tool_use_id) results.push(block.tool_use_id);
    }
  }
  return { uses, results };
}

/** Lifecycle moves the attempt may make; `preparing` again is a restarted server picking it up. */
const NEXT: Record<string, string[]> = {
  preparing: ['running', 'preparing', 'failed'],
  running: ['checking', 'preparing', 'failed'],
  checking: ['succeeded', 'failed', 'running', 'preparing'],
  succeeded: ['archived'],
  failed: ['archived'],
  archived: [],
};

/**
 * The attempt's events.jsonl tells a lifecycle with no step repeated but by a restart:
 * - each move follows the lifecycle; it went through `preparing` `prepared` times;
 * - a finished attempt was not run again: after `succeeded` comes exactly one `archived` and
 *   nothing else — no lifecycle step and no status from an agent started again;
 * - checks never ran while the agent worked: the last agent status since the previous check round
 *   is `done` (or `error`), unless the restart found the attempt checking and runs that round again.
 */
async function assertLifecycle(world: ResumeWorld, attempt: string, prepared: number): Promise<void> {
  const events = await world.events(attempt);
  const lifecycle = events.filter((e) => e.type === 'attempt').map((e) => e.state ?? '');
  assert.equal(lifecycle[0], 'preparing', `${attempt}: the lifecycle starts with preparing`);
  for (let i = 1; i < lifecycle.length; i++) {
    const from = lifecycle[i - 1]!;
    assert.ok(
      NEXT[from]?.includes(lifecycle[i]!),
      `${attempt}: ${from} → ${lifecycle[i]} is a lifecycle move (${lifecycle.join(' ')})`,
    );
  }
  assert.equal(
    lifecycle.filter((s) => s === 'preparing').length,
    prepared,
    `${attempt} was prepared ${prepared} time(s)`,
  );
  const end = events.findIndex((e) => e.type === 'attempt' && e.state === 'succeeded');
  assert.ok(end >= 0, `${attempt} succeeded`);
  const afterEnd: RunEvent[] = events.slice(end + 1);
  assert.deepEqual(
    afterEnd.map((e) => `${e.type}:${e.state}`),
    ['attempt:archived'],
    `${attempt}: nothing happened after it succeeded but its archive (no lifecycle step, no agent event)`,
  );

  let statusSinceCheck: string | undefined;
  const steps: string[] = [];
  for (const e of events) {
    if (e.type === 'status') statusSinceCheck = e.state;
    if (e.type !== 'attempt') continue;
    if (e.state === 'checking') {
      const rerun = steps.slice(-3).join(' ') === 'checking preparing running';
      assert.ok(
        rerun || statusSinceCheck === 'done' || statusSinceCheck === 'error',
        `${attempt}: check round ${steps.filter((s) => s === 'checking').length + 1} waited for the agent to finish (last status: ${statusSinceCheck})`,
      );
      statusSinceCheck = undefined;
    }
    steps.push(e.state ?? '');
  }
}

/**
 * How often the attempt's agent process was started: each start writes the transcript header.
 * Every start after the first resumes the checkpoint, and the agent before it had checkpointed and
 * ended on SIGHUP first — two agents never worked on one attempt at once.
 */
async function assertAgentStarts(
  world: ResumeWorld,
  attempt: string,
  starts: number,
  mustHave?: string,
): Promise<void> {
  const lines = (await world.transcript(attempt)).split('\n');
  const headers = lines.flatMap((line, i) => (AGENT_HEADER.test(line) ? [i] : []));
  assert.equal(headers.length, starts, `${attempt}'s agent was started ${starts} time(s)`);
  for (const [n, at] of headers.entries()) {
    if (n === 0) continue;
    assert.match(lines[at + 1] ?? '', RESUMED, `${attempt}: start ${n + 1} resumed from the checkpoint`);
    assert.equal(
      lines[at - 1],
      TERMINATED,
      `${attempt}: the agent before start ${n + 1} had checkpointed and ended`,
    );
  }
  if (mustHave)
    assert.ok(
      lines.some((l) => l.includes(mustHave)),
      `${attempt}'s transcript says "${mustHave}"`,
    );
}

/** What a failing case shows: the effects, each attempt's events and transcript, the server logs. */
async function diagnostics(world: ResumeWorld): Promise<string> {
  const parts = [`effects: ${(await world.effects()).join(' ')}`];
  for (const attempt of [FIRST, SECOND]) {
    const events = (await world.events(attempt)).map((e) => `${e.type}:${e.state ?? ''}`);
    parts.push(
      `${attempt} events: ${events.join(' ')}`,
      `${attempt} transcript:\n${await world.transcript(attempt)}`,
    );
  }
  parts.push(
    `model requests: ${world.model.requests.map((r) => `${r.scenario}#${r.turnIndex}${r.complete ? '' : '(cut)'}`).join(' ')}`,
  );
  parts.push(await world.serverLogs());
  return parts.join('\n');
}
