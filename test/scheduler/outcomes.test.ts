import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { formatUsd } from '../../src/agents/cost.js';
import type { ScenarioFile, ScriptedTurn } from '../../src/model-server/scenario.js';
import type { State } from '../../src/store/schema.js';
import { ORCHESTRA_BIN, runCli } from '../support/cli.js';
import { TEST_API_KEY } from '../support/scripted-model.js';
import { TmuxTerminal } from '../support/tmux.js';
import { type CustomWorld, ResumeWorld, waitFor } from './resume-world.js';

/**
 * Every attempt ends, once, with its true result (issue 10): real `orchestra server` processes on
 * real repositories, local agents played by the scripted model server, faults from outside as a
 * person or a crash would make them.
 */

const bash = (command: string, delayMs = 0): ScriptedTurn => ({
  toolUses: [{ name: 'bash', input: { command } }],
  ...(delayMs ? { delayMs } : {}),
});
const complete = (summary: string): ScriptedTurn => ({
  toolUses: [{ name: 'task_complete', input: { summary } }],
});

/** An attempt's scenario: routed by its worktree, as the agent's system prompt names it. */
function attempt(id: string, turns: ScriptedTurn[]): ScenarioFile['scenarios'][string] {
  return { match: { system: `worktrees/${id}\\b` }, turns };
}

/** The judge's scenario: it scores attempt n of task-01 with n, so the last one wins. */
function judgeScoring(count: number, extra: Partial<ScriptedTurn> = {}): ScenarioFile['scenarios'][string] {
  const scores = Array.from({ length: count }, (_, i) => ({
    attempt: `task-01-a${i + 1}`,
    score: i + 1,
    reasons: 'r',
  }));
  return {
    match: { system: JUDGE_SYSTEM },
    turns: [{ ...extra, toolUses: [{ name: 'submit_scores', input: { scores } }] }],
  };
}

/** Words the judge's system prompt starts with (src/strategies/judge.ts). */
const JUDGE_SYSTEM = 'You judge competing solutions';

/** A task whose check wants `file` to exist. */
function taskNeeding(title: string, file: string, front = ''): string {
  return `${front ? `---\n${front}\n---\n` : ''}# ${title}\n\n## Goal\nWrite ${file}.\n\n## Test plan\n1. Run \`test -f ${file}\`\n`;
}

const worlds: ResumeWorld[] = [];
after(async () => {
  for (const world of worlds) await world.dispose();
});

async function world(options: CustomWorld | ((effectsLog: string) => CustomWorld)): Promise<ResumeWorld> {
  const w = await ResumeWorld.custom(options);
  worlds.push(w);
  return w;
}

/** Waits until every one of `ids` is archived in the store; the failure message has the logs. */
async function archived(w: ResumeWorld, ids: string[], timeoutMs: number): Promise<State> {
  try {
    return await waitFor(
      async () => {
        const state = await w.state();
        return ids.every((id) => state?.tasks[id]?.state === 'archived') ? state : undefined;
      },
      `${ids.join(', ')} archived`,
      timeoutMs,
      200,
    );
  } catch (error) {
    const state = await w.state();
    throw new Error(
      `${(error as Error).message}\ntasks: ${JSON.stringify(state?.tasks, null, 1)}\nattempts: ${JSON.stringify(
        Object.values(state?.attempts ?? {}).map((a) => [a.id, a.state, a.error]),
      )}\n${await w.serverLogs()}`,
    );
  }
}

/** The pane the board gives `attemptId` of `task`, as a person finds it; undefined before it has one. */
async function boardPane(w: ResumeWorld, task: string, attemptId: string): Promise<number | undefined> {
  type Row = { id: string; attempts: Array<{ id: string; paneId?: number }> };
  const rows = await w.request<Row[]>({ cmd: 'task-board' }).catch(() => [] as Row[]);
  return rows.find((r) => r.id === task)?.attempts.find((a) => a.id === attemptId)?.paneId;
}

