import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttemptRecord, State } from '../../src/store/schema.js';
import type { FaultObservation, FaultRunner } from './faults.js';
import type { Orphan } from './monitor.js';
import { AGENT_API_ATTEMPTS, type TaskPlan } from './plan.js';
import { describeProcs, type ProcInfo } from './procs.js';
import { taskCheck } from './scenario.js';
import { type Crash, readText, type World } from './world.js';

/**
 * The checks after a run. Each broken invariant names its kind and the task, attempt or commit
 * it is about, with the evidence, so it reads as a bug report.
 */

export const INVARIANT_KINDS = [
  /** The queue did not finish within the run's time bound (or made no progress for a while). */
  'stuck',
  /** A task not archived exactly once: files in done/ + failed/, the queued file gone, the store agreeing. */
  'archive',
  /** A task whose outcome has no cause: failed though nothing excuses it (or done though its dependency failed). */
  'wrong-outcome',
  /** A failed task whose Result reason is not what happened (model errors, a failed dependency). */
  'wrong-reason',
  /** An attempt counted as succeeded (a candidate, or the result) though its agent never completed its last round (gave up, was killed). */
  'succeeded-without-complete',
  /** An agent that gave up on transient model errors before its retries were used up. */
  'gave-up-early',
  /** An attempt the store calls running whose agent process has been gone for a while (the server up). */
  'orphaned-attempt',
  /** A done task whose result commit does not pass the task's check, or is not its winner's. */
  'done-invalid',
  /** A tool call (a bash call of the script) that ran more than once. */
  'tool-twice',
  /** The base branch moved other than by orchestra's merge commits, or lost a commit. */
  'base-history',
  /** A server process that ended without being killed. */
  'server-crash',
  /** The server did not answer a client (while a client did not read, or at the end). */
  'server-unresponsive',
  /** Agent processes alive after the queue finished, or any process of the run after kill-server. */
  'leftover-process',
  /** Docker: worker containers left after the queue finished. */
  'leftover-container',
  /** The harness's own script ran out (not a product bug; the harness needs more repair turns). */
  'harness',
] as const;
export type InvariantKind = (typeof INVARIANT_KINDS)[number];

export interface Broken {
  kind: InvariantKind;
  detail: string;
}

export interface EndObservations {
  outcome: 'finished' | 'stuck';
  stuckDetail?: string;
  /** Agent processes still alive once the queue had finished (after a grace period). */
  agentsAfterQueue: ProcInfo[];
  /** Any process of the run alive after kill-server (after a grace period). */
  afterKillServer: ProcInfo[];
  /** The end-of-run `list-panes` failed: why. */
  finalProbe?: string;
  /** `kill-server` did not end the server in time. */
  killServerHung?: string;
  containersAfterQueue: string[];
  observations: FaultObservation[];
  orphans: Orphan[];
}

interface AttemptFacts {
  id: string;
  record: AttemptRecord | undefined;
  completed: boolean;
  gaveUp: boolean;
  giveUpReason: string;
  modelGaveUp: boolean;
  modelAttempts: number;
}

function parseLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A torn line.
    }
  }
  return out;
}

function attemptFacts(world: World, id: string, record: AttemptRecord | undefined): AttemptFacts {
  const dir = join(world.paths.runs, id);
  const statuses = parseLines(readText(join(dir, 'events.jsonl'))).filter((e) => e.type === 'status');
  const last = statuses.at(-1);
  let checkpoint: { state?: string; summary?: string } | undefined;
  try {
    checkpoint = JSON.parse(readFileSync(join(dir, 'conversation.json'), 'utf8'));
  } catch {}
  const completed = checkpoint?.state === 'done' || last?.state === 'done';
  const gaveUp = !completed && (checkpoint?.state === 'error' || last?.state === 'error');
  const giveUpReason = String(last?.state === 'error' ? last.summary : (checkpoint?.summary ?? ''));
  const modelGaveUp = gaveUp && /model API error/i.test(giveUpReason);
  const attempts = /after (\d+) attempts/.exec(giveUpReason);
  return {
    id,
    record,
    completed,
    gaveUp,
    giveUpReason,
    modelGaveUp,
    modelAttempts: attempts ? Number(attempts[1]) : 1,
  };
}

function ms(iso: string | undefined, world: World): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t - world.startedAt;
}

function archiveOf(world: World, task: TaskPlan): Array<{ folder: 'done' | 'failed'; name: string }> {
  const re = new RegExp(`^${task.id}-\\d{4}-`);
  return (['done', 'failed'] as const).flatMap((folder) =>
    world
      .queueFiles(folder)
      .filter((f) => re.test(f))
      .map((name) => ({ folder, name })),
  );
}

