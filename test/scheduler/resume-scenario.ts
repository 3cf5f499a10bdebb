import type { ScenarioFile, ScriptedTurn } from '../../src/model-server/scenario.js';

/**
 * The script of the crash-and-resume test (resume.test.ts): two small tasks, the scripted model's
 * turns for their attempts, the setup and check commands, and a strategy with a pause. Every
 * command that matters appends one line to an effects log outside the repository, so the test can
 * count how often each tool call, setup and check really ran, whatever happened to the server.
 *
 * Each step's window is slow only in the case that kills the server there (`SlowWindows`); the
 * rest runs fast, so six cases fit the time budget.
 */

/** How long each killable step lasts, ms; 0 makes it as fast as it goes. */
export interface SlowWindows {
  /** The setup command of task-01's attempt (preparing). */
  setupMs: number;
  /** The model's answer to task-01's second request (running, mid-turn). */
  turnMs: number;
  /** The bash command of task-01's first turn after the failed check (running, mid-tool). */
  toolMs: number;
  /**
   * Task-01's first check run (checking); later runs are fast. The check command outlives a killed
   * server, and with it the agent's terminal (it holds the PTY's master side, see
   * src/scheduler/stale-agent.ts): longer than a restart, the resumed attempt meets the old agent.
   */
  checkMs: number;
  /** The `settle` strategy's pause between the attempt's success and the task's archive. */
  settleMs: number;
}

/** No slow step. */
export const FAST: SlowWindows = { setupMs: 0, turnMs: 0, toolMs: 0, checkMs: 0, settleMs: 0 };

/** The attempts of the test, one per task. */
export const FIRST = 'task-01-a1';
export const SECOND = 'task-02-a1';

/** Effects-log lines: `tool:<attempt>:<turn>`, `setup-start:<attempt>`, `setup-end:<attempt>`, `check:<attempt>`. */
export const effect = {
  tool: (attempt: string, turn: number) => `tool:${attempt}:${turn}`,
  setupStart: (attempt: string) => `setup-start:${attempt}`,
  setupEnd: (attempt: string) => `setup-end:${attempt}`,
  check: (attempt: string) => `check:${attempt}`,
};

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Single-quotes `text` for sh. */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

const bash = (command: string): ScriptedTurn => ({ toolUses: [{ name: 'bash', input: { command } }] });
const complete = (summary: string): ScriptedTurn => ({
  toolUses: [{ name: 'task_complete', input: { summary } }],
});

/**
 * The repository's setup command: logs its start, waits (task-01 only), prints a line, marks the
 * worktree set up and logs its end. Like a real `npm ci` it prints as it goes, so when the server
 * that reads its output is killed, it dies of SIGPIPE before it finishes; the check requires the
 * `.setup-done` mark, so an attempt whose setup never completed cannot pass.
 */
export function setupCommand(log: string, slow: SlowWindows): string {
  const attempt = '"$(basename "$PWD")"';
  return [
    `echo setup-start:${attempt} >> ${sq(log)}`,
    `if [ ${attempt} = ${FIRST} ]; then sleep ${seconds(slow.setupMs)}; fi`,
    'echo setup finished',
    'touch .setup-done',
    `echo setup-end:${attempt} >> ${sq(log)}`,
  ].join('; ');
}

/**
 * task-01: its agent writes hello.txt and completes; the check wants "fixed" in it, so the first
 * check fails and goes back to the agent, which fixes the file and completes again. Two check
 * rounds, with a running step before and after the first.
 */
export function firstTask(log: string, slow: SlowWindows, strategy = 'single'): string {
  const check = [
    `echo ${effect.check(FIRST)} >> ${sq(log)}`,
    `{ [ -e .checked-once ] || { touch .checked-once; sleep ${seconds(slow.checkMs)}; }; }`,
    'test -f .setup-done',
    'grep -q fixed hello.txt',
  ].join(' && ');
  return `---\nstrategy: ${strategy}\n---\n# Greet\n\n## Goal\nWrite hello.txt with a fixed greeting.\n\n## Test plan\n1. Run \`${check}\`\n`;
}

/** task-02: one bash call and done; its check passes at once. */
export function secondTask(log: string): string {
  const check = [`echo ${effect.check(SECOND)} >> ${sq(log)}`, 'test -f .setup-done', 'test -f two.txt'].join(
    ' && ',
  );
  return `# Second\n\n## Goal\nWrite two.txt.\n\n## Test plan\n1. Run \`${check}\`\n`;
}

/** Scripted turns of task-01's attempt, by index; the tool calls log `tool:task-01-a1:<index>`. */
export function firstTurns(log: string, slow: SlowWindows): ScriptedTurn[] {
  const tool = (turn: number) => `echo ${effect.tool(FIRST, turn)} >> ${sq(log)}`;
  return [
    bash(`${tool(0)}; echo hello > hello.txt`),
    { ...bash(tool(1)), delayMs: slow.turnMs },
    complete('Wrote hello.txt.'),
    // After the failed check. The fix lands before the slow part, so a kill during the sleep leaves
    // the work done and the call unfinished: it must be reported as interrupted, never run again.
    bash(`echo fixed >> hello.txt; ${tool(3)}; sleep ${seconds(slow.toolMs)}`),
    complete('Fixed the greeting.'),
  ];
}

/** Scripted turns of task-02's attempt. */
export function secondTurns(log: string): ScriptedTurn[] {
  return [
    bash(`echo ${effect.tool(SECOND, 0)} >> ${sq(log)}; echo two > two.txt`),
    complete('Wrote two.txt.'),
  ];
}

/** The scenario file: each attempt routed by its worktree path in the agent's system prompt. */
export function scenarioFile(log: string, slow: SlowWindows): ScenarioFile {
  return {
    scenarios: {
      [FIRST]: { match: { system: `worktrees/${FIRST}\\b` }, turns: firstTurns(log, slow) },
      [SECOND]: { match: { system: `worktrees/${SECOND}\\b` }, turns: secondTurns(log) },
    },
  };
}

/**
 * `.orchestra/strategies/settle.mjs`: `single`, plus a pause after the attempt's outcome. The
 * scheduler archives a task within milliseconds of its attempt's success; the pause makes "the
 * attempt succeeded, the task is not archived yet" a window the test can kill the server in.
 */
export function settleStrategy(slow: SlowWindows): string {
  return `export const strategy = {
  name: 'settle',
  async run(ctx) {
    const handle = await ctx.startAttempt();
    const outcome = await ctx.awaitAttempt(handle);
    await new Promise((resolve) => setTimeout(resolve, ${slow.settleMs}));
    return outcome.passed
      ? { outcome: 'done', winner: outcome, attempts: [outcome] }
      : { outcome: 'failed', attempts: [outcome], reason: outcome.reason ?? 'the checks did not pass' };
  },
};
`;
}