describe('every attempt ends once with its true result', { concurrency: 4 }, () => {
  it('best-of-3 with maxParallel 2 finishes, and the task queued behind it too', {
    timeout: 120_000,
  }, async () => {
    const scenarios: ScenarioFile['scenarios'] = {
      judge: judgeScoring(3),
      'task-02-a1': attempt('task-02-a1', [bash('echo two > two.txt'), complete('two')]),
    };
    for (const n of [1, 2, 3]) {
      scenarios[`task-01-a${n}`] = attempt(`task-01-a${n}`, [
        bash(`echo ${n} > one.txt`, 300),
        complete(`one, ${n}`),
      ]);
    }
    const w = await world({
      name: 'best-of-3-p2',
      config: { sandbox: 'local', maxParallel: 2 },
      tasks: {
        'task-01': taskNeeding('One', 'one.txt', 'strategy: best-of-n\nn: 3'),
        'task-02': taskNeeding('Two', 'two.txt'),
      },
      scenario: { scenarios },
    });
    w.startServer();
    const state = await archived(w, ['task-01', 'task-02'], 90_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);
    assert.match(state.tasks['task-02']?.archivedAs ?? '', /^done\//);
    assert.equal(state.tasks['task-01']?.resultBranch, 'orchestra/task-01/a3', 'the judge scored a3 highest');
    for (const n of [1, 2, 3]) assert.equal(state.attempts[`task-01-a${n}`]?.state, 'succeeded');
  });

  it('kill-server leaves a running attempt to the next server, which finishes it', {
    timeout: 120_000,
  }, async () => {
    const w = await world({
      name: 'kill-server',
      config: { sandbox: 'local', maxParallel: 1 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: {
        scenarios: {
          'task-01-a1': attempt('task-01-a1', [
            bash('echo one > one.txt'),
            // Cut off by the kill; the resumed agent asks again and gets the next turn.
            { ...complete('one'), delayMs: 4000 },
            complete('one, after the restart'),
          ]),
        },
      },
    });
    const first = w.startServer();
    await waitFor(
      async () => (await w.state())?.attempts['task-01-a1']?.state === 'running',
      'task-01-a1 running',
      30_000,
    );
    // Killed once the agent's first command has run (a fixed wait lost that race on a busy machine,
    // and the resumed agent then completed without one.txt).
    await waitFor(
      () => existsSync(join(w.paths.worktrees, 'task-01-a1', 'one.txt')),
      'one.txt written by the agent',
      30_000,
    );
    const killed = await runCli(['kill-server', '-t', w.session], { cwd: w.root, env: w.env });
    assert.equal(killed.code, 0, killed.stderr);
    await first.exited;
    const between = await w.state();
    assert.notEqual(between?.attempts['task-01-a1']?.state, 'failed', 'a shutdown is not a failure');
    assert.equal((await w.queueFiles('failed')).length, 0, 'nothing went to failed/');
    w.startServer();
    const state = await archived(w, ['task-01'], 90_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//, JSON.stringify(state.tasks['task-01']));
    assert.equal(state.attempts['task-01-a1']?.state, 'succeeded');
  });

  it('kill-pane on an agent fails its attempt "stopped by the user" and frees its slot', {
    timeout: 120_000,
  }, async () => {
    const w = await world({
      name: 'kill-pane',
      config: { sandbox: 'local', maxParallel: 1 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt'), 'task-02': taskNeeding('Two', 'two.txt') },
      scenario: {
        scenarios: {
          // The first agent thinks for a long time: only a kill ends it.
          'task-01-a1': attempt('task-01-a1', [{ ...bash('echo one > one.txt'), delayMs: 600_000 }]),
          'task-02-a1': attempt('task-02-a1', [bash('echo two > two.txt'), complete('two')]),
        },
      },
    });
    w.startServer();
    const paneId = await waitFor(
      () => boardPane(w, 'task-01', 'task-01-a1'),
      'task-01-a1 has a pane',
      30_000,
    );
    const killed = await runCli(['kill-pane', '-t', `${w.session}:%${paneId}`], { cwd: w.root, env: w.env });
    assert.equal(killed.code, 0, killed.stderr);
    const state = await archived(w, ['task-01', 'task-02'], 60_000);
    assert.equal(state.attempts['task-01-a1']?.state, 'failed');
    assert.equal(state.attempts['task-01-a1']?.error, 'stopped by the user');
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^failed\//);
    assert.match(state.tasks['task-02']?.archivedAs ?? '', /^done\//, 'the slot went to task-02');
  });

  it('an agent that exits at once is noticed', { timeout: 90_000 }, async () => {
    const w = await world({
      name: 'exit-at-once',
      config: {
        sandbox: 'local',
        defaultAgent: 'quick',
        agents: { quick: { type: 'custom', command: 'true' } },
      },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: { scenarios: { none: { turns: [] } } },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 60_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^failed\//);
    // `true` exits 0 at once: taken as done by its exit code, its work (none) goes to the checks.
    assert.equal(
      state.attempts['task-01-a1']?.error,
      'checks failed: test -f one.txt (the agent had exited)',
    );
  });

  it('an agent that stops on API errors after half its change fails, names the cause, keeps the work', {
    timeout: 120_000,
  }, async () => {
    const apiError: ScriptedTurn = { error: { status: 500, type: 'api_error', message: 'scripted outage' } };
    const w = await world({
      name: 'api-errors',
      config: { sandbox: 'local' },
      // The check passes on the half change: only the agent's own end says it is unfinished.
      tasks: { 'task-01': taskNeeding('One', 'half.txt') },
      scenario: {
        scenarios: {
          'task-01-a1': attempt('task-01-a1', [bash('echo half > half.txt'), ...Array(8).fill(apiError)]),
        },
      },
      env: { ORCHESTRA_RETRY_BASE_MS: '5' },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 90_000);
    const task = state.tasks['task-01'];
    assert.match(task?.archivedAs ?? '', /^failed\//, 'a half change is never done');
    assert.match(task?.error ?? '', /the agent stopped on an error: .*500/, task?.error);
    assert.match(task?.error ?? '', /unfinished work is on orchestra\/task-01\/a1/);
    const archive = await readFile(join(w.paths.dir, task!.archivedAs!), 'utf8');
    assert.match(archive, /- reason: the agent stopped on an error/);
    const show = execFileSync('git', ['show', 'orchestra/task-01/a1:half.txt'], {
      cwd: w.root,
      encoding: 'utf8',
    });
    assert.equal(show, 'half\n', 'the half change is on the attempt branch');
  });

  it('a judge that fails keeps the passing candidate with the smallest diff, and the Result says so', {
    timeout: 120_000,
  }, async () => {
    const w = await world({
      name: 'judge-fails',
      config: { sandbox: 'local', maxParallel: 2 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt', 'strategy: best-of-n\nn: 2') },
      scenario: {
        scenarios: {
          judge: {
            match: { system: JUDGE_SYSTEM },
            turns: [
              { error: { status: 400, type: 'invalid_request_error', message: 'scripted judge refusal' } },
            ],
          },
          'task-01-a1': attempt('task-01-a1', [bash('printf "1\\n2\\n3\\n" > one.txt'), complete('big')]),
          'task-01-a2': attempt('task-01-a2', [bash('echo 1 > one.txt'), complete('small')]),
        },
      },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 90_000);
    const task = state.tasks['task-01']!;
    assert.match(task.archivedAs ?? '', /^done\//, 'passing work is not failed for its judge');
    assert.equal(task.resultBranch, 'orchestra/task-01/a2', 'the smaller diff is kept');
    const archive = await readFile(join(w.paths.dir, task.archivedAs!), 'utf8');
    assert.match(
      archive,
      /- note: the judge failed \(.*scripted judge refusal.*\); kept task-01-a2, the passing candidate with the smallest diff/,
    );
  });

  it('a task with an unknown or cyclic dependsOn shows as blocked with its reason', {
    timeout: 60_000,
  }, async () => {
    const w = await world({
      name: 'blocked',
      config: { sandbox: 'local' },
      tasks: {
        'task-01': taskNeeding('Orphan', 'one.txt', 'dependsOn: task-09'),
        'task-02': taskNeeding('Chicken', 'two.txt', 'dependsOn: task-03'),
        'task-03': taskNeeding('Egg', 'three.txt', 'dependsOn: task-02'),
      },
      scenario: { scenarios: { none: { turns: [] } } },
    });
    w.startServer();
    const board = await waitFor(
      async () => {
        const rows = await w
          .request<Array<{ id: string; status: string; error?: string }>>({ cmd: 'task-board' })
          .catch(() => []);
        return rows.filter((r) => r.status === 'blocked').length === 3 ? rows : undefined;
      },
      'three blocked tasks on the board',
      30_000,
    );
    const byId = new Map(board.map((r) => [r.id, r]));
    assert.match(byId.get('task-01')?.error ?? '', /dependsOn task-09, which is no task/);
    assert.match(byId.get('task-02')?.error ?? '', /cycle: task-02 → task-03 → task-02/);
    assert.match(byId.get('task-03')?.error ?? '', /cycle: task-03 → task-02 → task-03/);
    const state = await w.state();
    assert.equal(Object.keys(state?.attempts ?? {}).length, 0, 'no attempt started');
  });

  it('a failed task archived with its queue file gone is failed, and can be retried', {
    timeout: 90_000,
  }, async () => {
    const w = await world({
      name: 'retry-removed',
      config: { sandbox: 'local', maxAttempts: 1 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: {
        scenarios: {
          'task-01-a1': attempt('task-01-a1', [
            { ...bash('echo wrong > other.txt'), delayMs: 1500 },
            complete('done, wrongly'),
          ]),
        },
      },
    });
    w.startServer();
    await waitFor(
      async () => (await w.state())?.attempts['task-01-a1']?.state === 'running',
      'running',
      30_000,
    );
    // A person tidies the queue while the task runs: a started task goes on.
    await rm(join(w.paths.tasks, 'task-01.md'));
    const state = await archived(w, ['task-01'], 60_000);
    const task = state.tasks['task-01']!;
    assert.equal(task.outcome, 'failed');
    assert.match(task.archivedAs ?? '', /^failed\//);
    const board = await w.request<Array<{ id: string; status: string }>>({ cmd: 'task-board' });
    assert.equal(board.find((r) => r.id === 'task-01')?.status, 'failed');
    const retried = await w.request<{ task: string }>({ cmd: 'retry-task', task: 'task-01' });
    assert.equal(retried.task, 'task-01');
    await waitFor(
      async () => (await w.queueFiles('tasks')).includes('task-01.md'),
      'task-01 queued again',
      10_000,
    );
  });

  it('with no API key the queue waits and says why; a TUI started with the key hands it over', {
    timeout: 120_000,
  }, async () => {
    const w = await world({
      name: 'no-key',
      config: { sandbox: 'local' },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: {
        scenarios: { 'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]) },
      },
      env: { ANTHROPIC_API_KEY: '' },
    });
    w.startServer();
    const row = await waitFor(
      async () =>
        (
          await w
            .request<Array<{ id: string; status: string; error?: string }>>({ cmd: 'task-board' })
            .catch(() => [])
        ).find((r) => r.id === 'task-01' && r.status === 'blocked'),
      'task-01 blocked on the board',
      30_000,
    );
    assert.match(row.error ?? '', /needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(Object.keys((await w.state())?.attempts ?? {}).length, 0, 'no attempt burnt without a key');
    // The person exports the key and attaches, as they would after reading the board.
    const term = await TmuxTerminal.start({
      cwd: w.root,
      env: { ...w.env, ANTHROPIC_API_KEY: TEST_API_KEY },
      cols: 160,
      rows: 40,
    });
    try {
      await term.typeLine(`${ORCHESTRA_BIN} attach -t ${w.session}`);
      await term.waitForText('handed ANTHROPIC_API_KEY to the server', 20_000);
      const state = await archived(w, ['task-01'], 60_000);
      assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);
    } finally {
      await term.kill();
    }
  });

  it('work that cannot be taken back fails its attempt only: best-of-2 goes on with the other', {
    timeout: 120_000,
  }, async () => {
    // a1 rewrites its history (an orphan branch): its checks pass, but its result does not descend
    // from the base, so the host refuses to take it. That is a1's failure, not the task's.
    const orphan =
      'git checkout -q --orphan rewritten && echo one > one.txt && git add -A && git -c user.name=a -c user.email=a@a commit -qm rewritten';
    const w = await world({
      name: 'import-fails',
      config: { sandbox: 'local', maxParallel: 2 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt', 'strategy: best-of-n\nn: 2') },
      scenario: {
        scenarios: {
          judge: judgeScoring(2),
          'task-01-a1': attempt('task-01-a1', [bash(orphan), complete('one, rewritten')]),
          'task-01-a2': attempt('task-01-a2', [bash('echo one > one.txt', 1500), complete('one')]),
        },
      },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 90_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//, 'the task is done with a2');
    assert.equal(state.tasks['task-01']?.resultBranch, 'orchestra/task-01/a2');
    assert.equal(state.attempts['task-01-a1']?.state, 'failed');
    assert.match(state.attempts['task-01-a1']?.error ?? '', /does not descend from the base/);
  });

  it('autoMerge lands two results that are done at the same moment, one after the other', {
    timeout: 120_000,
  }, async () => {
    // The check takes 2 s, so the two merges' gates overlap: the second sees the base moved by the
    // first under it, and must merge again on the new tip rather than give up.
    const w = await world({
      name: 'merge-both',
      config: { sandbox: 'local', maxParallel: 2, autoMerge: true, check: ['sleep 2'] },
      tasks: { 'task-01': taskNeeding('One', 'one.txt'), 'task-02': taskNeeding('Two', 'two.txt') },
      scenario: {
        scenarios: {
          'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]),
          'task-02-a1': attempt('task-02-a1', [bash('echo two > two.txt'), complete('two')]),
        },
      },
    });
    w.startServer();
    await archived(w, ['task-01', 'task-02'], 60_000);
    const state = await waitFor(
      async () => {
        const s = await w.state();
        const ended = (id: string) => s?.tasks[id]?.mergedCommit || s?.tasks[id]?.mergeError;
        return ended('task-01') && ended('task-02') ? s : undefined;
      },
      'both merges come to an end',
      30_000,
      200,
    );
    for (const id of ['task-01', 'task-02']) {
      assert.equal(state.tasks[id]?.mergeError, undefined, `${id} was merged`);
      assert.ok(state.tasks[id]?.mergedCommit, `${id} has its merge commit`);
    }
    const files = execFileSync('git', ['ls-tree', '--name-only', 'main'], { cwd: w.root, encoding: 'utf8' });
    assert.match(files, /^one\.txt$/m);
    assert.match(files, /^two\.txt$/m);
  });

  it('a command named by both the check and the test plan runs once a round', {
    timeout: 90_000,
  }, async () => {
    const w = await world((log) => ({
      name: 'check-once',
      config: { sandbox: 'local', check: [`echo check >> ${log}`] },
      tasks: {
        'task-01': `# One\n\n## Goal\nWrite one.txt.\n\n## Test plan\n1. Run \`echo check >> ${log}\`\n2. Run \`test -f one.txt\`\n`,
      },
      scenario: {
        scenarios: { 'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]) },
      },
    }));
    w.startServer();
    const state = await archived(w, ['task-01'], 60_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);
    assert.equal(await w.count('check'), 1, 'one check round, the shared command run once');
  });

  it("after a restart the board's pane numbers name the attempts' own panes", {
    timeout: 120_000,
  }, async () => {
    const w = await world({
      name: 'pane-refs',
      config: { sandbox: 'local', maxParallel: 1 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt'), 'task-02': taskNeeding('Two', 'two.txt') },
      scenario: {
        scenarios: {
          'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]),
          'task-02-a1': attempt('task-02-a1', [
            bash('echo two > two.txt'),
            { ...complete('two'), delayMs: 3000 },
            { ...complete('two, after the restart'), delayMs: 3000 },
          ]),
        },
      },
    });
    const first = w.startServer();
    await waitFor(() => boardPane(w, 'task-02', 'task-02-a1'), 'task-02 has a pane', 60_000);
    await runCli(['kill-server', '-t', w.session], { cwd: w.root, env: w.env });
    await first.exited;
    w.startServer();
    // From the new server's first answer on, as a person pressing Enter on the board would see.
    type Row = { id: string; attempts: Array<{ id: string; paneId?: number }> };
    const wrong = new Set<string>();
    await waitFor(
      async () => {
        const rows = await w.request<Row[]>({ cmd: 'task-board' }).catch(() => undefined);
        if (!rows) return undefined;
        const panes = await w.request<Array<{ id: number; name: string }>>({ cmd: 'list-panes' });
        for (const a of rows.flatMap((row) => row.attempts.filter((x) => x.paneId !== undefined))) {
          const name = panes.find((p) => p.id === a.paneId)?.name;
          if (name !== a.id.replace(/-a(\d+)$/, '/a$1'))
            wrong.add(`${a.id} → pane ${a.paneId} (${name ?? 'none'})`);
        }
        return rows.find((r) => r.id === 'task-02')?.attempts[0]?.paneId !== undefined ? rows : undefined;
      },
      'task-02 has a pane on the new server',
      60_000,
      5,
    );
    assert.deepEqual([...wrong], [], "every pane number on the board names that attempt's pane");
  });

  it('an attempt has its pane while it prepares, showing the setup as it runs', {
    timeout: 90_000,
  }, async () => {
    const w = await world({
      name: 'setup-pane',
      config: { sandbox: 'local', setup: ['echo installing-dependencies; sleep 4; echo installed'] },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: {
        scenarios: { 'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]) },
      },
    });
    w.startServer();
    const screen = await waitFor(
      async () => {
        const state = await w.state();
        if (state?.attempts['task-01-a1']?.state !== 'preparing') return undefined;
        const capture = await w
          .request<{ text: string }>({ cmd: 'capture-pane', pane: 'task-01/a1' })
          .catch(() => ({ text: '' }));
        return capture.text.includes('installing-dependencies') ? capture.text : undefined;
      },
      'the setup output in task-01/a1 while it prepares',
      30_000,
    );
    assert.match(screen, /preparing/);
    const board = await w.request<Array<{ id: string; attempts: Array<{ paneId?: number }> }>>({
      cmd: 'task-board',
    });
    assert.ok(
      board.find((r) => r.id === 'task-01')?.attempts[0]?.paneId,
      'the board links the preparing pane',
    );
    const state = await archived(w, ['task-01'], 60_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);
  });

  it("the status bar's cost counts the judge and survives a restart", { timeout: 120_000 }, async () => {
    const usage = { input_tokens: 100_000, output_tokens: 1000 };
    const w = await world({
      name: 'cost',
      config: { sandbox: 'local', maxParallel: 2 },
      tasks: { 'task-01': taskNeeding('One', 'one.txt', 'strategy: best-of-n\nn: 2') },
      scenario: {
        scenarios: {
          judge: judgeScoring(2, { usage }),
          'task-01-a1': attempt('task-01-a1', [
            { ...bash('echo 1 > one.txt'), usage },
            { ...complete('1'), usage },
          ]),
          'task-01-a2': attempt('task-01-a2', [
            { ...bash('echo 2 > one.txt'), usage },
            { ...complete('2'), usage },
          ]),
        },
      },
    });
    const first = w.startServer();
    const state = await archived(w, ['task-01'], 90_000);
    const task = state.tasks['task-01']!;
    assert.ok((task.reviewUsd ?? 0) > 0, 'the judge spent something');
    const agents = [1, 2].reduce((sum, n) => sum + (state.attempts[`task-01-a${n}`]?.costUsd ?? 0), 0);
    assert.ok(
      Math.abs((task.costUsd ?? 0) - (agents + task.reviewUsd!)) < 1e-9,
      'the task costs its agents and its judge',
    );
    const expected = formatUsd(task.costUsd);
    assert.match(expected, /^\$\d+\.\d+$/);
    assert.equal((await w.statusFields()).cost, expected);
    await runCli(['kill-server', '-t', w.session], { cwd: w.root, env: w.env });
    await first.exited;
    w.startServer();
    const after = await waitFor(
      async () => (await w.statusFields().catch(() => undefined))?.cost,
      'the restarted server showing a cost',
      30_000,
    );
    assert.equal(after, expected, 'the same cost after a restart');
  });

  it('a reviewer that fails keeps the last passing round of refine, and the Result says so', {
    timeout: 90_000,
  }, async () => {
    const w = await world({
      name: 'reviewer-fails',
      config: { sandbox: 'local' },
      tasks: { 'task-01': taskNeeding('One', 'one.txt', 'strategy: refine\nrounds: 1') },
      scenario: {
        scenarios: {
          reviewer: {
            match: { system: 'You review one change' },
            turns: [
              { error: { status: 400, type: 'invalid_request_error', message: 'scripted reviewer refusal' } },
            ],
          },
          'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]),
        },
      },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 60_000);
    const task = state.tasks['task-01']!;
    assert.match(task.archivedAs ?? '', /^done\//, 'passing work is not failed for its reviewer');
    const archive = await readFile(join(w.paths.dir, task.archivedAs!), 'utf8');
    assert.match(
      archive,
      /- note: the reviewer failed \(.*scripted reviewer refusal.*\); kept the last passing round of task-01-a1/,
    );
  });

  it('a merged task shows as merged on the board', { timeout: 90_000 }, async () => {
    const w = await world({
      name: 'merged',
      config: { sandbox: 'local' },
      tasks: { 'task-01': taskNeeding('One', 'one.txt') },
      scenario: {
        scenarios: { 'task-01-a1': attempt('task-01-a1', [bash('echo one > one.txt'), complete('one')]) },
      },
    });
    w.startServer();
    await archived(w, ['task-01'], 60_000);
    await w.request({ cmd: 'merge-task', task: 'task-01' });
    const board = await w.request<Array<{ id: string; status: string }>>({ cmd: 'task-board' });
    assert.equal(board.find((r) => r.id === 'task-01')?.status, 'merged');
  });

  it('a commit on the base branch during the run is in no diff, and after a restart no change is no change', {
    timeout: 150_000,
  }, async () => {
    const w = await world({
      name: 'base-moves',
      config: { sandbox: 'local', maxParallel: 3 },
      tasks: {
        'task-01': taskNeeding('One', 'one.txt', 'strategy: best-of-n\nn: 2'),
        // Its check passes on the base already: only its agent's change (none) decides.
        'task-02': `# Nothing\n\n## Goal\nChange nothing.\n\n## Test plan\n1. Run \`true\`\n`,
      },
      scenario: {
        scenarios: {
          judge: judgeScoring(2),
          'task-01-a1': attempt('task-01-a1', [
            { ...bash('echo 1 > one.txt'), delayMs: 4000 },
            complete('1'),
          ]),
          'task-01-a2': attempt('task-01-a2', [
            { ...bash('echo 2 > one.txt'), delayMs: 4000 },
            complete('2'),
          ]),
          'task-02-a1': attempt('task-02-a1', [
            { ...complete('nothing to do'), delayMs: 4000 },
            complete('nothing to do, after the restart'),
          ]),
        },
      },
    });
    const first = w.startServer();
    await waitFor(
      async () => {
        const attempts = (await w.state())?.attempts ?? {};
        return ['task-01-a1', 'task-01-a2', 'task-02-a1'].every((id) => attempts[id]?.state === 'running');
      },
      'all three attempts running',
      60_000,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    // A person commits on main while no server runs.
    execFileSync('sh', ['-c', 'echo main > main-only.txt && git add main-only.txt && git commit -qm main'], {
      cwd: w.root,
    });
    w.startServer();
    const state = await archived(w, ['task-01', 'task-02'], 90_000);
    assert.match(state.tasks['task-01']?.archivedAs ?? '', /^done\//);
    assert.match(
      state.tasks['task-02']?.archivedAs ?? '',
      /^failed\//,
      JSON.stringify(state.tasks['task-02']),
    );
    assert.equal(state.attempts['task-02-a1']?.error, 'the agent made no change');
    const judged = w.model.requests.find((r) => JSON.stringify(r.body).includes(JUDGE_SYSTEM));
    assert.ok(judged, 'the judge was asked');
    const body = JSON.stringify(judged.body);
    assert.match(body, /one\.txt/, "the candidates' change is in the diffs");
    assert.doesNotMatch(body, /main-only/, "the base branch's own commit is in no candidate's diff");
  });

  it('refine sends the review back to the same agent, which changes its work, and that round is kept', {
    timeout: 90_000,
  }, async () => {
    const review = (approved: boolean, comments: string): ScriptedTurn => ({
      toolUses: [{ name: 'submit_review', input: { approved, comments } }],
    });
    const w = await world({
      name: 'refine-changes',
      config: { sandbox: 'local' },
      tasks: { 'task-01': taskNeeding('One', 'one.txt', 'strategy: refine\nrounds: 2') },
      scenario: {
        scenarios: {
          reviewer: {
            match: { system: 'You review one change' },
            turns: [review(false, 'Say hello, not hi.'), review(true, 'Good.')],
          },
          'task-01-a1': attempt('task-01-a1', [
            bash('echo hi > one.txt'),
            complete('wrote hi'),
            bash('echo hello > one.txt'),
            complete('wrote hello'),
          ]),
        },
      },
    });
    w.startServer();
    const state = await archived(w, ['task-01'], 60_000);
    const task = state.tasks['task-01']!;
    assert.match(task.archivedAs ?? '', /^done\//, JSON.stringify(task));
    assert.equal(
      execFileSync('git', ['show', `${task.resultCommit}:one.txt`], { cwd: w.root, encoding: 'utf8' }),
      'hello\n',
    );
    assert.deepEqual(
      task.reviews?.map((r) => r.approved),
      [false, true],
    );
    const archive = await readFile(join(w.paths.dir, task.archivedAs!), 'utf8');
    assert.match(archive, /- reviews: 2, 1 approving/);
  });
});