function resultReason(text: string): string {
  return /^- reason: (.*)$/m.exec(text.slice(text.lastIndexOf('## Result')))?.[1] ?? '';
}

/** Runs the task's check on a commit, in a scratch directory (git archive | tar). */
function checkCommit(world: World, commit: string, task: TaskPlan): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-check-'));
  try {
    const tar = execFileSync('git', ['archive', '--format=tar', commit], {
      cwd: world.root,
      env: world.env,
      maxBuffer: 64 << 20,
    });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    const [cmd, ...args] = taskCheck(task);
    try {
      const output = execFileSync(cmd!, args, { cwd: dir, stdio: 'pipe', timeout: 30_000 }).toString();
      return { ok: true, output };
    } catch (error) {
      const e = error as { stdout?: Buffer; message: string };
      return { ok: false, output: e.stdout?.toString() || e.message };
    }
  } catch (error) {
    return { ok: false, output: `cannot check out ${commit}: ${(error as Error).message.split('\n')[0]}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function taskStates(state: State | undefined, tasks: TaskPlan[]): string {
  return tasks
    .map((t) => {
      const record = state?.tasks[t.id];
      const attempts = Object.values(state?.attempts ?? {})
        .filter((a) => a.taskId === t.id)
        .sort((a, b) => a.n - b.n)
        .map((a) => `a${a.n} ${a.state}`);
      const missing = t.attempts
        .filter((id) => !state?.attempts[id])
        .map((id) => `${id.slice(id.lastIndexOf('-') + 1)} never started`);
      if (record?.state === 'running') attempts.push(...missing);
      return `${t.id} ${record?.state ?? 'unknown'}${attempts.length ? ` [${attempts.join(', ')}]` : ''}`;
    })
    .join('; ');
}

export function checkInvariants(world: World, faults: FaultRunner, end: EndObservations): Broken[] {
  const broken: Broken[] = [];
  const add = (kind: InvariantKind, detail: string) => broken.push({ kind, detail });
  const state = world.state();
  if (end.outcome === 'stuck') add('stuck', end.stuckDetail ?? taskStates(state, world.plan.tasks));

  // ---- attempts ------------------------------------------------------------------------------
  const facts = new Map<string, AttemptFacts>();
  for (const a of world.plan.attempts)
    facts.set(a.attempt, attemptFacts(world, a.attempt, state?.attempts[a.attempt]));
  for (const record of Object.values(state?.attempts ?? {})) {
    if (!facts.has(record.id)) facts.set(record.id, attemptFacts(world, record.id, record));
  }
  const diskOverlap = (f: AttemptFacts): boolean => {
    const from = ms(f.record?.createdAt, world) ?? 0;
    const to = ms(f.record?.endedAt ?? f.record?.updatedAt, world) ?? Number.POSITIVE_INFINITY;
    return faults.diskFull.some((w) => w.from <= to + 1000 && w.to >= from - 1000);
  };
  const excuse = (f: AttemptFacts): string | undefined => {
    if (f.modelGaveUp) return 'its agent gave up on model errors';
    if (faults.killedPanes.has(f.id)) return 'its pane was killed';
    if (diskOverlap(f)) return 'the disk was full while it ran';
    return undefined;
  };
  for (const f of facts.values()) {
    const kept = f.record?.checkPassed === true && f.record.commit !== undefined;
    if (kept && !f.completed) {
      const why = f.gaveUp
        ? `its agent ended with an error (${f.giveUpReason.slice(0, 120)})`
        : faults.killedPanes.has(f.id)
          ? 'its agent was killed (kill-pane) before task_complete'
          : 'its agent never called task_complete in its last round';
      add(
        'succeeded-without-complete',
        `${f.id}: counted as succeeded (checks passed, commit ${f.record!.commit!.slice(0, 10)}), but ${why}`,
      );
    }
    if (f.modelGaveUp && f.modelAttempts < AGENT_API_ATTEMPTS) {
      add(
        'gave-up-early',
        `${f.id}: gave up after ${f.modelAttempts} request(s): ${f.giveUpReason.slice(0, 160)}`,
      );
    }
  }

  // ---- tasks ---------------------------------------------------------------------------------
  const outcomeOf = new Map<string, 'done' | 'failed'>();
  for (const task of world.plan.tasks) {
    const record = state?.tasks[task.id];
    const files = archiveOf(world, task);
    const queued = world.queueFiles('tasks').includes(`${task.id}.md`);
    const archived = record?.state === 'archived';
    if (!archived && files.length === 0) continue; // not finished: covered by "stuck"
    if (files.length !== 1 || queued || !archived) {
      const where = files.map((f) => `${f.folder}/${f.name}`).join(', ') || 'no archive';
      add(
        'archive',
        `${task.id}: ${files.length} archive file(s) (${where}), ${queued ? 'still in tasks/, ' : ''}store says ${record?.state ?? 'nothing'}${record?.archivedAs ? ` as ${record.archivedAs}` : ''}`,
      );
    } else if (record?.archivedAs !== `${files[0]!.folder}/${files[0]!.name}`) {
      add(
        'archive',
        `${task.id}: archived as ${files[0]!.folder}/${files[0]!.name} but the store says ${record?.archivedAs ?? 'nothing'}`,
      );
    }
    const file = files[0];
    if (!file) continue;
    const outcome = file.folder;
    outcomeOf.set(task.id, outcome);
    const text = readText(join(world.paths[file.folder], file.name));
    const attempts = task.attempts.map((id) => facts.get(id)!).filter((f) => f.record);
    const depFailed = task.dependsOn ? outcomeOf.get(task.dependsOn) === 'failed' : false;
    const reason = resultReason(text);

    if (outcome === 'done') {
      if (depFailed) add('wrong-outcome', `${task.id}: done, though its dependency ${task.dependsOn} failed`);
      const commit = record?.resultCommit;
      const winner = record?.resultBranch?.match(/^orchestra\/(task-\d+)\/a(\d+)$/);
      const winnerId = winner ? `${winner[1]}-a${winner[2]}` : undefined;
      if (!commit) add('done-invalid', `${task.id}: done without a result commit in the store`);
      else {
        const checked = checkCommit(world, commit, task);
        if (!checked.ok) {
          add(
            'done-invalid',
            `${task.id}: result ${commit.slice(0, 10)} fails \`${taskCheck(task).join(' ')}\`: ${checked.output.trim().split('\n').slice(-1)[0]}`,
          );
        }
        const w = winnerId ? facts.get(winnerId) : undefined;
        if (!w?.record || w.record.taskId !== task.id || w.record.commit !== commit) {
          add(
            'done-invalid',
            `${task.id}: result ${commit.slice(0, 10)} is not the kept commit of its winner ${winnerId ?? record?.resultBranch ?? '?'}`,
          );
        }
      }
      continue;
    }
    // failed
    if (task.dependsOn && depFailed) {
      if (!/dependency/i.test(reason))
        add(
          'wrong-reason',
          `${task.id}: its dependency ${task.dependsOn} failed, but the reason says "${reason}"`,
        );
      continue;
    }
    const unexcused = attempts.filter((f) => !excuse(f));
    const taskDisk = faults.diskFull.length > 0 && attempts.length === 0;
    // A failed task needs every attempt excused: one attempt without a cause should have passed.
    if (attempts.length === 0 ? !taskDisk : unexcused.length > 0) {
      const who = unexcused.map(
        (f) => `${f.id} ${f.record?.state}${f.record?.error ? ` (${f.record.error.slice(0, 100)})` : ''}`,
      );
      add(
        'wrong-outcome',
        `${task.id}: failed ("${reason.slice(0, 140)}") though ${attempts.length ? `nothing excuses ${who.join(', ')}` : 'no attempt ran and the disk was never full'}`,
      );
      continue;
    }
    if (task.strategy === 'single') {
      const only = attempts[0];
      if (
        only?.modelGaveUp &&
        !faults.killedPanes.has(only.id) &&
        !/model|api|overloaded|529|500/i.test(reason)
      ) {
        add(
          'wrong-reason',
          `${task.id}: failed because its agent gave up on model errors ("${only.giveUpReason.slice(0, 100)}"), but the reason says "${reason.slice(0, 140)}"`,
        );
      }
    }
  }

  // ---- tool calls ----------------------------------------------------------------------------
  const counts = new Map<string, number>();
  for (const line of world.effectLines()) counts.set(line, (counts.get(line) ?? 0) + 1);
  for (const [line, n] of counts) {
    if (n > 1)
      add(
        'tool-twice',
        `"${line}" ran ${n} times (scripted bash call ${line.split(' ').slice(1).join(' turn ')})`,
      );
  }

  // ---- the base branch -----------------------------------------------------------------------
  try {
    const chain = world.git('rev-list', '--first-parent', 'main').split('\n').filter(Boolean);
    for (const c of chain) {
      if (world.originals.has(c)) continue;
      const parents = world.git('rev-list', '--parents', '-n', '1', c).split(' ').slice(1);
      const subject = world.git('log', '-1', '--format=%s', c);
      const merge = /^orchestra: merge (task-\d+)/.exec(subject);
      const second = parents[1];
      const fromAttempt =
        second !== undefined &&
        world.git('branch', '--list', '--contains', second, 'orchestra/*').trim() !== '' &&
        merge !== null;
      if (parents.length !== 2 || !fromAttempt) {
        add(
          'base-history',
          `main has ${c.slice(0, 10)} "${subject}" (${parents.length} parent(s)), neither a commit of the harness nor an orchestra merge of an attempt branch`,
        );
      } else if (outcomeOf.get(merge![1]!) !== 'done' && world.plan.tasks.some((t) => t.id === merge![1])) {
        add('base-history', `main has the merge ${c.slice(0, 10)} of ${merge![1]}, which is not done`);
      }
    }
    for (const sha of world.originals) {
      if (!chain.includes(sha)) {
        try {
          world.git('merge-base', '--is-ancestor', sha, 'main');
        } catch {
          add('base-history', `the harness's commit ${sha.slice(0, 10)} is no longer on main`);
        }
      }
    }
  } catch (error) {
    add('base-history', `cannot read main: ${(error as Error).message.split('\n')[0]}`);
  }

  // ---- the server and what it left -----------------------------------------------------------
  // Crashes with the same error are one finding: a server started again on a full disk dies again.
  const crashes = new Map<string, Crash[]>();
  for (const crash of world.crashes) {
    const key = crashCause(crash.log).replace(/^error:/i, 'Error:');
    crashes.set(key, [...(crashes.get(key) ?? []), crash]);
  }
  for (const [cause, list] of crashes) {
    const first = list[0]!;
    add(
      'server-crash',
      `${list.length === 1 ? `server ${first.server} (pid ${first.pid}) exited by itself` : `${list.length} servers (${list.map((c) => c.server).join(', ')}) exited by themselves, first`} at +${(first.atMs / 1000).toFixed(1)}s (code ${first.code}, signal ${first.signal}): ${cause}`,
    );
  }
  for (const o of end.orphans) add('orphaned-attempt', `${o.detail}, at +${(o.atMs / 1000).toFixed(1)}s`);
  for (const o of end.observations)
    add(o.kind === 'server-hang-on-term' ? 'leftover-process' : 'server-unresponsive', o.detail);
  if (end.finalProbe) add('server-unresponsive', end.finalProbe);
  if (end.agentsAfterQueue.length) {
    add(
      'leftover-process',
      `${end.agentsAfterQueue.length} agent process(es) alive after the queue finished: ${describeProcs(end.agentsAfterQueue)}`,
    );
  }
  if (end.killServerHung) add('leftover-process', end.killServerHung);
  if (end.afterKillServer.length) {
    add(
      'leftover-process',
      `${end.afterKillServer.length} process(es) of the run alive after kill-server: ${describeProcs(end.afterKillServer)}`,
    );
  }
  if (end.containersAfterQueue.length) {
    add(
      'leftover-container',
      `${end.containersAfterQueue.length} container(s) of the session left after the queue finished: ${end.containersAfterQueue.join(', ')}`,
    );
  }

  // ---- the harness's own script --------------------------------------------------------------
  const outOfTurns = world.model.requests.filter(
    (r) => r.scenario === null && r.status === 500 && r.path === '/v1/messages',
  );
  if (outOfTurns.length)
    add(
      'harness',
      `${outOfTurns.length} model request(s) got no scripted turn (scenario ran out or none matched)`,
    );
  return broken;
}

/** The error a crashed server's log names, with the first frame in orchestra's own code. */
function crashCause(log: string): string {
  const lines = log.split('\n');
  const at = lines.findIndex((l) => /^\s*(\w*Error|Error)\b[^\n]*:/.test(l) || /Uncaught|ENOSPC/.test(l));
  if (at < 0)
    return (
      lines
        .filter((l) => l.trim())
        .slice(-1)[0]
        ?.trim()
        .slice(0, 200) ?? '(empty log)'
    );
  const frame = lines.slice(at + 1).find((l) => /\/dist\/|\/src\//.test(l));
  const where = frame ? ` ${frame.trim().replace(/\(file:\/\/\/?[^)]*\/(dist|src)\//, '($1/')}` : '';
  return `${lines[at]!.trim().slice(0, 160)}${where}`;
}
